"""Sharing the equal parts of transaction records, so that long histories fit in memory.

A history of a few busy documents repeats itself: every transfer between two
accounts reads the same index ranges and writes the same documents with the
same index keys. Read back from a file, or recorded, each record holds its own
copies. :class:`Compactor` makes equal reads, writes and function names one
shared (immutable) object, which cuts a long history's memory several times
over without changing a single value.
"""

from __future__ import annotations

from typing import Any, TypeVar

from .model import TxnRecord

T = TypeVar("T")

#: The table of shared values is emptied when it reaches this many entries: bounded memory.
SHARED_LIMIT = 100_000


class Compactor:
    """Replaces parts of records by equal ones seen before (at most ``limit`` remembered)."""

    def __init__(self, limit: int = SHARED_LIMIT) -> None:
        # Invariant: every key maps to an equal value (itself, the first one seen).
        self._shared: dict[Any, Any] = {}
        self.limit = limit

    def share(self, value: T) -> T:
        """An object equal to ``value``: the first such one seen, or ``value`` itself."""
        try:
            found = self._shared.get(value)
        except TypeError:   # unhashable (a description object that is not a string, say)
            return value
        if found is not None:
            return found
        if len(self._shared) >= self.limit:
            self._shared.clear()
        self._shared[value] = value
        return value

    def compact(self, txn: TxnRecord) -> TxnRecord:
        """``txn`` with its function name, reads and writes shared (in place; equal values).
        Read versions are not: each commit makes new ones, so they rarely repeat."""
        share = self.share
        txn.function = share(txn.function)
        if txn.reads:
            txn.reads = share(tuple(share(r) for r in txn.reads))
        if txn.writes:
            txn.writes = share(tuple(share(w) for w in txn.writes))
        return txn
