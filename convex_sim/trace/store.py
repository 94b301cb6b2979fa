"""Writing whole documents (with their ``_id`` and ``_creationTime``) straight into a
simulator's database: what a snapshot import and a replayed ``sim.run`` need.

This bypasses function code, not the schema: each document is checked against its
table's validator, and the ones that fail are reported with table, id and field path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import ConvexSimError, ValidationError
from ..limits import TransactionLimits

#: Documents per import transaction (the database's own write limits do not apply here).
BATCH = 4096
_UNLIMITED = TransactionLimits.of({"documents_written": 10**9, "bytes_written": 10**15})


@dataclass(frozen=True)
class BadDocument:
    """A document that does not match the app's schema."""

    table: str
    id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table} {self.id}: {self.problem}"


class DocumentImportError(ConvexSimError):
    """Documents that could not be written; ``bad`` lists each with table, id and reason."""

    def __init__(self, message: str, bad: list[BadDocument]) -> None:
        super().__init__(message)
        self.bad = bad


def write_documents(db: Any, rows: Iterable[tuple[str, str, dict | None]], *, what: str,
                    allocate: bool = False) -> int:
    """Write ``(table, id, document or None)`` rows in batches; return how many were written.

    ``allocate=True`` draws each new document's ID and creation time from the database's
    seeded allocator, as an insert would (so later inserts get the IDs they got when the
    rows were first written); otherwise the allocator only learns the latest creation time.
    Every failing document is collected and raised together; nothing is written then.
    """
    rows = list(rows)
    for table, doc_id, _doc in rows:  # references between the rows resolve to their tables
        db._id_tables[doc_id] = table
    bad: list[BadDocument] = []
    checked: list[tuple[str, str, dict | None, int]] = []
    txn = db.begin(what)
    try:
        for table, doc_id, doc in rows:
            if doc is None:
                checked.append((table, doc_id, None, 0))
                continue
            body = {k: x for k, x in doc.items() if k not in ("_id", "_creationTime")}
            try:
                fields, size = txn._checked_fields(table, body, "import")
            except (ValidationError, ConvexSimError) as exc:
                bad.append(BadDocument(table, doc_id, str(exc)))
                continue
            checked.append((table, doc_id, {"_id": doc_id, "_creationTime": doc["_creationTime"],
                                            **fields}, size))
    finally:
        txn.abort()
    if bad:
        listed = "\n  ".join(str(b) for b in bad[:20])
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise DocumentImportError(f"{what}: {len(bad)} document(s) do not match the schema:\n"
                                  f"  {listed}{more}", bad)
    for start in range(0, len(checked), BATCH):
        _commit_batch(db, checked[start:start + BATCH], what, allocate)
    return len(checked)


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
        db._id_tables[doc_id] = table
        txn._put(doc_id, table, doc, size)
    txn.commit()
