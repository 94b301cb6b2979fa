"""An in-memory MVCC document store with an optimistic-concurrency committer.

* Every commit gets the next integer **commit timestamp**; each document keeps
  its versions ``[(ts, doc or None, size)]`` so a reader at timestamp ``T`` sees
  exactly what was committed at or before ``T`` (snapshot isolation).
* Each index is a ``SortedList`` of entries ``(*key, ts)``: one per document
  version, keyed by Convex's value order, so a range read is O(log n + k).
* A :class:`Transaction` reads its begin snapshot, buffers writes (visible to
  its own later reads, index scans included), and records its **read set as
  index ranges**. At commit, the committer checks that no write committed
  after the transaction began has an old or new index key inside one of those
  ranges; otherwise it raises :class:`WriteConflict` and the caller re-runs
  the transaction at a fresh snapshot.
* The committer keeps a **write log** (one :class:`Commit` per timestamp),
  which subscriptions and the explorer read, and which :meth:`Database.rewind`
  undoes to return to an earlier state without copying the store.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sortedcontainers import SortedList

from . import limits
from .clock import VirtualClock
from .errors import (
    ContentionError,
    InvalidIdError,
    InvalidValueError,
    TransactionClosedError,
    UnknownIndexError,
    UnknownTableError,
    ValidationError,
    WriteConflict,
    WriteInReadOnlyError,
)
from .ids import RANDOM_BYTES, decode_table_number, encode_id
from .schema import (
    BUILTIN_INDEXES,
    SYSTEM_FIELDS,
    SchemaDefinition,
    TableDefinition,
    check_identifier,
)
from .values import (
    UNDEFINED,
    check_value,
    copy_value,
    format_path,
    format_value,
    sort_key,
    value_size,
)

FIRST_USER_TABLE_NUMBER = 10_001
#: Smallest step between two ``_creationTime`` values of one table (ms, exact in binary).
CREATION_TIME_STEP = 1 / 1024


class _Bound:
    """A sentinel that sorts above (``TOP``) or below (``BOTTOM``) every key element."""

    __slots__ = ("_name", "_sign")

    def __init__(self, sign: int, name: str) -> None:
        self._sign, self._name = sign, name

    def __lt__(self, other: object) -> bool:
        return self._sign < 0 and other is not self

    def __gt__(self, other: object) -> bool:
        return self._sign > 0 and other is not self

    def __le__(self, other: object) -> bool:
        return self._sign < 0 or other is self

    def __ge__(self, other: object) -> bool:
        return self._sign > 0 or other is self

    def __repr__(self) -> str:
        return self._name


TOP = _Bound(1, "TOP")
BOTTOM = _Bound(-1, "BOTTOM")
FULL_RANGE: tuple[tuple, tuple] = ((), (TOP,))


def field_value(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted field path, or ``UNDEFINED`` when absent."""
    if "." not in path:
        return doc.get(path, UNDEFINED)
    value: Any = doc
    for part in path.split("."):
        if type(value) is not dict:
            return UNDEFINED
        value = value.get(part, UNDEFINED)
    return value


def index_key(doc: Mapping[str, Any], key_fields: tuple[str, ...]) -> tuple:
    """The key of ``doc`` in an index over ``key_fields``."""
    return tuple(sort_key(field_value(doc, f)) for f in key_fields)


# --- Read and write sets ---------------------------------------------------------------

@dataclass(slots=True)
class ReadRange:
    """One index range a transaction read: keys ``lo <= key <= hi`` of ``table.index``.

    ``hi`` (or ``lo`` for a descending scan) grows as a stream is consumed, so
    a ``take(5)`` records only the part of the range it actually read.
    """

    table: str
    index: str
    lo: tuple
    hi: tuple
    description: str = ""

    def contains(self, key: tuple) -> bool:
        return self.lo <= key <= self.hi

    def __str__(self) -> str:
        if self.description:
            return self.description
        if self.index == "by_id" and len(self.lo) == 1:
            return f"{self.table} {self.lo[0][1]}"  # a point read: db.get(id)
        return f"{self.table}.{self.index}"


