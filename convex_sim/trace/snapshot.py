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
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ConvexSimError, InvalidValueError
from ..values import from_json, to_json
from .store import write_documents

TABLES = "_tables"
STORAGE = "_storage"
README = """# Welcome to your Convex snapshot export!

This ZIP file contains a snapshot of the tables in your Convex deployment.

Documents for each table are listed as lines of JSON in
<table_name>/documents.jsonl files.
"""


class SnapshotError(ConvexSimError):
    """A snapshot ZIP that cannot be loaded: the file and member are in the message."""


def _lines(archive: zipfile.ZipFile, source: Path, member: str) -> Iterator[tuple[int, Any]]:
    try:
        data = archive.read(member)
    except KeyError:
        raise SnapshotError(f"{source}: member {member!r} is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SnapshotError(f"{source}: member {member!r} is corrupt: {exc}") from None
    for number, text in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            yield number, from_json(json.loads(text))
        except (json.JSONDecodeError, InvalidValueError) as exc:
            raise SnapshotError(f"{source}: {member}:{number}: not a JSON document: {exc}") from None


def _open(path: str | os.PathLike[str]) -> tuple[zipfile.ZipFile, Path]:
    source = Path(path)
    try:
        return zipfile.ZipFile(source), source
    except FileNotFoundError:
        raise SnapshotError(f"{source}: no such snapshot file") from None
    except zipfile.BadZipFile as exc:
        raise SnapshotError(f"{source}: not a ZIP file: {exc}") from None


def load_snapshot(sim: Any, path: str | os.PathLike[str]) -> dict[str, int]:
    """Load a snapshot export into ``sim`` (documents keep ``_id`` and ``_creationTime``);
    return the number of documents loaded per table. Documents failing the schema raise
    :class:`~convex_sim.trace.store.DocumentImportError` listing each; nothing is loaded then."""
    archive, source = _open(path)
    with archive:
        names = archive.namelist()
        if f"{TABLES}/documents.jsonl" not in names:
            raise SnapshotError(f"{source}: member '{TABLES}/documents.jsonl' is missing; "
                                "is this a `npx convex export` ZIP?")
        tables = [row["name"] for _, row in _lines(archive, source, f"{TABLES}/documents.jsonl")]
        rows: list[tuple[str, str, dict | None]] = []
        counts: dict[str, int] = {}
        for table in tables:
            member = f"{table}/documents.jsonl"
            before = len(rows)
            for number, doc in _lines(archive, source, member):
                if not isinstance(doc, dict) or "_id" not in doc or "_creationTime" not in doc:
                    raise SnapshotError(f"{source}: {member}:{number}: a document needs _id and "
                                        "_creationTime")
                rows.append((table, doc["_id"], doc))
            counts[table] = len(rows) - before
        blobs = {}
        if f"{STORAGE}/documents.jsonl" in names:
            files = {n[len(STORAGE) + 1:].split(".")[0]: n for n in names
                     if n.startswith(f"{STORAGE}/") and n != f"{STORAGE}/documents.jsonl"}
            for number, meta in _lines(archive, source, f"{STORAGE}/documents.jsonl"):
                storage_id = meta["_id"]
                member = files.get(storage_id)
                if member is None:
                    raise SnapshotError(f"{source}: member '{STORAGE}/{storage_id}' is missing "
                                        f"(listed in {STORAGE}/documents.jsonl:{number})")
                data = _read_member(archive, source, member)
                digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
                if meta.get("sha256") not in (None, digest):
                    raise SnapshotError(f"{source}: member {member!r} is corrupt: sha256 {digest}, "
                                        f"expected {meta['sha256']} ({STORAGE}/documents.jsonl:{number})")
                blobs[storage_id] = data
                rows.append((STORAGE, storage_id, {
                    "_id": storage_id, "_creationTime": meta["_creationTime"], "sha256": digest,
                    "size": len(data), **({"content_type": meta["contentType"]}
                                          if meta.get("contentType") is not None else {})}))
            counts[STORAGE] = len(blobs)
    write_documents(sim.db, rows, what=f"load_snapshot({source.name})")
    sim.storage._blobs.update(blobs)
    return counts


def _read_member(archive: zipfile.ZipFile, source: Path, member: str) -> bytes:
    try:
        return archive.read(member)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SnapshotError(f"{source}: member {member!r} is corrupt: {exc}") from None


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


def export_snapshot(sim: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``sim``'s tables (and stored files) as a snapshot export ZIP at ``path``,
    atomically (a temporary file renamed into place); return the path."""
    target = Path(path)
    db = sim.db
    tables = [(db._declared[n][0], n) for n in db.table_names() if not n.startswith("_")]
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    os.close(fd)
    try:
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
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
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
