"""One table's version chains and indexes, and what a database allocates."""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from operator import itemgetter

from sortedcontainers import SortedList

from ..ids import draw_batch, encode_drawn, encode_id, table_part
from ..schema import BUILTIN_INDEXES, TableDefinition
from ..values import RANK_STRING, UNDEFINED, sort_key
from .keys import field_value

#: A version of a document: ``(ts, doc or None if deleted, size in bytes, keys or None)``.
Version = tuple[int, dict | None, int, tuple | None]
_TS = itemgetter(0)


class _Table:
    """One table's documents (version chains, oldest first) and its indexes.

    A version's ``keys`` holds the document's key in each index, in
    ``index_names`` order (None if deleted). A key that did not change from
    one version to the next is the *same* tuple object, so most writes leave
    the indexes alone.

    Invariant: ``indexes[name]`` plus the keys waiting to enter it (its
    ``_unsorted`` list) hold exactly the distinct keys (per document) that the
    versions kept in ``versions`` have in that index — one entry for a document
    whose key never changed, however many versions it has. A read at timestamp
    T resolves each entry through the document's chain and keeps it only if
    the version visible at T has that key. A new document's keys wait unsorted
    until something reads or edits that index (:meth:`index`): a run of inserts
    enters an index in one sort instead of one insertion each.
    """

    __slots__ = ("_flat", "_key_getters", "_key_paths", "_paths_of", "_undefined", "_unsorted",
                 "definition", "id_part", "index_fields", "index_names", "index_position", "indexes",
                 "name", "number", "sorted_indexes", "versions")

    def __init__(self, name: str, number: int, definition: TableDefinition | None) -> None:
        self.name, self.number, self.definition = name, number, definition
        #: What encoding this table's IDs needs (``ids.table_part``; None: the general way).
        self.id_part = table_part(number) if number > 0 else None
        defs = definition.all_indexes() if definition else BUILTIN_INDEXES
        self.index_fields: dict[str, tuple[str, ...]] = {n: d.key_fields for n, d in defs.items()}
        self.index_names = tuple(self.index_fields)
        self.index_position = {n: i for i, n in enumerate(self.index_names)}
        self.indexes: dict[str, SortedList] = {n: SortedList() for n in defs}
        self.sorted_indexes = tuple(self.indexes[n] for n in self.index_names)
        self._unsorted: tuple[list[tuple], ...] = tuple([] for _ in self.index_names)
        self.versions: dict[str, list[Version]] = {}
        self._key_paths = tuple(dict.fromkeys(f for fields in self.index_fields.values() for f in fields))
        self._paths_of = tuple(self.index_fields.values())
        self._flat = all("." not in f for f in self._key_paths)
        self._undefined = (UNDEFINED,) * len(self._key_paths)
        # each index's key from the tuple of its fields' keys (in _key_paths order), in C
        self._key_getters = tuple(_tuple_getter([self._key_paths.index(f) for f in fields])
                                  for fields in self._paths_of)

    def visible(self, doc_id: str, ts: int) -> Version | None:
        """The version of ``doc_id`` a reader at ``ts`` sees, or None if none existed."""
        chain = self.versions.get(doc_id)
        if not chain:
            return None
        if chain[-1][0] <= ts:
            return chain[-1]
        at = bisect.bisect_right(chain, ts, key=_TS)
        return chain[at - 1] if at else None

    def at_key(self, key: tuple, position: int, ts: int) -> Version | None:
        """The version a reader at ``ts`` sees through the entry ``key`` of index ``position``:
        the document's visible version if it has that key there, else None (a stale entry)."""
        doc_id = key[-1][1]
        version = self.versions[doc_id][-1]
        if version[0] > ts:
            version = self.visible(doc_id, ts)  # type: ignore[assignment]
            if version is None:
                return None
        keys = version[3]
        if keys is not None and (keys[position] is key or keys[position] == key):
            return version
        return None

    def keys_of(self, doc: dict, old: dict | None = None, old_keys: tuple | None = None) -> tuple:
        """The document's key in each index, in ``index_names`` order.

        Given the previous version (``old`` and its ``old_keys``), a key whose
        fields hold the very same values is reused, and so is the whole tuple
        when no index key changed.
        """
        paths, flat = self._key_paths, self._flat   # flat: top-level fields only, plain lookups
        if old is None or old_keys is None:   # a new document: every field's key computed once
            if flat:   # strings (the ID and most key fields) without a call
                field_keys = tuple([(RANK_STRING, x) if type(x) is str else sort_key(x)
                                    for x in map(doc.get, paths, self._undefined)])
            else:
                field_keys = tuple([sort_key(field_value(doc, f)) for f in paths])
            return tuple([getter(field_keys) for getter in self._key_getters])
        if flat:
            get, old_get = doc.get, old.get
            for f in paths:   # the common case: no key field changed
                if get(f, UNDEFINED) is not old_get(f, UNDEFINED):
                    break
            else:
                return old_keys
            changed = {f for f in paths if get(f, UNDEFINED) is not old_get(f, UNDEFINED)}
        else:
            changed = {f for f in paths if field_value(doc, f) is not field_value(old, f)}
        if not changed:
            return old_keys
        field_keys = {f: sort_key(field_value(doc, f)) for f in changed}
        keys = []
        same = True
        for i, fields in enumerate(self._paths_of):
            if changed.isdisjoint(fields):
                keys.append(old_keys[i])
                continue
            key = tuple(field_keys[f] if f in field_keys else sort_key(field_value(doc, f))
                        for f in fields)
            if key == old_keys[i]:
                key = old_keys[i]
            else:
                same = False
            keys.append(key)
        return old_keys if same else tuple(keys)

    def index(self, position: int) -> SortedList:
        """The index at ``position`` (in ``index_names`` order), with every key in it."""
        entries = self.sorted_indexes[position]
        waiting = self._unsorted[position]
        if waiting:
            entries.update(waiting)
            waiting.clear()
        return entries

    def add(self, doc_id: str, version: Version, previous: Version | None) -> None:
        """Append ``version`` to the document's chain and index its new keys."""
        keys, old_keys = version[3], previous[3] if previous is not None else None
        if previous is None:
            self.versions[doc_id] = [version]
        else:
            self.versions[doc_id].append(version)
        if keys is None or keys is old_keys:
            return
        if old_keys is None:   # a new document: its keys are new (each holds its ID)
            for waiting, key in zip(self._unsorted, keys, strict=True):
                waiting.append(key)
            return
        for i, key in enumerate(keys):
            if key is not old_keys[i]:
                entries = self.index(i)
                if key not in entries:
                    entries.add(key)

    def unindex(self, gone: list[Version], kept: list[Version]) -> None:
        """Remove the index entries of versions leaving the chain (``kept`` is what remains)."""
        kept_ids = {id(v[3]) for v in kept if v[3] is not None}   # alive: kept holds them
        for version in gone:
            if version[3] is not None and id(version[3]) not in kept_ids:
                break
        else:
            return  # the common case: no indexed field changed
        kept_keys = [v[3] for v in kept if v[3] is not None]
        for i in range(len(self.sorted_indexes)):
            entries = self.index(i)
            keep = {keys[i] for keys in kept_keys}
            for version in gone:
                if version[3] is not None and (key := version[3][i]) not in keep:
                    keep.add(key)  # removed once, however many versions had it
                    entries.remove(key)