class Write(NamedTuple):
    """One document written by a commit: ``old``/``new`` are ``None`` for insert/delete."""

    table: str
    id: str
    old: dict | None
    new: dict | None
    keys: tuple[tuple[str, tuple | None, tuple | None], ...]  # (index, old key, new key)

    @property
    def kind(self) -> str:
        return "insert" if self.old is None else "delete" if self.new is None else "update"

    def touches(self, read: ReadRange) -> bool:
        if read.table != self.table:
            return False
        for index, old_key, new_key in self.keys:
            if index == read.index and (
                    (old_key is not None and read.contains(old_key))
                    or (new_key is not None and read.contains(new_key))):
                return True
        return False


class Commit(NamedTuple):
    """The writes of one committed transaction, at timestamp ``ts``."""

    ts: int
    writes: tuple[Write, ...]
    function: str = ""


@dataclass(frozen=True)
class Conflict:
    """Why a commit failed: a concurrent ``write`` (committed at ``commit_ts``) hit ``read``."""

    read: ReadRange
    write: Write
    commit_ts: int
    function: str

    def __str__(self) -> str:
        return (f"{self.function or 'a transaction'} committed at ts {self.commit_ts} "
                f"({self.write.kind} of {self.write.table} {self.write.id}) inside the read range "
                f"{self.read}")


# --- The store -----------------------------------------------------------------------

class _Table:
    """One table's documents (version chains) and its indexes.

    A version is ``(ts, doc or None, size, keys)``: ``keys`` holds the
    document's key in each index, in ``index_names`` order (None if deleted).
    """

    __slots__ = ("_key_paths", "definition", "index_fields", "index_names", "indexes", "name",
                 "number", "versions")

    def __init__(self, name: str, number: int, definition: TableDefinition | None) -> None:
        self.name, self.number, self.definition = name, number, definition
        defs = definition.all_indexes() if definition else BUILTIN_INDEXES
        self.index_fields: dict[str, tuple[str, ...]] = {n: d.key_fields for n, d in defs.items()}
        self.index_names = tuple(self.index_fields)
        self.indexes: dict[str, SortedList] = {n: SortedList() for n in defs}
        self.versions: dict[str, list[tuple[int, dict | None, int, tuple | None]]] = {}
        self._key_paths = tuple(dict.fromkeys(f for fields in self.index_fields.values() for f in fields))

    def visible(self, doc_id: str, ts: int) -> tuple[int, dict | None, int, tuple | None] | None:
        """The version of ``doc_id`` a reader at ``ts`` sees, or None if none existed."""
        chain = self.versions.get(doc_id)
        if not chain:
            return None
        for version in reversed(chain):
            if version[0] <= ts:
                return version
        return None

    def keys_of(self, doc: dict) -> tuple:
        """The document's key in each index, in ``index_names`` order."""
        field_keys = {f: sort_key(field_value(doc, f)) for f in self._key_paths}
        return tuple(tuple(field_keys[f] for f in fields) for fields in self.index_fields.values())


