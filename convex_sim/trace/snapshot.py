"""Convex snapshot exports in and out: the ZIP that ``npx convex export`` writes.

Layout (convex-backend ``crates/exports``): ``README.md``; ``_tables/documents.jsonl``
with ``{"name", "id"}`` per user table; per table ``<table>/documents.jsonl`` (one
document a line in Convex's export JSON: int64 as ``{"$integer": base64}``, bytes as
``{"$bytes": base64}``) and ``<table>/generated_schema.jsonl``; with file storage,
``_storage/documents.jsonl`` (``_id``, ``_creationTime``, ``sha256``, ``size``,
``contentType``, ``internalId``) and each file at ``_storage/<id>`` (plus an extension
guessed from its content type).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..database.documents import check_document
from ..errors import ConvexSimError, InvalidValueError
from ..ids import decode_table_number
from ..schema import check_identifier
from ..values import to_json
from .archive import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MEMBER_BYTES,
    SnapshotArchive,
    SnapshotError,
    kind,
)
from .checks import MISSING, STORAGE, IdChecker, creation_time_problem, describe
from .store import DocumentImportError, write_documents

TABLES = "_tables"
SYSTEM_FIELDS = ("_id", "_creationTime")
README = """# Welcome to your Convex snapshot export!

This ZIP file contains a snapshot of the tables in your Convex deployment.

