"""Recording a history from a running database, through its transaction listeners."""

from __future__ import annotations

import json
import os
from typing import Any

from ..database import BOTTOM, TOP, Commit, Database, ReadRange, Transaction
from .check import HistoryReport, check_history
from .compact import Compactor
from .jsonl import dump_history, read_history, to_json
from .model import HIGH, LOW, DocWrite, HistoryError, KeyRange, ReadVersions, TxnRecord

#: How many records a streaming recorder holds before writing them out.
STREAM_BUFFER = 1_000


def key_range(read: ReadRange) -> KeyRange:
    """The checker's copy of a read set entry (the store's bound markers become ``HIGH``/``LOW``)."""
    return KeyRange(read.table, read.index, _bound(read.lo), _bound(read.hi), read.description)


def doc_writes(commit: Commit | None) -> tuple[DocWrite, ...]:
    """The checker's copy of a commit's writes (their old and new index keys, as logged)."""
    if commit is None:
        return ()
    return tuple(DocWrite(w.table, w.id, w.keys) for w in commit.writes)


def read_versions(txn: Transaction) -> tuple[ReadVersions, ...]:
    """The versions each read of ``txn`` saw, as the transaction captured them while reading
    (beside its reads); empty if it captured none, or if they do not pair up with the reads."""
    captured = txn.read_versions
    if len(captured) != len(txn.reads) or not any(captured):
        return ()
    return tuple([tuple(seen) for seen in captured])


def _bound(bound: tuple) -> tuple:
    if bound and (bound[-1] is TOP or bound[-1] is BOTTOM):
        return (*bound[:-1], HIGH if bound[-1] is TOP else LOW)
    return bound


class HistoryRecorder:
    """Records every transaction that commits in ``db`` (read-only ones included) until
    :meth:`stop`; :meth:`check` runs :func:`~convex_sim.checker.check_history` on them.

    Queries, which never commit, are not recorded unless passed to :meth:`add`.

    In memory (the default) ``transactions`` keeps every record, so memory grows with the
    run (equal reads and writes are shared between records, which slows that growth). With ``path``, records stream to that JSON Lines history file (docs/checking.md)
    as they are made: ``transactions`` holds only the at most ``buffer`` records not yet
    written, ``recorded`` counts them all, and :meth:`check` reads the file back.
    """

    def __init__(self, db: Database, *, start: bool = True, path: str | os.PathLike[str] | None = None,
                 buffer: int = STREAM_BUFFER) -> None:
        if type(buffer) is not int or buffer < 1:
            raise HistoryError(f"HistoryRecorder: buffer must be an int >= 1, got {buffer!r}")
        self.db = db
        #: The records kept in memory: all of them, or (streaming) those not yet written.
        self.transactions: list[TxnRecord] = []
        #: Every record made since the start (or the last :meth:`clear`).
        self.recorded = 0
        #: Added to every record's ``extra`` (the explorer sets the op being run).
        self.context: dict[str, Any] = {}
        self.path = os.fspath(path) if path is not None else None
        self.buffer = buffer
        self._compactor = Compactor() if self.path is None else None   # kept records share equal parts
        if self.path is not None:
            dump_history((), self.path)   # the header; records are appended as they come
        if start:
            self.start()

    def start(self) -> None:
        """Listen to the database (idempotent)."""
        if self._on_commit not in self.db.transaction_listeners:
            self.db.transaction_listeners.append(self._on_commit)

    def stop(self) -> None:
        """Stop listening (idempotent) and write out what is buffered; what was recorded stays."""
        if self._on_commit in self.db.transaction_listeners:
            self.db.transaction_listeners.remove(self._on_commit)
        self.flush()

    def clear(self) -> None:
        """Forget every record (a streaming recorder's file is emptied to its header)."""
        self.transactions.clear()
        self.recorded = 0
        if self.path is not None:
            dump_history((), self.path)

    def flush(self) -> None:
        """Append the buffered records to the file (streaming only; otherwise nothing to do)."""
        if self.path is None or not self.transactions:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(to_json(t), sort_keys=True, separators=(",", ":")) + "\n"
                              for t in self.transactions)
        self.transactions.clear()

    def _on_commit(self, txn: Transaction, commit: Commit | None) -> None:
        self.add(txn, commit)

    def add(self, txn: Transaction, commit: Commit | None = None) -> TxnRecord:
        """Record ``txn``: committed with ``commit``, or read-only (at its snapshot) if None."""
        self.recorded += 1
        record = TxnRecord(self.recorded, txn.function, txn.begin_ts,
                           commit.ts if commit is not None else txn.begin_ts,
                           tuple(key_range(r) for r in txn.reads), doc_writes(commit),
                           extra=dict(self.context) if self.context else {}, versions=read_versions(txn))
        if self._compactor is not None:
            record = self._compactor.compact(record)
        self.transactions.append(record)
        if self.path is not None and len(self.transactions) >= self.buffer:
            self.flush()
        return record

    def check(self) -> HistoryReport:
        """Check what was recorded so far (streaming: everything written to the file)."""
        if self.path is None:
            return check_history(self.transactions)
        self.flush()
        with open(self.path, "rb") as handle:
            return check_history(read_history(handle, self.path))