class _Allocator:
    """What a database allocates: IDs (from a seeded generator), creation times, table numbers."""

    __slots__ = ("_rng", "last_creation_time", "next_table_number", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng: random.Random | None = None  # created on the first insert: cheap to construct
        self.last_creation_time: dict[str, float] = {}
        self.next_table_number = FIRST_USER_TABLE_NUMBER

    def random_bytes(self) -> bytes:
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng.getrandbits(RANDOM_BYTES * 8).to_bytes(RANDOM_BYTES, "big")

    def state(self) -> tuple:
        rng = self._rng.getstate() if self._rng is not None else None
        return (rng, dict(self.last_creation_time), self.next_table_number)

    def restore(self, state: tuple) -> None:
        rng_state, last, self.next_table_number = state
        if rng_state is None:
            self._rng = None
        else:
            self._rng = self._rng or random.Random()
            self._rng.setstate(rng_state)
        self.last_creation_time = dict(last)


@dataclass(frozen=True)
class DatabaseSnapshot:
    """A point to :meth:`Database.rewind` to: a commit timestamp plus allocator state."""

    ts: int
    allocator: tuple
    tables: tuple[str, ...]


class Database:
    """The MVCC store and its committer.

    ``schema`` may be None (any table name, documents unchecked).
    ``system_tables`` are tables whose names start with ``_`` (``_storage``, ...).
    """

    def __init__(self, schema: SchemaDefinition | None = None, *, seed: int = 0,
                 clock: VirtualClock | None = None,
                 system_tables: Mapping[str, TableDefinition] | None = None) -> None:
        self.schema = schema
        self.clock = clock or VirtualClock()
        self._alloc = _Allocator(seed)
        # Invariant: every table in _tables is in _declared; _names maps numbers back to names.
        self._declared: dict[str, tuple[int, TableDefinition | None]] = {}
        self._names: dict[int, str] = {}
        self._tables: dict[str, _Table] = {}   # materialized on first use
        self._id_tables: dict[str, str] = {}  # IDs this store allocated -> table (a decode cache)
        # Invariant: log[i].ts == log_ts[i], strictly increasing; latest_ts == log_ts[-1] or 0.
        self.log: list[Commit] = []
        self._log_ts: list[int] = []
        self.latest_ts = 0
        self.commit_listeners: list[Callable[[Commit], None]] = []
        for number, (name, definition) in enumerate((system_tables or {}).items(), start=1):
            self._declare(name, number, definition)
        if schema is not None:
            for name, definition in schema.tables.items():
                self._declare(name, self._alloc.next_table_number, definition)
                self._alloc.next_table_number += 1

    # -- tables ---------------------------------------------------------------------
    def _declare(self, name: str, number: int, definition: TableDefinition | None) -> None:
        self._declared[name] = (number, definition)
        self._names[number] = name

    def table_names(self) -> list[str]:
        return list(self._declared)

    def table(self, name: str, *, create: bool = False, function: str = "") -> _Table:
        """The table called ``name``; an unknown name is a clear error (or created, schemaless)."""
        table = self._tables.get(name)
        if table is not None:
            return table
        declared = self._declared.get(name)
        if declared is not None:
            table = self._tables[name] = _Table(name, *declared)
            return table
        if type(name) is not str:
            raise UnknownTableError(f"{_where(function)}table names are strings, got {name!r}")
        if self.schema is None and not name.startswith("_"):
            check_identifier(name, "table name")
            if not create:
                return _Table(name, -1, None)  # an empty table nobody has written yet
            self._declare(name, self._alloc.next_table_number, None)
            self._alloc.next_table_number += 1
            return self.table(name)
        known = ", ".join(n for n in self._declared if not n.startswith("_"))
        raise UnknownTableError(
            f'{_where(function)}table "{name}" is not declared in the schema (tables: {known}).')

    def table_of_id(self, doc_id: Any) -> str | None:
        """The name of the table ``doc_id`` belongs to, or None if it is not an ID here."""
        known = self._id_tables.get(doc_id) if type(doc_id) is str else None
        if known is not None:
            return known
        return self._names.get(decode_table_number(doc_id))  # type: ignore[arg-type]

    def index_fields(self, table: str, index: str, function: str = "") -> tuple[str, ...]:
        """The key fields of ``table.index`` (tie-breakers included)."""
        fields = self.table(table, function=function).index_fields.get(index)
        if fields is None:
            raise UnknownIndexError(
                f'{_where(function)}cannot use index "{index}" for table "{table}" because it '
                "is not declared in the schema.")
        return fields

    # -- transactions ---------------------------------------------------------------
    def begin(self, function: str = "", *, read_only: bool = False,
              at_ts: int | None = None) -> Transaction:
        """Start a transaction reading the snapshot at ``at_ts`` (default: the latest)."""
        ts = self.latest_ts if at_ts is None else at_ts
        return Transaction(self, ts, function, read_only)

    def commits_after(self, ts: int) -> list[Commit]:
        """The commits with a timestamp greater than ``ts``, oldest first."""
        return self.log[bisect.bisect_right(self._log_ts, ts):]

    def find_conflict(self, reads: list[ReadRange], since_ts: int) -> Conflict | None:
        """The first write committed after ``since_ts`` that falls inside ``reads``."""
        if not reads:
            return None
        by_table: dict[str, list[ReadRange]] = {}
        for read in reads:
            by_table.setdefault(read.table, []).append(read)
        for commit in self.commits_after(since_ts):
            for write in commit.writes:
                for read in by_table.get(write.table, ()):
                    if write.touches(read):
                        return Conflict(read, write, commit.ts, commit.function)
        return None

    def _apply(self, pending: dict[str, tuple[str, dict | None]], sizes: Mapping[str, int],
               function: str) -> Commit:
        ts = self.latest_ts + 1
        writes = []
        for doc_id, (table_name, new) in pending.items():
            table = self._tables.get(table_name) or self.table(table_name, create=True)
            previous = table.visible(doc_id, ts)
            old, old_keys = (previous[1], previous[3]) if previous else (None, None)
            if old is None and new is None:
                continue  # inserted and deleted within the transaction
            new_keys = table.keys_of(new) if new is not None else None
            table.versions.setdefault(doc_id, []).append((ts, new, sizes.get(doc_id, 0), new_keys))
            if new_keys is not None:
                for name, key in zip(table.index_names, new_keys, strict=True):
                    table.indexes[name].add((*key, ts))
            writes.append(Write(table_name, doc_id, old, new, _key_changes(table.index_names, old_keys, new_keys)))
        commit = Commit(ts, tuple(writes), function)
        self.log.append(commit)
        self._log_ts.append(ts)
        self.latest_ts = ts
        for listener in list(self.commit_listeners):
            listener(commit)
        return commit

    # -- snapshots ------------------------------------------------------------------
    def snapshot(self) -> DatabaseSnapshot:
        """A handle on the current state, to :meth:`rewind` to later."""
        return DatabaseSnapshot(self.latest_ts, self._alloc.state(), tuple(self._declared))

    def rewind(self, snap: DatabaseSnapshot) -> None:
        """Undo every commit after ``snap`` (newest first), restoring its exact state."""
        while self.log and self.log[-1].ts > snap.ts:
            commit = self.log.pop()
            self._log_ts.pop()
            for write in reversed(commit.writes):
                table = self._tables[write.table]
                chain = table.versions[write.id]
                chain.pop()
                if not chain:
                    del table.versions[write.id]
                for index, _old_key, new_key in write.keys:
                    if new_key is not None:
                        table.indexes[index].remove((*new_key, commit.ts))
        self.latest_ts = snap.ts
        self._alloc.restore(snap.allocator)
        for name in [n for n in self._declared if n not in snap.tables]:
            number, _definition = self._declared.pop(name)
            del self._names[number]
            self._tables.pop(name, None)

    # -- allocation -----------------------------------------------------------------
    def _new_id(self, table: _Table) -> str:
        doc_id = encode_id(table.number, self._alloc.random_bytes())
        self._id_tables[doc_id] = table.name
        return doc_id

    def _new_creation_time(self, table: str) -> float:
        last = self._alloc.last_creation_time.get(table, -math.inf)
        now = self.clock.now_ms
        created = now if now > last else last + CREATION_TIME_STEP
        if created <= last:
            created = math.nextafter(last, math.inf)
        self._alloc.last_creation_time[table] = created
        return created


def run_transaction(db: Database, body: Callable[[Transaction], Any], function: str = "", *,
                    max_retries: int = limits.MAX_OCC_RETRIES,
                    on_conflict: Callable[[Conflict, int], None] | None = None) -> tuple[Any, int]:
    """Run ``body(txn)`` and commit, re-running it at a fresh snapshot on conflict.

    Returns ``(result, commit_ts)``. After ``max_retries`` re-runs that all
    conflict, raises :class:`ContentionError` naming the function and the last
    conflict. ``on_conflict(conflict, attempt)`` observes each retry.
    """
    for attempt in range(max_retries + 1):
        txn = db.begin(function)
        try:
            result = body(txn)
            return result, txn.commit()
        except WriteConflict as exc:
            if on_conflict is not None:
                on_conflict(exc.conflict, attempt)
            last = exc.conflict
        finally:
            txn.abort()
    raise ContentionError(
        f"{function or 'A mutation'} failed after {max_retries + 1} attempts because of too much "
        f"contention: concurrent commits kept changing the data it read. Last conflict: {last}")


def _key_changes(names: tuple[str, ...], old: tuple | None, new: tuple | None) -> tuple:
    """``(index, old key, new key)`` for every index of a written document."""
    olds = old if old is not None else (None,) * len(names)
    news = new if new is not None else (None,) * len(names)
    return tuple(zip(names, olds, news, strict=True))


def _where(function: str) -> str:
    return f"In {function}: " if function else ""


# --- Transactions --------------------------------------------------------------------

class Transaction:
    """A snapshot read plus buffered writes; commit it with :meth:`commit`.

    Methods that return documents return copies: app code may mutate them.
    """

    def __init__(self, db: Database, begin_ts: int, function: str, read_only: bool) -> None:
        self.db = db
        self.begin_ts = begin_ts
        self.function = function or "<transaction>"
        self.read_only = read_only
        self.reads: list[ReadRange] = []
        # Invariant: pending maps each written ID to (table, latest buffered doc or None).
        self.pending: dict[str, tuple[str, dict | None]] = {}
        self._written_bytes: dict[str, int] = {}
        self.docs_read = self.bytes_read = self.ranges_read = self.bytes_written = 0
        self.commit_ts: int | None = None
        self.closed = False
        self.extras: dict[str, Any] = {}  # per-transaction state of the services above (counters)

    # -- reads ----------------------------------------------------------------------
    def get(self, doc_id: str, table: str | None = None) -> dict | None:
        """The document ``doc_id`` as this transaction sees it, or None."""
        doc = self._get_raw(doc_id, table)
        return copy_value(doc) if doc is not None else None

    def _get_raw(self, doc_id: Any, table: str | None = None) -> dict | None:
        self._check_open()
        table_name = self._table_of(doc_id, table, "db.get")
        key = (sort_key(doc_id),)
        self._record(ReadRange(table_name, "by_id", key, (*key, TOP)))
        if doc_id in self.pending:
            doc, size = self.pending[doc_id][1], self._written_bytes[doc_id]
        else:
            version = self.db.table(table_name).visible(doc_id, self.begin_ts)
            doc, size = (version[1], version[2]) if version else (None, 0)
        if doc is not None:
            self._count_read(size)
        return doc

    def scan(self, table: str, index: str, lo: tuple = (), hi: tuple = (TOP,),
             order: str = "asc", description: str = "") -> Iterator[dict]:
        """Stream the documents of ``table.index`` with ``lo <= key <= hi``, in ``order``.

        Yields the stored documents themselves (callers copy what they hand out).
        The read set records the range up to the last document consumed.
        """
        self._check_open()
        key_fields = self.db.index_fields(table, index, self.function)
        t = self.db.table(table, function=self.function)
        descending = order == "desc"
        read = ReadRange(table, index, lo, lo, description) if not descending else \
            ReadRange(table, index, hi, hi, description)
        self._record(read)
        snapshot = self._snapshot_stream(t, index, lo, hi, descending)
        overlay = self._pending_in_range(table, key_fields, lo, hi, descending)
        for key, doc, size in _merge(snapshot, overlay, descending):
            if descending:
                read.lo = key
            else:
                read.hi = key
            self._count_read(size)
            yield doc
        if descending:
            read.lo = lo
        else:
            read.hi = hi

    def _snapshot_stream(self, t: _Table, index: str, lo: tuple, hi: tuple,
                         descending: bool) -> Iterator[tuple[tuple, dict, int]]:
        ts, pending = self.begin_ts, self.pending
        versions = t.versions
        for entry in t.indexes[index].irange(lo, hi, reverse=descending):
            entry_ts = entry[-1]
            if entry_ts > ts:
                continue
            doc_id = entry[-2][1]
            if doc_id in pending:
                continue
            chain = versions[doc_id]
            version = chain[-1] if chain[-1][0] <= ts else t.visible(doc_id, ts)
            if version is not None and version[0] == entry_ts and version[1] is not None:
                yield entry[:-1], version[1], version[2]

    def _pending_in_range(self, table: str, key_fields: tuple[str, ...], lo: tuple, hi: tuple,
                          descending: bool) -> list[tuple[tuple, dict, int]]:
        found = []
        for doc_id, (doc_table, doc) in self.pending.items():
            if doc_table == table and doc is not None:
                key = index_key(doc, key_fields)
                if lo <= key <= hi:
                    found.append((key, doc, self._written_bytes[doc_id]))
        found.sort(key=lambda kd: kd[0], reverse=descending)
        return found

    def _record(self, read: ReadRange) -> None:
        self.ranges_read += 1
        if self.ranges_read > limits.MAX_INDEX_RANGES_READ:
            raise limits.exceeded("index ranges read", limits.MAX_INDEX_RANGES_READ,
                                  self.ranges_read, self.function)
        self.reads.append(read)

    def _count_read(self, size: int) -> None:
        self.docs_read += 1
        self.bytes_read += size
        if self.docs_read > limits.MAX_DOCUMENTS_READ:
            raise limits.exceeded("documents read", limits.MAX_DOCUMENTS_READ,
                                  self.docs_read, self.function)
        if self.bytes_read > limits.MAX_BYTES_READ:
            raise limits.exceeded("bytes read", limits.MAX_BYTES_READ, self.bytes_read, self.function)

    # -- writes ---------------------------------------------------------------------
    def insert(self, table: str, fields: Mapping[str, Any]) -> str:
        """Insert a new document into ``table`` and return its ID."""
        self._check_writable("db.insert")
        t = self.db.table(table, create=True, function=self.function)
        body, size = self._checked_fields(table, fields, "db.insert")
        doc_id = self.db._new_id(t)
        doc = {"_id": doc_id, "_creationTime": self.db._new_creation_time(table), **body}
        self._put(doc_id, table, doc, size)
        return doc_id

    def patch(self, doc_id: str, fields: Mapping[str, Any], table: str | None = None) -> None:
        """Shallow-merge ``fields`` into the document; a field set to ``UNDEFINED`` is removed."""
        table_name, current = self._updatable(doc_id, fields, table, "db.patch")
        merged = {k: x for k, x in current.items() if k not in SYSTEM_FIELDS}
        for name, value in fields.items():
            if name in SYSTEM_FIELDS:
                continue
            if value is UNDEFINED:
                merged.pop(name, None)
            else:
                merged[name] = value
        self._update(doc_id, table_name, current, merged, "db.patch")

    def replace(self, doc_id: str, fields: Mapping[str, Any], table: str | None = None) -> None:
        """Replace the document's fields with ``fields`` (system fields are kept)."""
        table_name, current = self._updatable(doc_id, fields, table, "db.replace")
        body = {k: x for k, x in fields.items() if k not in SYSTEM_FIELDS}
        self._update(doc_id, table_name, current, body, "db.replace")

    def _updatable(self, doc_id: Any, fields: Any, table: str | None, op: str) -> tuple[str, dict]:
        """Checks shared by patch and replace; returns the table and the current document."""
        self._check_writable(op)
        table_name, current = self._existing(doc_id, table, op)
        if not isinstance(fields, Mapping):
            raise InvalidValueError(f"In {self.function}: {op} expects a dict of fields, got {format_value(fields)}")
        self._check_system_fields(current, fields, op)
        return table_name, current

    def _update(self, doc_id: str, table: str, current: dict, fields: dict, op: str) -> None:
        body, size = self._checked_fields(table, fields, op)
        self._put(doc_id, table, {"_id": doc_id, "_creationTime": current["_creationTime"], **body}, size)

    def delete(self, doc_id: str, table: str | None = None) -> None:
        """Delete the document ``doc_id``."""
        self._check_writable("db.delete")
        table_name, _current = self._existing(doc_id, table, "db.delete")
        self._put(doc_id, table_name, None, 0)

    def _existing(self, doc_id: Any, table: str | None, op: str) -> tuple[str, dict]:
        table_name = self._table_of(doc_id, table, op)
        current = self._get_raw(doc_id, table_name)
        if current is None:
            raise InvalidIdError(f'In {self.function}: {op} on nonexistent document ID "{doc_id}"')
        return table_name, current

    def _put(self, doc_id: str, table: str, doc: dict | None, size: int) -> None:
        self.pending[doc_id] = (table, doc)
        self.bytes_written += size - self._written_bytes.get(doc_id, 0)
        self._written_bytes[doc_id] = size
        if len(self.pending) > limits.MAX_DOCUMENTS_WRITTEN:
            raise limits.exceeded("documents written", limits.MAX_DOCUMENTS_WRITTEN,
                                  len(self.pending), self.function)
        if self.bytes_written > limits.MAX_BYTES_WRITTEN:
            raise limits.exceeded("bytes written", limits.MAX_BYTES_WRITTEN,
                                  self.bytes_written, self.function)

    def _check_system_fields(self, current: dict, fields: Mapping[str, Any], op: str) -> None:
        for name in SYSTEM_FIELDS:
            if name in fields and fields[name] != current[name]:
                raise InvalidValueError(
                    f"In {self.function}: {op} cannot change the system field {name} "
                    f"(document has {format_value(current[name])}, got {format_value(fields[name])})")

    def _checked_fields(self, table: str, fields: Any, op: str) -> tuple[dict, int]:
        """Check document rules and the table's validator; return the fields, normalized, and
        the document's size in bytes (system fields included)."""
        if not isinstance(fields, Mapping):
            raise InvalidValueError(f"In {self.function}: {op} into \"{table}\" expects a dict of fields, got {format_value(fields)}")
        for name in fields:
            if type(name) is str and name.startswith("_") and fields[name] is not UNDEFINED:
                raise InvalidValueError(
                    f"In {self.function}: {op} into \"{table}\": field {name!r} starts with '_', "
                    "which is reserved for system fields.")
        try:
            body, size = _check_document(fields)
        except InvalidValueError as exc:
            raise InvalidValueError(f"In {self.function}: {op} into \"{table}\": {exc}") from None
        definition = self.db.table(table).definition
        schema = self.db.schema
        if definition is not None and (schema is None or schema.schema_validation or table.startswith("_")):
            try:
                body = definition.document.check(body, (), self.db.table_of_id)
            except ValidationError as exc:
                raise ValidationError(
                    f"In {self.function}: {op} into \"{table}\": Failed to insert or update a "
                    f"document in table \"{table}\" because it does not match the schema. {exc}"
                ) from None
        return body, size

    # -- savepoints and commit -----------------------------------------------------
    def savepoint(self) -> tuple:
        """A marker to :meth:`rollback_to` (nested mutations roll back on error)."""
        return (dict(self.pending), dict(self._written_bytes), self.bytes_written)

    def rollback_to(self, mark: tuple) -> None:
        pending, written, self.bytes_written = mark
        self.pending, self._written_bytes = dict(pending), dict(written)

    def conflict(self) -> Conflict | None:
        """The first concurrent commit that invalidates this transaction's reads, if any."""
        return self.db.find_conflict(self.reads, self.begin_ts)

    def commit(self) -> int:
        """Validate (OCC) and apply the buffered writes; return the commit timestamp.

        Raises :class:`WriteConflict` if a write committed after ``begin_ts``
        intersects the read set. A transaction with no writes commits at its
        begin timestamp: it is serializable there.
        """
        self._check_open()
        self.closed = True
        if not self.pending:
            self.commit_ts = self.begin_ts
            return self.begin_ts
        found = self.conflict()
        if found is not None:
            raise WriteConflict(
                f"{self.function}: optimistic concurrency conflict: {found}", found)
        commit = self.db._apply(self.pending, self._written_bytes, self.function)
        self.commit_ts = commit.ts
        return commit.ts

    def abort(self) -> None:
        self.closed = True

    # -- helpers --------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise TransactionClosedError(
                f"{self.function}: this transaction has already finished; a ctx must not be "
                "used after its function returns.")

    def _check_writable(self, op: str) -> None:
        self._check_open()
        if self.read_only:
            raise WriteInReadOnlyError(
                f"In {self.function}: {op} is not allowed in a query; queries are read-only. "
                "Use a mutation to write.")

    def _table_of(self, doc_id: Any, table: str | None, op: str) -> str:
        if type(doc_id) is not str:
            raise InvalidIdError(
                f"In {self.function}: {op} expects a document ID (str), got {format_value(doc_id)}")
        actual = self.db.table_of_id(doc_id)
        if actual is None:
            raise InvalidIdError(f'In {self.function}: {op}: "{doc_id}" is not a valid document ID.')
        if table is not None and actual != table:
            raise InvalidIdError(
                f'In {self.function}: {op}: ID "{doc_id}" is for table "{actual}", not "{table}".')
        return actual


