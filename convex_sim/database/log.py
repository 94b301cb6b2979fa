"""Read sets, writes and commits: what the committer checks and the write log keeps."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import NamedTuple


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
    description: object = ""   # a str, or an object formatting itself only when shown

    def contains(self, key: tuple) -> bool:
        return self.lo <= key <= self.hi

    def __str__(self) -> str:
        if self.description:
            return str(self.description)
        if self.index == "by_id" and len(self.lo) == 1:
            return f"{self.table} {self.lo[0][1]}"  # a point read: db.get(id)
        return f"{self.table}.{self.index}"


class Write(NamedTuple):
    """One document written by a commit: ``old``/``new`` are ``None`` for insert/delete.

    ``old_keys``/``new_keys`` are the document's key in each of the table's indexes
    (``index_names`` order) before and after, None where there is no document; ``keys``
    pairs them up per index."""

    table: str
    id: str
    old: dict | None
    new: dict | None
    index_names: tuple[str, ...]
    old_keys: tuple | None
    new_keys: tuple | None

    @property
    def kind(self) -> str:
        return "insert" if self.old is None else "delete" if self.new is None else "update"

    @property
    def keys(self) -> tuple[tuple[str, tuple | None, tuple | None], ...]:
        """``(index, old key, new key)`` for every index of the table."""
        return key_changes(self.index_names, self.old_keys, self.new_keys)

    def touches(self, read: ReadRange) -> bool:
        if read.table != self.table or read.index not in self.index_names:
            return False
        at = self.index_names.index(read.index)
        old_keys, new_keys = self.old_keys, self.new_keys
        return ((old_keys is not None and read.contains(old_keys[at]))
                or (new_keys is not None and read.contains(new_keys[at])))


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


#: ``Write`` and ``Commit`` from a tuple of their fields, without the Python-level ``__new__``
#: of a NamedTuple: what the committer builds each commit.
new_write = partial(tuple.__new__, Write)
new_commit = partial(tuple.__new__, Commit)


def key_changes(names: tuple[str, ...], old: tuple | None, new: tuple | None) -> tuple:
    """``(index, old key, new key)`` for every index of a written document."""
    if old is None:
        old = (None,) * len(names)
    if new is None:
        new = (None,) * len(names)
    return tuple(zip(names, old, new, strict=False))   # equal lengths: one key per index
