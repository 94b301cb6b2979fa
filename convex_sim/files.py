"""File storage: a blob store keyed by storage ID, with the ``_storage`` system table.

The upload flow is Convex's: a mutation returns ``ctx.storage.generate_upload_url()``,
the client POSTs the bytes there (``sim.fetch(url, method="POST", content=...)``)
and gets ``{"storageId": ...}``, and a second mutation stores that ID. Upload
URLs expire after an hour of virtual time and work once.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from .contexts import ActionCtx, MutationCtx, QueryCtx, _immediate
from .database import Database, Transaction
from .errors import ConvexSimError
from .runtime import Runtime, Step, WeakService
from .schema import define_table
from .validators import v

STORAGE = "_storage"
STORAGE_TABLE = define_table({
    "sha256": v.string(),          # base64 of the SHA-256 digest, as Convex stores it
    "size": v.int64(),
    "content_type": v.optional(v.string()),
})
UPLOAD_URL_TTL_MS = 60 * 60 * 1000
UPLOAD_PATH = "/api/storage/upload"
FILE_PATH_PREFIX = "/api/storage/"


class StorageError(ConvexSimError):
    """A bad storage ID, or an upload URL that expired or was already used."""


def storage_table(ctx: Any) -> str:
    """The ``_storage`` table of ``ctx``'s app (``_storage``) or component (``<path>/_storage``):
    each component's files are its own."""
    scope = getattr(ctx, "_scope", None)
    return f"{scope.path}/{STORAGE}" if scope is not None else STORAGE


def is_storage_table(table: str | None) -> bool:
    return table is not None and (table == STORAGE or table.endswith("/" + STORAGE))


class StorageReader:
    """``ctx.storage`` in a query: URLs and metadata."""

    def __init__(self, service: FileStorage, ctx: Any) -> None:
        self._service, self._ctx, self._table = service, ctx, storage_table(ctx)

    def _now(self, run: Callable[[], Any]) -> Any:
        return _immediate(self._ctx._is_async, run)

    def get_url(self, storage_id: str) -> Any:
        """A URL that serves the file (``sim.fetch`` reads it), or None if it does not exist."""
        return self._now(lambda: self._service.url_for(self._ctx.txn, storage_id, self._table))

    def get_metadata(self, storage_id: str) -> Any:
        """``{"storage_id", "sha256", "size", "content_type"}``, or None."""
        return self._now(lambda: self._service.metadata(self._ctx.txn, storage_id, self._table))


class StorageWriter(StorageReader):
    """``ctx.storage`` in a mutation: adds ``generate_upload_url`` and ``delete``."""

    def generate_upload_url(self) -> Any:
        return self._now(lambda: self._service.new_upload_url(self._table))

    def delete(self, storage_id: str) -> Any:
        return self._now(lambda: self._service.delete(self._ctx.txn, storage_id, self._table))


class ActionStorage:
    """``ctx.storage`` in an action: every call is an awaited step."""

    def __init__(self, service: FileStorage, ctx: ActionCtx) -> None:
        self._service, self._ctx = service, ctx

    def _step(self, op: str, *payload: Any) -> Step:
        return Step(f"storage.{op}", None, storage_table(self._ctx), None, payload=payload)

    def store(self, data: bytes, content_type: str | None = None) -> Step:
        """Store ``data``; the step's result is the new storage ID."""
        if not isinstance(data, bytes | bytearray):
            raise StorageError(f"In {self._ctx._function}: storage.store expects bytes, got {type(data).__name__}")
        return self._step("store", bytes(data), content_type)

    def get(self, storage_id: str) -> Step:
        """The file's bytes, or None."""
        return self._step("get", storage_id)

    def get_url(self, storage_id: str) -> Step:
        return self._step("get_url", storage_id)

    def get_metadata(self, storage_id: str) -> Step:
        return self._step("get_metadata", storage_id)

    def generate_upload_url(self) -> Step:
        return self._step("generate_upload_url")

    def delete(self, storage_id: str) -> Step:
        return self._step("delete", storage_id)


_STEP_KINDS = tuple(f"step:storage.{op}" for op in
                    ("store", "get", "get_url", "get_metadata", "generate_upload_url", "delete"))