def _merge(a: Iterator[tuple[tuple, dict, int]], b: list[tuple[tuple, dict, int]],
           descending: bool) -> Iterator[tuple[tuple, dict, int]]:
    """Merge two key-sorted streams (the snapshot and the transaction's own writes)."""
    if not b:
        yield from a
        return
    i = 0
    for item in a:
        while i < len(b) and ((b[i][0] > item[0]) if descending else (b[i][0] < item[0])):
            yield b[i]
            i += 1
        yield item
    yield from b[i:]


#: What ``_id`` and ``_creationTime`` add to a document's size.
_SYSTEM_FIELDS_SIZE = value_size({"_id": "x" * 32, "_creationTime": 0.0}) - value_size({})
_SCALARS = (bool, float, bytes, type(None))


def _check_document(body: Mapping[str, Any]) -> tuple[dict, int]:
    """Check a document body against Convex's value and per-document rules, in one pass.

    Returns the normalized body and the document's size in bytes (system
    fields included). Raises :class:`InvalidValueError` naming the field path.
    """
    if len(body) > limits.MAX_DOCUMENT_FIELDS:
        raise InvalidValueError(
            f"document has {len(body)} fields; the limit is {limits.MAX_DOCUMENT_FIELDS}.")
    doc, size, depth = _walk(body, ())
    size += _SYSTEM_FIELDS_SIZE
    if size > limits.MAX_DOCUMENT_BYTES:
        raise InvalidValueError(
            f"document is {size:,} bytes; the limit is {limits.MAX_DOCUMENT_BYTES:,} bytes (1 MiB).")
    if depth > limits.MAX_NESTING_DEPTH:
        raise InvalidValueError(
            f"document nests {depth} levels deep; the limit is {limits.MAX_NESTING_DEPTH}.")
    return doc, size