Documents for each table are listed as lines of JSON in
<table_name>/documents.jsonl files.
"""

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_MEMBER_BYTES", "SnapshotDocumentError", "SnapshotError",
           "export_snapshot", "load_snapshot"]


class SnapshotDocumentError(SnapshotError, DocumentImportError):
    """Documents of a snapshot that do not match the app's schema; ``bad`` lists each with
    table, id, problem and ``member:line``."""


Rows = list[tuple[str, str, dict | None]]


def load_snapshot(sim: Any, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                  max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> dict[str, int]:
    """Load a snapshot export into ``sim`` (documents keep ``_id`` and ``_creationTime``);
    return the number of documents loaded per table.

    The ZIP is untrusted input: at most ``max_bytes`` are inflated from all members and
    ``max_member_bytes`` from each; every row's system fields and values are checked. Any
    problem raises :class:`SnapshotError` (file, member, line, field, expected, got);
    documents failing the schema raise :class:`SnapshotDocumentError` listing each. Nothing
    is loaded then."""
    rows: Rows = []
    where: list[str] = []
    counts: dict[str, int] = {}
    with SnapshotArchive(path, max_bytes=max_bytes, max_member_bytes=max_member_bytes) as archive:
        tables, numbers = _tables(archive)
        ids = IdChecker(sim.db, numbers)
        for table in tables:
            member = f"{table}/documents.jsonl"
            for line, doc in archive.lines(member):
                rows.append((table, _document(archive, ids, table, member, line, doc), doc))
                where.append(f"{member}:{line}")
            counts[table] = len(rows) - sum(counts.values())
        blobs = _files(archive, ids, rows, where) if f"{STORAGE}/documents.jsonl" in archive.names else None
    if blobs is not None:
        counts[STORAGE] = len(blobs)
    try:
        write_documents(sim.db, rows, what=str(archive.source), where=where, numbers=ids.numbers)
    except DocumentImportError as exc:
        raise SnapshotDocumentError(str(exc), exc.bad) from None
    sim.storage._blobs.update(blobs or {})
    return counts


def _tables(archive: SnapshotArchive) -> tuple[list[str], dict[str, int]]:
    """The user tables ``_tables/documents.jsonl`` lists, and the numbers their IDs carry."""
    member = f"{TABLES}/documents.jsonl"
    if member not in archive.names:
        raise SnapshotError(f"{archive.source}: member {member!r} is missing; "
                            "is this a `npx convex export` ZIP?")
    tables: list[str] = []
    numbers: dict[str, int] = {}
    for line, row in archive.lines(member):
        problem = _table_problem(row, tables, numbers)
        if problem is not None:
            raise archive.error(member, line, problem)
    return tables, numbers


def _table_problem(row: Any, tables: list[str], numbers: dict[str, int]) -> str | None:
    """What is wrong with one ``_tables`` row (else it is added to ``tables`` and ``numbers``)."""
    if type(row) is not dict:
        return f"expected an object, got {kind(row)}"
    name, number = row.get("name", MISSING), row.get("id")
    if type(name) is not str:
        return f"field name: expected a table name (a string), got {describe(name)}"
    if name.startswith("_"):
        return f"field name: expected a user table's name, got {describe(name)}"
    try:
        check_identifier(name, "table name")
    except ConvexSimError:
        return f"field name: expected a table name (an identifier), got {describe(name)}"
    if name in tables:
        return f"field name: expected a table listed once, got {describe(name)} again"
    tables.append(name)
    if number is None:
        return None   # its IDs say which number it has
    if type(number) not in (int, float) or not (1 <= number < 2**32 and number == int(number)):
        return f"field id: expected a table number (a positive integer), got {describe(number)}"
    if int(number) in numbers.values():
        return f"field id: expected a table number no other table has, got {int(number)}"
    numbers[name] = int(number)
    return None


def _document(archive: SnapshotArchive, ids: IdChecker, table: str, member: str, line: int,
              doc: Any) -> str:
    """Check one document line; return its ``_id``."""
    if type(doc) is not dict:
        raise archive.error(member, line, f"expected an object, got {kind(doc)}")
    doc_id = doc.get("_id", MISSING)
    problem = (ids.problem(table, doc_id, f"{member}:{line}")
               or creation_time_problem(doc.get("_creationTime", MISSING)))
    if problem is None:
        try:
            check_document({k: x for k, x in doc.items() if k not in SYSTEM_FIELDS})
        except InvalidValueError as exc:
            problem = f"expected a valid Convex document, got {exc}"
    if problem is not None:
        raise archive.error(member, line, problem)
    return doc_id


def _files(archive: SnapshotArchive, ids: IdChecker, rows: Rows, where: list[str]) -> dict[str, bytes]:
    """Check and read the stored files ``_storage/documents.jsonl`` lists; add their rows."""
    member = f"{STORAGE}/documents.jsonl"
    files = {n[len(STORAGE) + 1:].split(".")[0]: n for n in archive.names
             if n.startswith(f"{STORAGE}/") and n != member}
    blobs: dict[str, bytes] = {}
    for line, meta in archive.lines(member):
        if type(meta) is not dict:
            raise archive.error(member, line, f"expected an object, got {kind(meta)}")
        storage_id = meta.get("_id", MISSING)
        problem = (ids.problem(STORAGE, storage_id, f"{member}:{line}")
                   or creation_time_problem(meta.get("_creationTime", MISSING)))
        content_type, sha256 = meta.get("contentType"), meta.get("sha256")
        if problem is None and content_type is not None and not _is_text(content_type):
            problem = f"field contentType: expected a string or null, got {describe(content_type)}"
        if problem is None and sha256 is not None and not _is_text(sha256):
            problem = f"field sha256: expected a base64 SHA-256 digest, got {describe(sha256)}"
        if problem is not None:
            raise archive.error(member, line, problem)
        name = files.get(storage_id)
        if name is None:
            raise SnapshotError(f"{archive.source}: member '{STORAGE}/{storage_id}' is missing "
                                f"(listed in {member}:{line})")
        data = archive.read(name)
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        if sha256 not in (None, digest):
            raise SnapshotError(f"{archive.source}: member {name!r} is corrupt: sha256 {digest}, "
                                f"expected {sha256} ({member}:{line})")
        size = meta.get("size")
        if size is not None and (type(size) not in (int, float) or size != len(data)):
            raise archive.error(member, line, f"field size: expected the file's size in bytes "
                                              f"({len(data)}), got {describe(size)}")
        blobs[storage_id] = data
        rows.append((STORAGE, storage_id, {
            "_id": storage_id, "_creationTime": meta["_creationTime"], "sha256": digest,
            "size": len(data), **({"content_type": content_type} if content_type is not None else {})}))
        where.append(f"{member}:{line}")
    return blobs


def _is_text(value: Any) -> bool:
    """Whether ``value`` is a string that encodes as UTF-8 (no lone surrogates)."""
    if type(value) is not str:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _documents(db: Any, table: str) -> list[dict]:
    try:
        t = db.table(table)
    except ConvexSimError:
        return []
    ts = db.latest_ts
    docs = [v[1] for v in (t.visible(i, ts) for i in list(t.versions)) if v is not None and v[1] is not None]
    return sorted(docs, key=lambda d: (d["_creationTime"], d["_id"]))


def _jsonl(rows: list[Any]) -> str:
    return "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in rows)


def _export_numbers(db: Any) -> list[tuple[int, str]]:
    """``(number, name)`` of each user table, the number the one its documents' IDs carry
    (documents loaded from a deployment keep its numbering), else the table's own."""
    out: list[tuple[int, str]] = []
    for name in db.table_names():
        if name.startswith("_"):
            continue
        docs = _documents(db, name)
        carried = decode_table_number(docs[0]["_id"]) if docs else None
        own = db._declared[name][0]
        used = {number for number, _ in out}
        out.append((carried if carried is not None and carried not in used else own, name))
    return out


def export_snapshot(sim: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``sim``'s tables (and stored files) as a snapshot export ZIP at ``path``,
    atomically (a temporary file renamed into place); return the path."""
    target = Path(path)
    db = sim.db
    tables = _export_numbers(db)
    with atomic_path(target) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.md", README)
        archive.writestr(f"{TABLES}/documents.jsonl",
                         _jsonl([{"name": n, "id": number} for number, n in sorted(tables)]))
        for _, name in sorted(tables):
            archive.writestr(f"{name}/documents.jsonl", _jsonl([to_json(d) for d in _documents(db, name)]))
            archive.writestr(f"{name}/generated_schema.jsonl", '"uniform"\n')
        files = _documents(db, STORAGE)
        if files:
            archive.writestr(f"{STORAGE}/documents.jsonl", _jsonl([{
                "_id": f["_id"], "_creationTime": f["_creationTime"], "sha256": f["sha256"],
                "size": f["size"], "contentType": f.get("content_type"), "internalId": f["_id"]}
                for f in files]))
            for f in files:
                archive.writestr(f"{STORAGE}/{f['_id']}", sim.storage._blobs.get(f["_id"], b""))
    return target
