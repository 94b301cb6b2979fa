"""Transactions: a snapshot read with a read set of index ranges, plus buffered writes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import (
    InvalidIdError,
    InvalidValueError,
    TransactionClosedError,
    ValidationError,
    WriteConflict,
    WriteInReadOnlyError,
)
from ..schema import SYSTEM_FIELDS
from ..values import UNDEFINED, copy_value, format_value, resolve_commit_ts, sort_key
from .documents import check_document, check_flat_document
from .keys import TOP, in_bounds, index_key, key_bounds
from .log import Conflict, ReadRange
from .store import _Table

if TYPE_CHECKING:
    from .core import Database

#: The version a read of a document that had none saw (commit timestamps start at 1).
NO_VERSION = 0


class Transaction:
    """A snapshot read plus buffered writes; commit it with :meth:`commit`.

    Methods that return documents return copies: app code may mutate them.
    """

    __slots__ = ("_history", "_written_bytes", "begin_ts", "bytes_read", "bytes_written", "closed",
                 "commit_ts", "db", "docs_read", "extras", "function", "limits", "pending",
                 "ranges_read", "read_only", "read_versions", "reads", "tables")

    def __init__(self, db: Database, begin_ts: int, function: str, read_only: bool) -> None:
        self.closed = True   # until its snapshot is held
        self.db = db
        #: The store's tables by name (``db.table`` makes or refuses one not there yet).
        self.tables = db._tables
        self.begin_ts = begin_ts
        self.function = function or "<transaction>"
        self.read_only = read_only
        self.reads: list[ReadRange] = []
        #: Beside each read (same position), the stored versions it saw, captured as it read:
        #: ``(document ID, commit timestamp of the version)`` pairs (``NO_VERSION``: none yet;
        #: a deletion is a version); the transaction's own buffered writes are not listed.
        self.read_versions: list[tuple[tuple[str, int], ...] | list[tuple[str, int]]] = []
        # Invariant: pending maps each written ID to (table, latest buffered doc or None).
        self.pending: dict[str, tuple[str, dict | None]] = {}
        self._written_bytes: dict[str, int] = {}
        self.docs_read = self.bytes_read = self.ranges_read = self.bytes_written = 0
        self.commit_ts: int | None = None
        history = self._history = db.history
        if begin_ts < history.floor:
            history.check_readable(begin_ts, self.function)
        history.hold(begin_ts)   # dropped when the transaction ends (abort, commit, or __del__)
        self.closed = False
        self.extras: dict[str, Any] = {}  # per-transaction state of the services above (counters)
        self.limits: limits.TransactionLimits = db.limits  # a nested call may tighten them

    # -- reads ----------------------------------------------------------------------
    def get(self, doc_id: str, table: str | None = None) -> dict | None:
        """The document ``doc_id`` as this transaction sees it, or None."""
        doc = self._get_raw(doc_id, table)
        return copy_value(doc) if doc is not None else None

    def _get_raw(self, doc_id: Any, table: str | None = None, resolved: str | None = None) -> dict | None:
        """The stored document (not a copy); ``resolved``: the table, already checked."""
        if self.closed:
            self._check_open()
        table_name = resolved or self._table_of(doc_id, table, "db.get")
        key = (sort_key(doc_id),)
        read = ReadRange(table_name, "by_id", key, (*key, TOP))
        if doc_id in self.pending:
            self._record(read, ())
            doc, size = self.pending[doc_id][1], self._written_bytes[doc_id]
        else:
            t = self.tables.get(table_name) or self.db.table(table_name)
            version = t.visible(doc_id, self.begin_ts)
            self._record(read, ((doc_id, NO_VERSION if version is None else version[0]),))
            if version is None:
                return None
            doc, size = version[1], version[2]
        if doc is not None:
            self._count_read(size)
        return doc

    def scan(self, table: str, index: str, lo: tuple = (), hi: tuple = (TOP,),
             order: str = "asc", description: object = "") -> Iterator[dict]:
        """Stream the documents of ``table.index`` with ``lo <= key <= hi``, in ``order``.

        Yields the stored documents themselves (callers copy what they hand out).
        The read set records the range up to the last document consumed.
        """
        if self.closed:
            self._check_open()
        t, key_fields, descending, read, seen = self._open_range(table, index, lo, hi, order, description)
        bounds = key_bounds(lo, hi, len(key_fields))
        snapshot = self._snapshot_stream(t, index, bounds, descending)
        overlay = self._pending_in_range(table, key_fields, bounds, descending) if self.pending else None
        for key, doc, size, ts in _merge(snapshot, overlay, descending) if overlay else snapshot:
            if self.closed:
                self._check_open()
            if descending:
                read.lo = key
            else:
                read.hi = key
            if ts is not None:   # a stored version (not one of this transaction's writes)
                seen.append((key[-1][1], ts))
            self._count_read(size)
            yield doc
        if descending:
            read.lo = lo
        else:
            read.hi = hi

    def read(self, table: str, index: str, lo: tuple, hi: tuple, order: str, description: object,
             limit: int) -> list[dict]:
        """The first ``limit`` documents :meth:`scan` would stream, as a list, with the same
        reads recorded: what ``take``, ``first`` and ``unique`` need, without streams.
        ``limit`` 0 reads nothing."""
        if self.closed:
            self._check_open()
        docs: list[dict] = []
        if limit <= 0:
            return docs
        if self.pending:
            for doc in self.scan(table, index, lo, hi, order, description):
                docs.append(doc)
                if len(docs) == limit:
                    break
            return docs
        t, key_fields, descending, read, seen = self._open_range(table, index, lo, hi, order, description)
        ts, position = self.begin_ts, t.index_position[index]
        for key in t.index(position).irange(*key_bounds(lo, hi, len(key_fields)), reverse=descending):
            version = t.at_key(key, position, ts)
            if version is not None:
                if descending:
                    read.lo = key
                else:
                    read.hi = key
                seen.append((key[-1][1], version[0]))
                self._count_read(version[2])
                docs.append(version[1])  # type: ignore[arg-type]
                if len(docs) == limit:
                    return docs
        if descending:
            read.lo = lo
        else:
            read.hi = hi
        return docs

    def _open_range(self, table: str, index: str, lo: tuple, hi: tuple, order: str,
                    description: object) -> tuple[_Table, tuple[str, ...], bool, ReadRange,
                                                  list[tuple[str, int]]]:
        """Start reading a range: the table, the index's key fields, whether descending, the
        read recorded (empty at the end it starts from; the reader widens it) and the list of
        versions it saw (the reader appends each stored document it returns)."""
        t = self.tables.get(table) or self.db.table(table, function=self.function)
        key_fields = t.index_fields.get(index) or self.db.index_fields(table, index, self.function)
        descending = order == "desc"
        read = ReadRange(table, index, hi, hi, description) if descending else \
            ReadRange(table, index, lo, lo, description)
        seen: list[tuple[str, int]] = []
        self._record(read, seen)
        return t, key_fields, descending, read, seen

    def count(self, table: str) -> int:
        """How many documents ``table`` holds, this transaction's writes included.

        As Convex's ``1.0/count`` (convex-backend ``TableModel::count_tablet``): the whole
        table becomes a read dependency (one index range), but no document counts as read.
        """
        if self.closed:
            self._check_open()
        t = self.db.table(table, function=self.function)
        self._record(ReadRange(table, "by_id", (), (TOP,), f"{table} (count)"), ())
        ts, pending = self.begin_ts, self.pending
        total = 0
        for doc_id in t.versions:
            if doc_id not in pending:
                version = t.visible(doc_id, ts)
                total += version is not None and version[1] is not None
        return total + sum(1 for doc_table, doc in pending.values() if doc_table == table and doc is not None)

    def _snapshot_stream(self, t: _Table, index: str, bounds: tuple[tuple, tuple, tuple[bool, bool]],
                         descending: bool) -> Iterator[tuple[tuple, dict, int, int | None]]:
        """The snapshot's documents in the range: each index entry resolved through its
        document's chain, kept if the version visible at ``begin_ts`` has that key (with the
        version's commit timestamp)."""
        ts, pending, position = self.begin_ts, self.pending, t.index_position[index]
        for key in t.index(position).irange(*bounds, reverse=descending):
            if key[-1][1] in pending:
                continue
            version = t.at_key(key, position, ts)
            if version is not None:
                yield key, version[1], version[2], version[0]  # type: ignore[misc]

    def _pending_in_range(self, table: str, key_fields: tuple[str, ...],
                          bounds: tuple[tuple, tuple, tuple[bool, bool]],
                          descending: bool) -> list[tuple[tuple, dict, int, int | None]]:
        found = []
        for doc_id, (doc_table, doc) in self.pending.items():
            if doc_table == table and doc is not None:
                key = index_key(doc, key_fields)
                if in_bounds(key, *bounds):
                    found.append((key, doc, self._written_bytes[doc_id], None))
        found.sort(key=lambda kd: kd[0], reverse=descending)
        return found

    def _record(self, read: ReadRange, seen: tuple | list) -> None:
        """Add ``read`` to the read set, and beside it the versions it saw (``seen``)."""
        self.ranges_read += 1
        if self.ranges_read > self.limits.database_queries:
            raise limits.exceeded("index ranges read", self.limits.database_queries,
                                  self.ranges_read, self.function)
        self.reads.append(read)
        self.read_versions.append(seen)

    def _count_read(self, size: int) -> None:
        self.docs_read += 1
        self.bytes_read += size
        if self.docs_read > self.limits.documents_read:
            raise limits.exceeded("documents read", self.limits.documents_read,
                                  self.docs_read, self.function)
        if self.bytes_read > self.limits.bytes_read:
            raise limits.exceeded("bytes read", self.limits.bytes_read, self.bytes_read, self.function)

    # -- writes ---------------------------------------------------------------------
    def insert(self, table: str, fields: Mapping[str, Any]) -> str:
        """Insert a new document into ``table`` and return its ID."""
        if self.closed or self.read_only:
            self._check_writable("db.insert")
        t = self.tables.get(table) or self.db.table(table, create=True, function=self.function)
        body, size = self._checked_fields(table, fields, "db.insert", t)
        doc_id = self.db._new_id(t)
        doc = {"_id": doc_id, "_creationTime": self.db._new_creation_time(table), **body}
        self._put(doc_id, table, doc, size)
        return doc_id

    def patch(self, doc_id: str, fields: Mapping[str, Any], table: str | None = None) -> None:
        """Shallow-merge ``fields`` into the document; a field set to ``UNDEFINED`` is removed."""
        table_name, current = self._updatable(doc_id, fields, table, "db.patch")
        merged = dict(current)
        del merged["_id"], merged["_creationTime"]
        for name, value in fields.items():
            if value is UNDEFINED:
                merged.pop(name, None)
            elif name != "_id" and name != "_creationTime":
                merged[name] = value
        self._update(doc_id, table_name, current, merged, "db.patch")

    def replace(self, doc_id: str, fields: Mapping[str, Any], table: str | None = None) -> None:
        """Replace the document's fields with ``fields`` (system fields are kept)."""
        table_name, current = self._updatable(doc_id, fields, table, "db.replace")
        body = {k: x for k, x in fields.items() if k not in SYSTEM_FIELDS}
        self._update(doc_id, table_name, current, body, "db.replace")

    def _updatable(self, doc_id: Any, fields: Any, table: str | None, op: str) -> tuple[str, dict]:
        """Checks shared by patch and replace; returns the table and the current document."""
        if self.closed or self.read_only:
            self._check_writable(op)
        table_name, current = self._existing(doc_id, table, op)
        if type(fields) is not dict and not isinstance(fields, Mapping):
            raise InvalidValueError(f"In {self.function}: {op} expects a dict of fields, got {format_value(fields)}")
        if "_id" in fields or "_creationTime" in fields:   # SYSTEM_FIELDS
            self._check_system_fields(current, fields, op)
        return table_name, current

    def _update(self, doc_id: str, table: str, current: dict, fields: dict, op: str) -> None:
        body, size = self._checked_fields(table, fields, op)
        # current["_id"], not doc_id: the stored string itself, so index maintenance sees the
        # key unchanged by identity (an ID from JavaScript is an equal, new string)
        self._put(doc_id, table, {"_id": current["_id"], "_creationTime": current["_creationTime"], **body}, size)

    def delete(self, doc_id: str, table: str | None = None) -> None:
        """Delete the document ``doc_id``."""
        self._check_writable("db.delete")
        table_name, _current = self._existing(doc_id, table, "db.delete")
        self._put(doc_id, table_name, None, 0)

    def _existing(self, doc_id: Any, table: str | None, op: str) -> tuple[str, dict]:
        table_name = self._table_of(doc_id, table, op)
        current = self._get_raw(doc_id, resolved=table_name)
        if current is None:
            raise InvalidIdError(f'In {self.function}: {op} on nonexistent document ID "{doc_id}"')
        return table_name, current

    def _put(self, doc_id: str, table: str, doc: dict | None, size: int) -> None:
        self.pending[doc_id] = (table, doc)
        self.bytes_written += size - self._written_bytes.get(doc_id, 0)
        self._written_bytes[doc_id] = size
        if len(self.pending) > self.limits.documents_written:
            raise limits.exceeded("documents written", self.limits.documents_written,
                                  len(self.pending), self.function)
        if self.bytes_written > self.limits.bytes_written:
            raise limits.exceeded("bytes written", self.limits.bytes_written,
                                  self.bytes_written, self.function)

    def _check_system_fields(self, current: dict, fields: Mapping[str, Any], op: str) -> None:
        for name in SYSTEM_FIELDS:
            if name in fields and fields[name] != current[name]:
                raise InvalidValueError(
                    f"In {self.function}: {op} cannot change the system field {name} "
                    f"(document has {format_value(current[name])}, got {format_value(fields[name])})")

    def _checked_fields(self, table: str, fields: Any, op: str, stored: _Table | None = None) -> tuple[dict, int]:
        """Check document rules and the table's validator; return the fields, normalized, and
        the document's size in bytes (system fields included)."""
        if type(fields) is not dict and not isinstance(fields, Mapping):
            raise InvalidValueError(f"In {self.function}: {op} into \"{table}\" expects a dict of fields, got {format_value(fields)}")
        definition = (stored or self.tables.get(table) or self.db.table(table)).definition
        schema = self.db.schema
        validated = definition is not None and (schema is None or schema.schema_validation
                                                or table.startswith("_"))
        if validated and type(fields) is dict:
            flat = check_flat_document(fields, definition.document)  # type: ignore[union-attr]
            if flat is not None:
                return flat
        try:
            body, size = check_document(fields)
        except InvalidValueError as exc:
            raise InvalidValueError(f"In {self.function}: {op} into \"{table}\": {exc}") from None
        if validated:
            ids = self.db.id_tables_for(table.rpartition("/")[0]) if "/" in table else self.db.table_of_id
            try:
                body = definition.document.check(body, (), ids)
            except ValidationError as exc:
                raise ValidationError(
                    f"In {self.function}: {op} into \"{table}\": Failed to insert or update a "
                    f"document in table \"{table}\" because it does not match the schema. {exc}"
                ) from None
        return body, size

    # -- savepoints and commit -----------------------------------------------------
    def savepoint(self) -> tuple:
        """A marker to :meth:`rollback_to` (nested mutations roll back on error, and what they
        wrote or scheduled no longer counts)."""
        return (dict(self.pending), dict(self._written_bytes), self.bytes_written, dict(self.extras))

    def rollback_to(self, mark: tuple) -> None:
        pending, written, self.bytes_written, extras = mark
        self.pending, self._written_bytes, self.extras = dict(pending), dict(written), dict(extras)

    def usage(self) -> dict[str, int]:
        """What the transaction used so far, per :class:`~convex_sim.limits.TransactionLimits`
        figure (convex-backend ``Transaction::execution_size``)."""
        return {"bytes_read": self.bytes_read, "bytes_written": self.bytes_written,
                "database_queries": self.ranges_read, "documents_read": self.docs_read,
                "documents_written": len(self.pending),
                "functions_scheduled": self.extras.get("scheduled", 0),
                "scheduled_function_args_bytes": self.extras.get("scheduled_bytes", 0)}

    def metrics(self) -> dict[str, dict[str, int]]:
        """``{figure: {"used", "remaining"}}`` (``ctx.meta.get_transaction_metrics()``)."""
        return self.limits.metrics(self.usage())

    def conflict(self) -> Conflict | None:
        """The first concurrent commit that invalidates this transaction's reads, if any."""
        return self.db.find_conflict(self.reads, self.begin_ts)

    def commit(self) -> int:
        """Validate (OCC) and apply the buffered writes; return the commit timestamp.

        Raises :class:`WriteConflict` if a write committed after ``begin_ts``
        intersects the read set. A transaction with no writes commits at its
        begin timestamp: it is serializable there.
        """
        if self.closed:
            self._check_open()
        db = self.db
        if not self.pending:
            self.abort()
            self.commit_ts = self.begin_ts
            for listener in db.transaction_listeners:
                listener(self, None)
            return self.begin_ts
        found = self.conflict()
        self.abort()
        if found is not None:
            raise WriteConflict(
                f"{self.function}: optimistic concurrency conflict: {found}", found)
        pending = self.pending
        if self.extras.get("commit_ts"):   # ctx.db.vars.commitTs: the timestamp it commits at
            ts = self.db.latest_ts + 1
            pending = {i: (t, resolve_commit_ts(doc, ts)) for i, (t, doc) in pending.items()}
        commit = self.db._apply(pending, self._written_bytes, self.function)
        self.commit_ts = commit.ts
        for listener in self.db.transaction_listeners:
            listener(self, commit)
        return commit.ts

    def abort(self) -> None:
        """End the transaction without committing (idempotent)."""
        if not self.closed:
            self.closed = True
            self._history.drop(self.begin_ts)

    def __del__(self) -> None:
        if not self.closed:   # never ended: its snapshot no longer needs keeping
            self.abort()

    # -- helpers --------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise TransactionClosedError(
                f"{self.function}: this transaction has already finished; a ctx must not be "
                "used after its function returns.")

    def _check_writable(self, op: str) -> None:
        if self.closed:
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


def _merge(a: Iterator[tuple[tuple, dict, int, int | None]], b: list[tuple[tuple, dict, int, int | None]],
           descending: bool) -> Iterator[tuple[tuple, dict, int, int | None]]:
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

