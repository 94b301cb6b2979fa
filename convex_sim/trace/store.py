"""Writing whole documents (with their ``_id`` and ``_creationTime``) straight into a
simulator's database: what a snapshot import and a replayed ``sim.run`` need.

This bypasses function code, not the checks: each row's ID and creation time are checked,
then each document against its table's validator; the ones that fail are reported with
table, id and field path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConvexSimError, ValidationError
from ..limits import TransactionLimits
from .checks import MISSING, IdChecker, creation_time_problem, describe

#: Documents per import transaction (the database's own write limits do not apply here).
BATCH = 4096
_UNLIMITED = TransactionLimits.of({"documents_written": 10**9, "bytes_written": 10**15})


@dataclass(frozen=True)
class BadDocument:
    """A document that cannot be imported: its system fields are wrong or it does not match
    the app's schema. ``where`` says where it came from (a snapshot's ``member:line``)."""

    table: str
    id: str
    problem: str
    where: str = ""

    def __str__(self) -> str:
        return f"{self.where + ': ' if self.where else ''}{self.table} {self.id}: {self.problem}"


class DocumentImportError(ConvexSimError):
    """Documents that could not be written; ``bad`` lists each with table, id and reason."""

    def __init__(self, message: str, bad: list[BadDocument]) -> None:
        super().__init__(message)
        self.bad = bad


def write_documents(db: Any, rows: Iterable[tuple[str, str, dict | None]], *, what: str,
                    allocate: bool = False, where: Sequence[str] | None = None,
                    numbers: Mapping[str, int] | None = None) -> int:
    """Write ``(table, id, document or None)`` rows in batches; return how many were written.

    Each row's ID must be an ID of its table (or one the database already files under it),
    at most once; a document's ``_id`` must be the row's and its ``_creationTime`` a finite
    number; then the document must match the schema. ``where`` names each row's origin in
    errors (default ``row N``); ``numbers`` maps tables to the numbers their IDs carry (default:
    the database's). Every failing row is collected and raised together as a
    :class:`DocumentImportError`; nothing is written then.

    ``allocate=True`` draws each new document's ID and creation time from the database's
    seeded allocator, as an insert would (so later inserts get the IDs they got when the
    rows were first written); otherwise the allocator only learns the latest creation time.
    Either way the allocator never draws a written ID again.
    """
    rows = list(rows)
    places = list(where) if where is not None else [f"row {i}" for i in range(1, len(rows) + 1)]
    bad = _system_field_problems(db, rows, places, numbers)
    if bad:
        _refuse(what, "cannot be imported", bad)
    added = [doc_id for _table, doc_id, _doc in rows if doc_id not in db._id_tables]
    for table, doc_id, _doc in rows:  # references between the rows resolve to their tables
        db._id_tables[doc_id] = table
    checked: list[tuple[str, str, dict | None, int]] = []
    txn = db.begin(what)
    try:
        for (table, doc_id, doc), place in zip(rows, places, strict=True):
            if doc is None:
                checked.append((table, doc_id, None, 0))
                continue
            body = {k: x for k, x in doc.items() if k not in ("_id", "_creationTime")}
            try:
                fields, size = txn._checked_fields(table, body, "import")
            except (ValidationError, ConvexSimError) as exc:
                bad.append(BadDocument(table, doc_id, str(exc), place if where is not None else ""))
                continue
            checked.append((table, doc_id, {"_id": doc_id, "_creationTime": doc["_creationTime"],
                                            **fields}, size))
    finally:
        txn.abort()
    if bad:
        for doc_id in added:
            db._id_tables.pop(doc_id, None)
        _refuse(what, "do not match the schema", bad)
    for start in range(0, len(checked), BATCH):
        _commit_batch(db, checked[start:start + BATCH], what, allocate)
    return len(checked)


def _system_field_problems(db: Any, rows: list[tuple[str, str, dict | None]], places: list[str],
                           numbers: Mapping[str, int] | None) -> list[BadDocument]:
    """A :class:`BadDocument` for each row whose ID or creation time is wrong."""
    if len(places) != len(rows):
        raise ValueError(f"write_documents: {len(rows)} rows but {len(places)} places")
    ids = IdChecker(db, numbers, allow_existing=True)
    bad = []
    for (table, doc_id, doc), place in zip(rows, places, strict=True):
        problem = ids.problem(table, doc_id, place)
        if problem is None and doc is not None:
            if type(doc) is not dict:
                problem = f"expected a document (an object), got {describe(doc)}"
            elif doc.get("_id", MISSING) != doc_id:
                problem = f"field _id: expected {doc_id!r}, got {describe(doc.get('_id', MISSING))}, not the row's ID"
            else:
                problem = creation_time_problem(doc.get("_creationTime", MISSING))
        if problem is not None:
            bad.append(BadDocument(table, doc_id, problem, place))
    return bad


def _refuse(what: str, reason: str, bad: list[BadDocument]) -> None:
    listed = "\n  ".join(str(b) for b in bad[:20])
    more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
    raise DocumentImportError(f"{what}: {len(bad)} document(s) {reason}:\n  {listed}{more}", bad)


def _commit_batch(db: Any, rows: list[tuple[str, str, dict | None, int]], what: str,
                  allocate: bool) -> None:
    txn = db.begin(what)
    txn.limits = _UNLIMITED
    alloc = db._alloc
    for table, doc_id, doc, size in rows:
        t = db.table(table, create=True)
        if doc is not None and t.visible(doc_id, db.latest_ts) is None and doc_id not in txn.pending:
            if allocate:
                db._new_id(t)
                db._new_creation_time(table)
            created = doc["_creationTime"]
            if created > alloc.last_creation_time.get(table, float("-inf")):
                alloc.last_creation_time[table] = created
        db._take_id(doc_id, table)
        txn._put(doc_id, table, doc, size)
    txn.commit()