def _tuple_getter(positions: list[int]) -> Callable[[tuple], tuple]:
    """``f(t) == tuple(t[i] for i in positions)``, made of C callables."""
    if len(positions) == 1:
        return itemgetter(slice(positions[0], positions[0] + 1))   # a tuple's slice is a tuple
    return itemgetter(*positions)


class _Allocator:
    """What a database allocates: IDs (from a seeded generator, drawn a batch at a time),
    creation times, table numbers.

    IDs never collide: internal ids that documents written from outside (a loaded snapshot,
    imported rows) carry are *taken*, and a drawn internal id that is taken is skipped, in
    every table. The IDs of a fresh database are the seed's sequence; after documents came in
    from outside, the seed's sequence without the taken ones (so the same seed and the same
    loaded data give the same IDs)."""

    __slots__ = ("_drawn", "_next", "_raw", "_rng", "_taken", "last_creation_time",
                 "next_table_number", "seed")

    def __init__(self, seed: int, first_table_number: int) -> None:
        self.seed = seed
        self._rng: random.Random | None = None  # created on the first insert: cheap to construct
        # Invariant: _drawn[_next:] are the internal ids drawn from _rng and not yet used (their
        # bytes in _raw, see ids.draw_batch); neither is changed in place, so states share them.
        self._raw = b""
        self._drawn: list[tuple[str, int, int, int, int]] = []
        self._next = 0
        #: Internal ids taken by documents from outside, in the order they came (a state
        #: records how many there were; a restore drops the later ones).
        self._taken: dict[bytes, None] = {}
        self.last_creation_time: dict[str, float] = {}
        self.next_table_number = first_table_number

    def take(self, internal_id: bytes) -> None:
        """Mark ``internal_id`` (16 bytes) as used by a document this allocator did not draw."""
        self._taken.setdefault(internal_id)

    def new_id(self, table_number: int, part: tuple | None) -> str:
        """The next document ID of the table ``table_number`` (``part``: its ``table_part``)."""
        while True:
            at = self._next
            if at == len(self._drawn):
                if self._rng is None:
                    self._rng = random.Random(self.seed)
                self._raw, self._drawn = draw_batch(self._rng.getrandbits)
                at = 0
            self._next = at + 1
            if not self._taken or self._raw[16 * at:16 * at + 16][::-1] not in self._taken:
                break
        if part is not None:
            return encode_drawn(part, self._drawn[at])
        return encode_id(table_number, self._raw[16 * at:16 * at + 16][::-1])

    def state(self) -> tuple:
        rng = self._rng.getstate() if self._rng is not None else None
        return (rng, self._raw, self._drawn, self._next, dict(self.last_creation_time),
                self.next_table_number, len(self._taken))

    def restore(self, state: tuple) -> None:
        rng_state, self._raw, self._drawn, self._next, last, self.next_table_number, taken = state
        if rng_state is None:
            self._rng = None
        else:
            self._rng = self._rng or random.Random()
            self._rng.setstate(rng_state)
        self.last_creation_time = dict(last)
        while len(self._taken) > taken:
            self._taken.popitem()   # the newest first: dicts keep insertion order
