"""The history the checker reads: transactions, their key ranges read and documents written.

This module owns the checker's notion of keys and ranges. It shares no code
with the committer's conflict detection (``convex_sim.database``): a key is a
tuple compared element by element; a range's bound may end with :data:`HIGH`
or :data:`LOW`, an extreme sorting after (before) every key that shares the
bound's prefix. Keys come from the recorded write log as they are; nothing
here re-derives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConvexSimError


class HistoryError(ConvexSimError):
    """A history that cannot be checked: a duplicate transaction, a malformed line or field."""


class _Extreme:
    """A key element above (``HIGH``) or below (``LOW``) every other element."""

    __slots__ = ("_above", "name")

    def __init__(self, above: bool, name: str) -> None:
        self._above, self.name = above, name

    def __lt__(self, other: object) -> bool:
        return not self._above and other is not self

    def __gt__(self, other: object) -> bool:
        return self._above and other is not self

    def __le__(self, other: object) -> bool:
        return not self._above or other is self

    def __ge__(self, other: object) -> bool:
        return self._above or other is self

    def __repr__(self) -> str:
        return self.name


HIGH = _Extreme(True, "HIGH")
LOW = _Extreme(False, "LOW")

#: The commit timestamp recorded for a read of a document that had no version yet.
ABSENT = 0

#: What one read saw: ``(document ID, commit timestamp of the version)`` per document it
#: returned (a ``db.get``: the one document, :data:`ABSENT` if it had no version yet).
ReadVersions = tuple[tuple[str, int], ...]


def within(key: tuple, lo: tuple, hi: tuple) -> bool:
    """Whether ``key`` lies in ``[lo, hi]``: at or after ``lo`` and at or before ``hi``.

    Tuples compare element by element; a bound that is a proper prefix of
    ``key`` sorts before it, unless the bound's next element is :data:`HIGH`
    (which sorts after every element, :data:`LOW` before).
    """
    return lo <= key <= hi


@dataclass(frozen=True, slots=True)
class KeyRange:
    """Keys ``lo <= key <= hi`` of ``table.index`` that a transaction read (the bounds it
    actually consumed: a ``take(5)`` covers its five rows, not the whole index)."""

    table: str
    index: str
    lo: tuple
    hi: tuple
    description: object = ""   # shown in reports; a str, or an object formatting itself

    @property
    def is_point(self) -> bool:
        """A ``db.get``: one document's key in ``by_id``, the whole of it."""
        return self.index == "by_id" and len(self.hi) == len(self.lo) + 1 and self.hi[-1] is HIGH \
            and self.hi[:-1] == self.lo

    def covers(self, key: tuple | None) -> bool:
        return key is not None and self.lo <= key <= self.hi

    def __str__(self) -> str:
        if self.description:
            return str(self.description)
        if self.is_point:
            return f"{self.table} {show_key(self.lo)}"
        return f"{self.table}.{self.index} [{show_key(self.lo)} .. {show_key(self.hi)}]"


@dataclass(frozen=True, slots=True)
class DocWrite:
    """One document written: its key in each index before and after (None: absent).

    ``over`` names the transaction whose version this write replaced, when the
    recorder knows it; otherwise the version order is the commit order.
    """

    table: str
    id: str
    keys: tuple[tuple[str, tuple | None, tuple | None], ...]   # (index, old key, new key)
    over: int | None = None

    @property
    def kind(self) -> str:
        if not self.keys:
            return "write"
        _index, old, new = self.keys[0]
        return "insert" if old is None else "delete" if new is None else "update"

    def key_in(self, index: str, new: bool) -> tuple | None:
        """The document's key in ``index`` after (``new``) or before this write."""
        for name, old_key, new_key in self.keys:
            if name == index:
                return new_key if new else old_key
        return None

    def touches(self, read: KeyRange) -> bool:
        """Whether this write changes what ``read`` returns: its old or new key is inside."""
        if read.table != self.table:
            return False
        for name, old_key, new_key in self.keys:
            if name == read.index:
                return read.covers(old_key) or read.covers(new_key)
        return False


@dataclass(frozen=True, slots=True)
class VersionRead:
    """An observed version: ``table``/``id`` as transaction ``writer`` wrote it (its
    ``write``-th write of that document; -1, its last)."""

    table: str
    id: str
    writer: int
    write: int = -1


@dataclass(slots=True)
class TxnRecord:
    """One transaction: its snapshot (``begin``), its commit timestamp (None: aborted; a
    read-only transaction commits at ``begin``), what it read and what it wrote.

    ``versions`` pairs up with ``reads``: the versions each read saw, as the recorder
    captured them. A document a read does not list (a history without ``versions``, a
    document the read did not return, the transaction's own write) is taken at ``begin``.
    """

    id: int
    function: str
    begin: int
    commit: int | None
    reads: tuple[KeyRange, ...] = ()
    writes: tuple[DocWrite, ...] = ()
    observed: tuple[VersionRead, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)   # what a recorder adds (op letter, ...)
    versions: tuple[ReadVersions, ...] = ()   # beside each read (empty: none captured)

    @property
    def committed(self) -> bool:
        return self.commit is not None

    def label(self) -> str:
        when = f"snapshot {self.begin} → commit {self.commit}" if self.writes and self.commit is not None \
            else f"snapshot {self.begin}" if self.commit is not None else f"snapshot {self.begin}, aborted"
        op = self.extra.get("op")
        return f"T{self.id}{f' (op {op})' if op else ''} {self.function or '?'}  {when}"


def footprints_overlap(writes: tuple[DocWrite, ...] | list[DocWrite], other_writes: tuple[DocWrite, ...] | list[DocWrite],
                       other_reads: tuple[KeyRange, ...] | list[KeyRange]) -> bool:
    """Whether ``writes`` hit another step's footprint: a document it wrote, or a range it read.

    The explorer's partial-order reduction decides independence with this, so
    it never relies on the committer's own conflict code to decide what to skip.
    """
    if not writes:
        return False
    written = {(w.table, w.id) for w in other_writes}
    for write in writes:
        if (write.table, write.id) in written:
            return True
        for read in other_reads:
            if write.touches(read):
                return True
    return False


def show_key(key: tuple) -> str:
    """A key for people: each element's value (index keys hold ``(type rank, value)`` pairs)."""
    parts = []
    for element in key:
        if isinstance(element, _Extreme):
            parts.append("…" if element is HIGH else "")
        elif type(element) is tuple and len(element) == 2 and type(element[0]) is int:
            parts.append(_short(element[1]))
        elif type(element) is tuple and len(element) == 1:
            parts.append("null" if element[0] else "undefined")
        else:
            parts.append(_short(element))
    return ", ".join(p for p in parts if p) or "start"


def _short(value: Any) -> str:
    text = repr(value)
    if type(value) is str and len(value) > 12:
        text = repr(value[:8] + "…")
    return text if len(text) <= 40 else text[:39] + "…"
