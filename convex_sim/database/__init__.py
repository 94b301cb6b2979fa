"""An in-memory MVCC document store with an optimistic-concurrency committer.

* Every commit gets the next integer **commit timestamp**; each document keeps
  a chain of versions ``(ts, doc or None, size, keys)`` so a reader at
  timestamp ``T`` sees exactly what was committed at or before ``T``
  (snapshot isolation).
* Each index is a ``SortedList`` of keys, one per document and distinct key of
  its kept versions (``store``), so a range read is O(log n + k) in the rows it
  yields however many versions the documents have.
* A :class:`Transaction` reads its begin snapshot, buffers writes (visible to
  its own later reads, index scans included), and records its **read set as
  index ranges**. At commit, the committer checks that no write committed
  after the transaction began has an old or new index key inside one of those
  ranges; otherwise it raises :class:`WriteConflict` and the caller re-runs
  the transaction at a fresh snapshot.
* The committer keeps a **write log** (one :class:`Commit` per timestamp),
  which subscriptions and the explorer read, and which :meth:`Database.rewind`
  undoes to return to an earlier state without copying the store.
* History nobody can read any more (versions, index entries, log entries) is
  retired after commits; who pins history and what is kept is stated once, in
  ``history``.

Modules: ``keys`` (bounds, index keys), ``log`` (read sets, writes, commits),
``documents`` (document rules), ``store`` (a table's chains and indexes),
``history`` (pins and retirement), ``transaction``, ``core`` (the database).
"""

from ..errors import WriteConflict
from .core import (
    CREATION_TIME_STEP,
    FIRST_USER_TABLE_NUMBER,
    Database,
    DatabaseSnapshot,
    run_transaction,
)
from .history import History, HistoryRetiredError, Pin
from .keys import BOTTOM, FULL_RANGE, TOP, _Bound, field_value, index_key
from .log import Commit, Conflict, ReadRange, Write
from .store import _Table
from .transaction import Transaction

__all__ = [
    "BOTTOM", "CREATION_TIME_STEP", "FIRST_USER_TABLE_NUMBER", "FULL_RANGE", "TOP", "Commit",
    "Conflict", "Database", "DatabaseSnapshot", "History", "HistoryRetiredError", "Pin",
    "ReadRange", "Transaction", "Write", "WriteConflict", "_Bound", "_Table", "field_value",
    "index_key", "run_transaction",
]