class FileStorage:
    """The blob store and upload tokens of one simulator."""

    def __init__(self, runtime: Runtime, origin: str, seed: int = 0) -> None:
        self.runtime = runtime
        self._seed = seed
        self.db: Database = runtime.db
        self.origin = origin
        self._blobs: dict[str, bytes] = {}          # storage ID -> bytes
        self._uploads: dict[str, tuple[float, str]] = {}   # upload token -> (expiry ms, table)
        self._token_counter = 0
        runtime.services["storage"] = WeakService(self._for_ctx)
        runtime.services.update(dict.fromkeys(_STEP_KINDS, WeakService(self._action_step)))

    def _for_ctx(self, ctx: Any) -> Any:
        if isinstance(ctx, ActionCtx):
            return ActionStorage(self, ctx)
        if isinstance(ctx, MutationCtx):
            return StorageWriter(self, ctx)
        if isinstance(ctx, QueryCtx):
            return StorageReader(self, ctx)
        raise StorageError("ctx.storage is not available here.")

    # -- reads ------------------------------------------------------------------------
    def _row(self, txn: Transaction, storage_id: Any, table: str = STORAGE) -> dict | None:
        actual = self.db.table_of_id(storage_id)
        if actual != table:
            whose = "" if table == STORAGE else f" of component {table.rpartition('/')[0]!r}"
            other = f" (it is a file of {'component ' + repr(actual.rpartition('/')[0]) if '/' in actual else 'the app'})" \
                if is_storage_table(actual) else ""
            raise StorageError(f'In {txn.function}: "{storage_id}" is not a storage ID{whose}{other}.')
        return txn.get(storage_id, table=table)

    def url_for(self, txn: Transaction, storage_id: str, table: str = STORAGE) -> str | None:
        return f"{self.origin}{FILE_PATH_PREFIX}{storage_id}" if self._row(txn, storage_id, table) else None

    def metadata(self, txn: Transaction, storage_id: str, table: str = STORAGE) -> dict | None:
        row = self._row(txn, storage_id, table)
        if row is None:
            return None
        return {"storage_id": storage_id, "sha256": row["sha256"], "size": row["size"],
                "content_type": row.get("content_type")}

    def read(self, storage_id: str) -> tuple[bytes, dict] | None:
        """The bytes and row of a stored file, at the latest commit."""
        txn = self.db.begin("storage", read_only=True)
        table = self.db.table_of_id(storage_id)
        if not is_storage_table(table):
            return None
        row = txn.get(storage_id, table=table)
        return (self._blobs[storage_id], row) if row is not None else None

    # -- writes -----------------------------------------------------------------------
    def new_upload_url(self, table: str = STORAGE) -> str:
        self._token_counter += 1
        token = hashlib.sha256(f"{self._seed}:{self._token_counter}".encode()).hexdigest()[:32]
        self._uploads[token] = (self.db.clock.now_ms + UPLOAD_URL_TTL_MS, table)
        return f"{self.origin}{UPLOAD_PATH}?token={token}"

    def insert(self, txn: Transaction, data: bytes, content_type: str | None, table: str = STORAGE) -> str:
        fields: dict[str, Any] = {"sha256": base64.b64encode(hashlib.sha256(data).digest()).decode("ascii"),
                                  "size": len(data)}
        if content_type:
            fields["content_type"] = content_type
        storage_id = txn.insert(table, fields)
        self._blobs[storage_id] = bytes(data)
        return storage_id

    def store(self, data: bytes, content_type: str | None, table: str = STORAGE) -> str:
        txn = self.db.begin("storage.store")
        storage_id = self.insert(txn, data, content_type, table)
        txn.commit()
        return storage_id

    def delete(self, txn: Transaction, storage_id: str, table: str = STORAGE) -> None:
        if self._row(txn, storage_id, table) is None:
            raise StorageError(f'In {txn.function}: storage.delete: no file "{storage_id}".')
        txn.delete(storage_id, table=table)

    def _action_step(self, step: Step) -> Any:
        op = step.kind.removeprefix("storage.")
        payload, table = step.payload, step.args or STORAGE
        if op == "store":
            return self.store(*payload, table)
        if op == "get":
            found = self.read(payload[0]) if self.db.table_of_id(payload[0]) == table else None
            return found[0] if found else None
        if op == "generate_upload_url":
            return self.new_upload_url(table)
        txn = self.db.begin(f"storage.{op}", read_only=op != "delete")
        result = {"get_url": self.url_for, "get_metadata": self.metadata,
                  "delete": self.delete}[op](txn, payload[0], table)
        txn.commit()
        return result

    # -- state, for the explorer's rewinds -------------------------------------------
    def capture(self) -> tuple:
        return (self._token_counter, dict(self._uploads), set(self._blobs))

    def restore(self, state: tuple) -> None:
        self._token_counter, uploads, blob_ids = state
        self._uploads = dict(uploads)
        for storage_id in [k for k in self._blobs if k not in blob_ids]:
            del self._blobs[storage_id]

    # -- HTTP -------------------------------------------------------------------------
    def handles(self, request: httpx.Request) -> bool:
        path = request.url.path
        return path == UPLOAD_PATH or (path.startswith(FILE_PATH_PREFIX) and request.method in ("GET", "HEAD"))

    def serve(self, request: httpx.Request) -> httpx.Response:
        """The upload endpoint and file URLs."""
        if request.url.path == UPLOAD_PATH:
            return self._upload(request)
        storage_id = request.url.path[len(FILE_PATH_PREFIX):]
        found = self.read(storage_id)
        if found is None:
            return httpx.Response(404, text="File not found", request=request)
        data, row = found
        headers = {"Content-Type": row.get("content_type") or "application/octet-stream",
                   "Content-Length": str(len(data))}
        return httpx.Response(200, content=data if request.method == "GET" else b"", headers=headers,
                              request=request)

    def _upload(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return httpx.Response(405, text="Upload with POST", request=request)
        token = parse_qs(urlsplit(str(request.url)).query).get("token", [""])[0]
        expiry, table = self._uploads.pop(token, (None, STORAGE))
        if expiry is None:
            return httpx.Response(400, json={"code": "InvalidUploadToken",
                                             "message": "This upload URL is invalid or was already used."},
                                  request=request)
        if self.db.clock.now_ms > expiry:
            return httpx.Response(400, json={"code": "ExpiredUploadToken",
                                             "message": "This upload URL has expired."}, request=request)
        storage_id = self.store(request.read(), request.headers.get("Content-Type"), table)
        return httpx.Response(200, json={"storageId": storage_id}, request=request)