def _walk(value: Any, path: tuple) -> tuple[Any, int, int]:
    """(normalized value, size, nesting depth) of a value inside a document."""
    t = type(value)
    if t is str:
        return value, 2 + len(check_value(value, path).encode("utf-8")), 0
    if t is int:
        return check_value(value, path), 9, 0
    if t in _SCALARS:
        return value, value_size(value), 0
    if t is dict:
        out, size, depth = {}, 2, 0
        for name, item in value.items():
            if item is UNDEFINED:
                continue
            if type(name) is not str:
                raise InvalidValueError(f"object keys must be strings, got {name!r} at {format_path(path)}.")
            if name.startswith("$"):
                raise InvalidValueError(f"field name {name!r} at {format_path(path)} starts with '$'.")
            if len(name) > limits.MAX_FIELD_NAME_LENGTH:
                raise InvalidValueError(
                    f"field name {name[:20]!r}... at {format_path(path)} is {len(name)} characters; "
                    f"the limit is {limits.MAX_FIELD_NAME_LENGTH}.")
            out[name], item_size, item_depth = _walk(item, (*path, name))
            size += len(name) + 1 + item_size
            depth = max(depth, item_depth)
        return out, size, depth + 1
    if t is list or t is tuple:
        if len(value) > limits.MAX_ARRAY_LENGTH:
            raise InvalidValueError(
                f"array at {format_path(path)} has {len(value)} elements; the limit is "
                f"{limits.MAX_ARRAY_LENGTH}.")
        items, size, depth = [], 2, 0
        for i, item in enumerate(value):
            normalized, item_size, item_depth = _walk(item, (*path, i))
            items.append(normalized)
            size += item_size
            depth = max(depth, item_depth)
        return items, size, depth + 1
    return check_value(value, path), 0, 0  # raises: not a Convex value
