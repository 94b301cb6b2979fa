"""The database: tables, the committer, the write log, snapshots and rewind."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import limits
from ..clock import VirtualClock
from ..errors import ContentionError, UnknownIndexError, UnknownTableError, WriteConflict
from ..ids import decode_id, decode_table_number
from ..schema import SchemaDefinition, TableDefinition, check_identifier
from .history import History, Pin
from .log import Commit, Conflict, ReadRange, new_commit, new_write
from .store import _Allocator, _Table
from .transaction import Transaction

FIRST_USER_TABLE_NUMBER = 10_001
#: Smallest step between two ``_creationTime`` values of one table (ms, exact in binary).
CREATION_TIME_STEP = 1 / 1024


@dataclass(frozen=True)
class DatabaseSnapshot:
    """A point to :meth:`Database.rewind` to: a commit timestamp plus allocator state."""

    ts: int
    allocator: tuple
    tables: tuple[str, ...]
    #: Keeps the history this snapshot needs for as long as the snapshot lives.
    pin: Pin | None = field(default=None, compare=False, repr=False)


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
        #: What every transaction may use (ConvexSim's ``transaction_limits``).
        self.limits = limits.TransactionLimits.of(None)
        self._alloc = _Allocator(seed, FIRST_USER_TABLE_NUMBER)
        # Invariant: every table in _tables is in _declared; _names maps numbers back to names.
        self._declared: dict[str, tuple[int, TableDefinition | None]] = {}
        self._names: dict[int, str] = {}
        self._tables: dict[str, _Table] = {}   # materialized on first use
        self._id_tables: dict[str, str] = {}  # IDs this store allocated -> table (a decode cache)
        # Invariant: log[i].ts == log_ts[i], strictly increasing, ending at latest_ts unless
        # empty; it holds every commit after the history horizon (see history.py).
        self.log: list[Commit] = []
        self._log_ts: list[int] = []
        self.latest_ts = 0
        self.history = History(self._tables, self.log, self._log_ts, self._id_tables)
        self.commit_listeners: list[Callable[[Commit], None]] = []
        #: Called with each transaction that commits and its Commit (None for a read-only one,
        #: which commits at its begin timestamp): what a history recorder hooks into.
        self.transaction_listeners: list[Callable[[Transaction, Commit | None], None]] = []
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

    def declare_table(self, name: str, definition: TableDefinition | None) -> None:
        """Declare one more table (a component's, under its namespace ``"<path>/<table>"``)."""
        if name in self._declared:
            raise UnknownTableError(f'table "{name}" is declared twice.')
        self._declare(name, self._alloc.next_table_number, definition)
        self._alloc.next_table_number += 1

    def id_tables_for(self, namespace: str) -> Callable[[Any], str | None]:
        """``table_of_id`` as code of the app (``""``) or a component (its path) sees it: its
        own tables by their local names, anyone else's by a name no validator accepts."""
        if not namespace:
            return self.table_of_id
        prefix = namespace + "/"

        def local(doc_id: Any) -> str | None:
            table = self.table_of_id(doc_id)
            if table is None or (table.startswith("_") and prefix + table not in self._declared):
                return table   # a system table the namespace shares (it has no own copy)
            if table.startswith(prefix) and "/" not in table[len(prefix):]:
                return table[len(prefix):]
            return f"{table} (not in component {namespace!r})"

        return local

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
        if self.schema is None and not name.startswith("_") and "/" not in name:
            check_identifier(name, "table name")
            if not create:
                return _Table(name, -1, None)  # an empty table nobody has written yet
            self._declare(name, self._alloc.next_table_number, None)
            self._alloc.next_table_number += 1
            return self.table(name)
        namespace, _, local = name.rpartition("/")   # a component's tables: "<path>/<table>"
        known = ", ".join(n.rpartition("/")[2] for n in self._declared
                          if not n.rpartition("/")[2].startswith("_") and n.rpartition("/")[0] == namespace)
        whose = f" of component {namespace!r}" if namespace else ""
        raise UnknownTableError(
            f'{_where(function)}table "{local}" is not declared in the schema{whose} (tables: {known}).')

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
        if ts < self.history.log_start(self.latest_ts):
            self.history.check_readable(ts, "commits_after")   # commit ts + 1 may be gone
        return self.log[bisect.bisect_right(self._log_ts, ts):]

    def find_conflict(self, reads: list[ReadRange], since_ts: int) -> Conflict | None:
        """The first write committed after ``since_ts`` that falls inside ``reads``."""
        if not reads or since_ts >= self.latest_ts:   # nothing committed since it began
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
        superseded = self.history.superseded
        tables = self._tables
        for doc_id, (table_name, new) in pending.items():
            table = tables.get(table_name) or self.table(table_name, create=True)
            chain = table.versions.get(doc_id)
            if chain:
                previous = chain[-1]
                old, old_keys = previous[1], previous[3]
            else:
                previous = old = old_keys = None
            if old is None and new is None:
                continue  # inserted and deleted within the transaction
            new_keys = table.keys_of(new, old, old_keys) if new is not None else None
            table.add(doc_id, (ts, new, sizes.get(doc_id, 0), new_keys), previous)
            if previous is not None:
                superseded.append((ts, table_name, doc_id))
            writes.append(new_write((table_name, doc_id, old, new, table.index_names, old_keys, new_keys)))
        commit = new_commit((ts, tuple(writes), function))
        self.log.append(commit)
        self._log_ts.append(ts)
        self.latest_ts = ts
        if self.commit_listeners:
            for listener in list(self.commit_listeners):
                listener(commit)
        self.history.after_commit(ts)
        return commit

    # -- snapshots and history --------------------------------------------------------
    def snapshot(self) -> DatabaseSnapshot:
        """A handle on the current state, to :meth:`rewind` to later; the history a rewind
        needs is kept for as long as the snapshot lives."""
        ts = self.latest_ts
        return DatabaseSnapshot(ts, self._alloc.state(), tuple(self._declared), self.history.pin(ts))

    def rewind(self, snap: DatabaseSnapshot) -> None:
        """Undo every commit after ``snap`` (newest first), restoring its exact state."""
        self.history.check_readable(snap.ts, "rewind")
        while self.log and self.log[-1].ts > snap.ts:
            commit = self.log.pop()
            self._log_ts.pop()
            for write in reversed(commit.writes):
                table = self._tables[write.table]
                chain = table.versions[write.id]
                undone = chain.pop()
                table.unindex([undone], chain)
                if not chain:
                    del table.versions[write.id]
        self.history.rewound(snap.ts)
        self.latest_ts = snap.ts
        self._alloc.restore(snap.allocator)
        for name in [n for n in self._declared if n not in snap.tables]:
            number, _definition = self._declared.pop(name)
            del self._names[number]
            self._tables.pop(name, None)

    def pin(self, ts: int | None = None, what: str = "") -> Pin:
        """Keep the state at ``ts`` (default: the latest) readable until the pin is released."""
        return self.history.pin(self.latest_ts if ts is None else ts, what)

    def collect_history(self) -> int:
        """Retire now every version no reader can see (commits do it in batches); return how
        many versions were retired."""
        return self.history.collect(self.latest_ts)

    # -- allocation -----------------------------------------------------------------
    def _new_id(self, table: _Table) -> str:
        doc_id = self._alloc.new_id(table.number, table.id_part)
        self._id_tables[doc_id] = table.name
        return doc_id

    def _take_id(self, doc_id: str, table: str) -> None:
        """File ``doc_id`` (a document written from outside: a snapshot, an import) under
        ``table``; the allocator never draws its internal id."""
        decoded = decode_id(doc_id)
        if decoded is not None:
            self._alloc.take(decoded[1])
        self._id_tables[doc_id] = table

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


def _where(function: str) -> str:
    return f"In {function}: " if function else ""
