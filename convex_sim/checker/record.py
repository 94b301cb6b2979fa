"""Recording a history from a running database, through its transaction listeners."""

from __future__ import annotations

from typing import Any

from ..database import BOTTOM, TOP, Commit, Database, ReadRange, Transaction
from .check import HistoryReport, check_history
from .model import HIGH, LOW, DocWrite, KeyRange, TxnRecord


def key_range(read: ReadRange) -> KeyRange:
    """The checker's copy of a read set entry (the store's bound markers become ``HIGH``/``LOW``)."""
    return KeyRange(read.table, read.index, _bound(read.lo), _bound(read.hi), read.description)


def doc_writes(commit: Commit | None) -> tuple[DocWrite, ...]:
    """The checker's copy of a commit's writes (their old and new index keys, as logged)."""
    if commit is None:
        return ()
    return tuple(DocWrite(w.table, w.id, w.keys) for w in commit.writes)


def _bound(bound: tuple) -> tuple:
    if bound and (bound[-1] is TOP or bound[-1] is BOTTOM):
        return (*bound[:-1], HIGH if bound[-1] is TOP else LOW)
    return bound


class HistoryRecorder:
    """Records every transaction that commits in ``db`` (read-only ones included) until
    :meth:`stop`; :meth:`check` runs :func:`~convex_sim.checker.check_history` on them.

    Queries, which never commit, are not recorded unless passed to :meth:`add`.
    """

    def __init__(self, db: Database, *, start: bool = True) -> None:
        self.db = db
        self.transactions: list[TxnRecord] = []
        #: Added to every record's ``extra`` (the explorer sets the op being run).
        self.context: dict[str, Any] = {}
        if start:
            self.start()

    def start(self) -> None:
        """Listen to the database (idempotent)."""
        if self._on_commit not in self.db.transaction_listeners:
            self.db.transaction_listeners.append(self._on_commit)

    def stop(self) -> None:
        """Stop listening (idempotent); what was recorded stays."""
        if self._on_commit in self.db.transaction_listeners:
            self.db.transaction_listeners.remove(self._on_commit)

    def clear(self) -> None:
        self.transactions.clear()

    def _on_commit(self, txn: Transaction, commit: Commit | None) -> None:
        self.add(txn, commit)

    def add(self, txn: Transaction, commit: Commit | None = None) -> TxnRecord:
        """Record ``txn``: committed with ``commit``, or read-only (at its snapshot) if None."""
        record = TxnRecord(len(self.transactions) + 1, txn.function, txn.begin_ts,
                           commit.ts if commit is not None else txn.begin_ts,
                           tuple(key_range(r) for r in txn.reads), doc_writes(commit),
                           extra=dict(self.context) if self.context else {})
        self.transactions.append(record)
        return record

    def check(self) -> HistoryReport:
        """Check what was recorded so far."""
        return check_history(self.transactions)
