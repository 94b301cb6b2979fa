"""The syscall ABI: what the ``convex`` npm package asks its backend, answered by convex-sim.

Each op takes Convex JSON and returns Convex JSON, and is served through the
same Python ``ctx`` a Python function gets (``ctx.db``, ``ctx.scheduler``,
``ctx.storage``, ``ctx.run_query`` ...), so a TypeScript function reads and
writes through the same transactions, read sets, limits and error messages.

* In queries and mutations every op is answered at once.
* In actions, calls to other functions, the scheduler, storage, vector search
  and ``fetch`` are *steps* (the same :class:`~convex_sim.runtime.Step` a
  Python action awaits), so the explorer can interleave them.

An op this module does not know is an error naming it and the function.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields as dataclass_fields
from typing import Any

import httpx
import orjson

from ..component import ComponentReference
from ..errors import ConvexSimError, InvalidValueError, WriteInReadOnlyError, hide_simulator_frames
from ..functions import ACTION, HTTP_ACTION, MUTATION, QUERY, FunctionHandle
from ..limits import CAMEL_NAMES
from ..queries import FilterBuilder, Query
from ..runtime import (
    _CURRENT,
    MutationCtx,
    NetworkNotAllowedError,
    NondeterminismError,
    UserIdentity,
)
from ..values import (
    MAX_VALUE_NESTING,
    UNDEFINED,
    contains_commit_ts,
    from_json,
    to_json,
    too_nested,
)

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours

FUNCTION_HANDLE_PREFIX = "function://"
#: How ``components.<name>...`` references reach the backend (convex-js ``components/index.ts``).
CHILD_COMPONENT = "_reference/childComponent/"
#: How ``convex`` 1.13 named a function of the app itself in ``1.0/runUdf``
#: (``registration_impl.js``); later versions send ``{"name": ...}``.
FUNCTION_REFERENCE = "_reference/function/"
#: ``ctx.meta.getDeploymentMetadata()``'s name and class for every simulator.
DEPLOYMENT_NAME, DEPLOYMENT_CLASS = "sim", "s16"
#: Queries limited to at most this many rows are read in one crossing (see ``query_stream``).
PREFETCH_LIMIT = 8


class UnsupportedSyscallError(ConvexSimError):
    """The ``convex`` package asked for an op convex-sim does not implement."""


# --- JSON helpers ------------------------------------------------------------------------


def loads(text: str | bytes) -> Any:
    """JSON text from JavaScript as Python data. ``JSON.stringify`` writes a string holding a
    lone surrogate as a ``\\ud800`` escape, which orjson refuses; such text is read again
    with the standard library, so the string reaches the value checks, which refuse it with
    its field path (:class:`InvalidValueError`, as for a Python app)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except RecursionError:
            raise too_nested(MAX_VALUE_NESTING) from None


def result_value(function: str, text: str) -> Any:
    """The return value of an execution of ``function`` from its Convex JSON text."""
    try:
        return from_json(loads(text))
    except InvalidValueError as exc:
        raise InvalidValueError(f"Invalid return value of {function}: {exc}") from None


#: What the ``convex`` package says when its own value checks refuse a value (convex-js
#: ``src/values/value.ts``: ``validateObjectField``, ``convexToJsonInternal``,
#: ``bigIntToBase64``; "Empty field names" from convex 1.0).
_VALUE_ERROR = re.compile(
    r"Field name .* (exceeds maximum field name length|starts with a '\$'|has invalid character)"
    r"|Empty field names are disallowed|BigInt -?\d+ does not fit into a 64-bit signed integer"
    r"|undefined is not a valid Convex value|.* is not a supported Convex type", re.S)


def value_error(function: str, message: str, stack: str) -> InvalidValueError | None:
    """A JavaScript error thrown by the ``convex`` package's value checks, as the
    :class:`InvalidValueError` a Python app gets for the same value; None for other errors."""
    if _VALUE_ERROR.match(message) is None:
        return None
    return InvalidValueError(f"{function}: {message}" + (f"\n{stack}" if stack else ""))


def decode(value: Any, depth: int = 0) -> Any:
    """Convex JSON → Python values; ``{"$undefined": null}`` becomes ``UNDEFINED``."""
    if type(value) is dict:
        if len(value) == 1 and "$undefined" in value:
            return UNDEFINED
        if any(type(x) is dict for x in value.values()):
            if depth >= MAX_VALUE_NESTING:
                raise too_nested(depth)
            return {k: decode(x, depth + 1) for k, x in value.items()}
    elif type(value) is list:
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(depth)
        return [decode(x, depth + 1) for x in value]
    return from_json(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


#: System-row fields holding the app's own values (a scheduled function's ``args``): they
#: reach JavaScript exactly as the app gave them (``bigint`` stays ``bigint``, keys unchanged).
_APP_VALUE_FIELDS = frozenset({"args"})


def system_json(value: Any) -> Any:
    """A system-table row or storage metadata as Convex shows it to JavaScript: camelCase
    field names (``scheduledTime``, ``contentType``) and numbers as float64; the app's own
    values inside (``args``) as they are."""
    if isinstance(value, dict):
        return {(k if k.startswith("_") else _camel(k)):
                to_json(x) if k in _APP_VALUE_FIELDS else system_json(x) for k, x in value.items()}
    if isinstance(value, list):
        return [system_json(x) for x in value]
    if type(value) is int:
        return float(value)
    return to_json(value)


def identity_json(identity: UserIdentity | None) -> Any:
    """``ctx.auth.getUserIdentity()``'s value: Convex's camelCase fields plus other claims."""
    if identity is None:
        return None
    out = {_camel(f.name): getattr(identity, f.name) for f in dataclass_fields(identity)
           if f.name != "claims" and getattr(identity, f.name) is not None}
    for key, claim in identity.claims.items():
        out.setdefault(key, claim)
    return to_json(out)


def function_name(payload: Mapping[str, Any]) -> str:
    """The function path a syscall names: ``{"name": "bank:transfer"}`` (``bank.js:transfer``
    and a bare module mean the same) or ``{"functionHandle": "function://bank:transfer"}``."""
    handle = payload.get("functionHandle")
    if isinstance(handle, str):
        if not handle.startswith(FUNCTION_HANDLE_PREFIX):
            raise ConvexSimError(f"Invalid function handle {handle!r}.")
        return FunctionHandle(handle[len(FUNCTION_HANDLE_PREFIX):])  # type: ignore[return-value]
    name = payload.get("name") or payload.get("reference")
    if isinstance(name, str) and name.startswith(FUNCTION_REFERENCE):  # convex 1.13 runUdf
        name = name[len(FUNCTION_REFERENCE):]
    if isinstance(name, str) and name.startswith(CHILD_COMPONENT):   # components.<name>.<module>.<fn>
        component, *parts = name[len(CHILD_COMPONENT):].split("/")
        return ComponentReference(component, tuple(parts))  # type: ignore[return-value]
    if not isinstance(name, str):
        raise ConvexSimError(f"A function reference must name a function, got {json.dumps(payload)[:200]}")
    module, _, export = name.partition(":")
    for suffix in (".js", ".ts"):
        module = module.removesuffix(suffix)
    return f"{module}:{export or 'default'}"


def call_args(payload: Mapping[str, Any]) -> Any:
    """The arguments a call or schedule syscall passes: an object, or, from ``convex`` before
    1.4 (``actions_impl.js``, ``scheduler_impl.js``), that object alone in an array."""
    args = payload.get("args", {})
    if type(args) is list:
        if len(args) != 1:
            raise ConvexSimError(f"Function arguments must be one object, got {json.dumps(args)[:200]}")
        args = args[0]
    return decode(args)


# --- queries -----------------------------------------------------------------------------

_COMPARISONS = {"$eq": "eq", "$neq": "neq", "$lt": "lt", "$lte": "lte", "$gt": "gt", "$gte": "gte",
                "$add": "add", "$sub": "sub", "$mul": "mul", "$div": "div", "$mod": "mod"}


def _expression(expr: Any, q: FilterBuilder, system: bool) -> Any:
    """A serialized filter expression (``{"$eq": [{"$field": "a"}, {"$literal": 1}]}``) → Expr."""
    (op, arg), = expr.items()
    if op == "$field":
        return q.field(_snake(arg) if system else arg)
    if op == "$literal":
        return decode(arg)
    if op in _COMPARISONS:
        return getattr(q, _COMPARISONS[op])(*(_expression(a, q, system) for a in arg))
    if op in ("$and", "$or"):
        return getattr(q, op[1:] + "_")(*(_expression(a, q, system) for a in arg))
    if op == "$not":
        return q.not_(_expression(arg, q, system))
    if op == "$neg":
        return q.neg(_expression(arg, q, system))
    raise UnsupportedSyscallError(f"Unknown filter operator {op!r}.")


def _apply_range(range_json: list, q: Any) -> Any:
    for part in range_json:
        q = getattr(q, part["type"].lower())(part["fieldPath"], decode(part["value"]))
    return q


def build_query(db: Any, spec: Mapping[str, Any]) -> tuple[Query, int | None]:
    """A Python :class:`Query` for the package's serialized query, and its ``limit``."""
    source = spec["source"]
    kind = source["type"]
    if kind == "FullTableScan":
        table, index = source["tableName"], None
    else:
        table, _, index = source["indexName"].partition(".")
    system = table.startswith("_")
    query = db.system.query(table) if system else db.query(table)
    if kind == "IndexRange":
        query = query.with_index(index, lambda q: _apply_range(source.get("range") or [], q))
    elif kind == "Search":
        def search(q: Any) -> Any:
            for part in source.get("filters") or []:
                if part["type"] == "Search":
                    q = q.search(part["fieldPath"], part["value"])
                else:
                    q = q.eq(part["fieldPath"], decode(part["value"]))
            return q
        query = query.with_search_index(index, search)
    if source.get("order"):
        query = query.order(source["order"])
    limit = None
    for operator in spec.get("operators") or []:
        if "filter" in operator:
            query = query.filter(lambda q, e=operator["filter"]: _expression(e, q, system))
        elif "limit" in operator:
            limit = int(operator["limit"]) if limit is None else min(limit, int(operator["limit"]))
    return query, limit


def _limited(query: Query, limit: int | None) -> Iterator[dict]:
    if limit is not None and limit <= 0:
        query.take(0)
        return
    for count, doc in enumerate(query, start=1):
        yield doc
        if limit is not None and count >= limit:
            return


# --- the host of one execution ---------------------------------------------------------------


class Host:
    """Answers the syscalls of one execution of ``function`` through its Python ``ctx``."""

    def __init__(self, ctx: Any, function: str, kind: str, logs: list[str]) -> None:
        self.ctx, self.function, self.kind, self._logs = ctx, function, kind, logs
        self._streams: dict[int, tuple[Iterator[dict], bool]] = {}
        self._next_stream = 0
        self._system_reads = False

    # -- the engine's side ------------------------------------------------------------------
    def now_ms(self) -> float:
        frame = _CURRENT.get()
        return frame.now_ms if frame is not None else self.ctx._runtime.db.clock.now_ms

    def seed_words(self) -> str:
        frame = _CURRENT.get()
        if frame is None:
            raise ConvexSimError(f"{self.function}: Math.random() outside a running function.")
        rng = frame.rng()
        return ",".join(str(rng.getrandbits(32)) for _ in range(4))

    def log(self, level: str, text: str) -> None:
        self._logs.append(f"[{level.upper()}] {self.function}: {text}")

    def sync(self, op: str, payload: Any) -> Any:
        handler = _SYNC.get(op)
        if handler is None:
            raise self._unsupported(op)
        return handler(self, payload)

    def immediate(self, op: str, payload: Any) -> tuple[bool, Any]:
        """(True, result) when the op is answered now; (False, payload) for an action step."""
        if self.kind in (ACTION, HTTP_ACTION) and op in _STEPS:
            return False, payload
        handler = _ASYNC.get(op)
        if handler is None:
            raise self._unsupported(op)
        return True, handler(self, payload)

    async def perform(self, op: str, payload: Any) -> Any:
        """Run one action step (awaited inside the action's coroutine) and return its JSON."""
        return await _STEPS[op](self, payload)

    def _unsupported(self, op: str) -> BaseException:
        if op in _STEPS:
            return UnsupportedSyscallError(f"{self.function}: {op} is available in actions only.")
        return UnsupportedSyscallError(
            f"{self.function}: convex-sim does not support the syscall {op!r} (a newer `convex` "
            "package than this simulator knows?). Supported: " + ", ".join(sorted({*_SYNC, *_ASYNC, *_STEPS})))

    # -- helpers ----------------------------------------------------------------------------------
    def _writer(self, op: str) -> Any:
        if not isinstance(self.ctx, MutationCtx):
            raise WriteInReadOnlyError(f"In {self.function}: {op} is not allowed in a {self.kind}.")
        return self.ctx.db

    def _reader(self, op: str) -> Any:
        db = getattr(self.ctx, "db", None)
        if db is None:
            raise ConvexSimError(f"In {self.function}: {op}: actions have no ctx.db; use ctx.runQuery.")
        return db

    def _doc_json(self, doc: dict | None, table: str | None) -> Any:
        if doc is None:
            return None
        return system_json(doc) if (table or "").startswith("_") else to_json(doc)

    # -- database ---------------------------------------------------------------------------------
    def get(self, p: Mapping[str, Any]) -> Any:
        db = self._reader("db.get")
        if p.get("isSystem"):
            return self._doc_json(db.system.get(decode(p["id"])), "_")
        return self._doc_json(db.get(*self._target(p)), None)

    def insert(self, p: Mapping[str, Any]) -> Any:
        return {"_id": self._writer("db.insert").insert(p["table"], self._written(p["value"]))}

    def _written(self, payload: Any) -> Any:
        """A value to write; one holding ``ctx.db.vars.commitTs`` marks the transaction so
        its commit fills in the commit timestamp."""
        try:
            value = decode(payload)
        except InvalidValueError as exc:
            raise InvalidValueError(f"In {self.function}: {exc}") from None
        if contains_commit_ts(value):
            self.ctx.txn.extras["commit_ts"] = True
        return value

    @staticmethod
    def _target(p: Mapping[str, Any]) -> tuple:
        """``(table, id)`` when the app named the table (``db.patch("t", id, ...)``), else ``(id,)``."""
        doc_id = decode(p["id"])
        return (p["table"], doc_id) if p.get("table") else (doc_id,)

    def shallow_merge(self, p: Mapping[str, Any]) -> Any:
        self._writer("db.patch").patch(*self._target(p), self._written(p["value"]))
        return None

    def replace(self, p: Mapping[str, Any]) -> Any:
        self._writer("db.replace").replace(*self._target(p), self._written(p["value"]))
        return None

    def remove(self, p: Mapping[str, Any]) -> Any:
        self._writer("db.delete").delete(*self._target(p))
        return None

    def query_stream(self, p: Mapping[str, Any]) -> Any:
        """Open a query. With a small known limit (``first``, ``unique``, ``take(n)``) its
        rows come back at once — exactly the rows the lazy stream would read — and the
        JavaScript side serves ``queryStreamNext`` from them without crossing over."""
        query, limit = build_query(self._reader("db.query"), p["query"])
        table = p["query"]["source"].get("tableName") or p["query"]["source"]["indexName"]
        system = table.startswith("_")
        self._next_stream += 1
        if limit is not None and limit <= PREFETCH_LIMIT:
            encode = system_json if system else to_json
            return {"queryId": self._next_stream, "rows": [encode(d) for d in _limited(query, limit)]}
        self._streams[self._next_stream] = (_limited(query, limit), system)
        return {"queryId": self._next_stream}

    def query_stream_next(self, p: Mapping[str, Any]) -> Any:
        entry = self._streams.get(p["queryId"])
        if entry is None:
            raise ConvexSimError(f"In {self.function}: query {p['queryId']} is not open.")
        stream, system = entry
        doc = next(stream, None)
        if doc is None:
            self._streams.pop(p["queryId"], None)
            return {"value": None, "done": True}
        return {"value": system_json(doc) if system else to_json(doc), "done": False}

    def query_cleanup(self, p: Mapping[str, Any]) -> Any:
        entry = self._streams.pop(p["queryId"], None)
        if entry is not None:
            entry[0].close()  # type: ignore[attr-defined]
        return entry is not None

    def query_page(self, p: Mapping[str, Any]) -> Any:
        query, _limit = build_query(self._reader("paginate"), p["query"])
        options = {"num_items": p["pageSize"], "cursor": p.get("cursor"), "end_cursor": p.get("endCursor")}
        for key, name in (("maximumRowsRead", "maximum_rows_read"), ("maximumBytesRead", "maximum_bytes_read")):
            if p.get(key) is not None:
                options[name] = int(p[key])
        page = query.paginate(options)
        return {"page": [to_json(d) for d in page["page"]], "isDone": page["is_done"],
                "continueCursor": page["continue_cursor"], "splitCursor": page.get("split_cursor"),
                "pageStatus": page.get("page_status")}

    def count(self, p: Mapping[str, Any]) -> Any:
        table = p["table"]
        db = self._reader("count")
        query = db.system.query(table) if table.startswith("_") else db.query(table)
        return float(query.count())

    def normalize_id(self, p: Mapping[str, Any]) -> Any:
        db = self._reader("db.normalizeId")
        table, text = p["table"], p["idString"]
        return {"id": db.normalize_id(table, text) if isinstance(text, str) else None}

    def refuse(self, p: Mapping[str, Any]) -> Any:
        """``fetch``/``setTimeout`` outside an action: refused, as Convex refuses them."""
        api = str(p.get("api"))
        error = NetworkNotAllowedError if api.startswith("fetch") else NondeterminismError
        raise error(f"{self.function}: Can't use {api} in queries and mutations. Please consider "
                    "using an action. See https://docs.convex.dev/functions/actions for more details.")

    def snapshot_ts(self, _p: Mapping[str, Any]) -> Any:
        return to_json(int(self.ctx.txn.begin_ts))

    def transaction_metrics(self, _p: Mapping[str, Any]) -> Any:
        metrics = self.ctx.meta.get_transaction_metrics()
        return {CAMEL_NAMES[name]: {k: float(n) for k, n in figure.items()}
                for name, figure in metrics.items()}

    # -- auth, meta, nested calls -------------------------------------------------------------
    def user_identity(self, _p: Mapping[str, Any]) -> Any:
        return identity_json(self.ctx.auth.get_user_identity())

    def function_metadata(self, _p: Mapping[str, Any]) -> Any:
        meta = self.ctx.meta.get_function_metadata()
        return {"name": meta["name"], "componentPath": meta["component_path"]}

    def deployment_metadata(self, _p: Mapping[str, Any]) -> Any:
        """``ctx.meta.getDeploymentMetadata()`` (convex ``meta_impl.js``): the simulated
        deployment (its origins are ``sim.convex.cloud`` and ``sim.convex.site``)."""
        return {"name": DEPLOYMENT_NAME, "region": None, "class": DEPLOYMENT_CLASS}

    def request_metadata(self, _p: Mapping[str, Any]) -> Any:
        """``ctx.meta.getRequestMetadata()``: no client IP or user agent reaches a simulated
        call; the request ID is drawn from the call's seeded generator."""
        frame = _CURRENT.get()
        request_id = f"{frame.rng().getrandbits(64):016x}" if frame is not None else None
        return {"ip": None, "userAgent": None, "requestId": request_id}

    def audit_log(self, p: Mapping[str, Any]) -> Any:
        """``log.audit(body)`` (convex ``audit_logging.js``): kept with the call's log lines as
        ``[AUDIT] function: {json}`` (``$var`` sentinels as the app passed them)."""
        self._logs.append(f"[AUDIT] {self.function}: {json.dumps(p.get('body'), sort_keys=True)}")
        return None

    def run_udf(self, p: Mapping[str, Any]) -> Any:
        name, args = function_name(p), call_args(p)
        udf = p.get("udfType")
        limits = p.get("transactionLimits")
        if udf in (QUERY, "snapshotQuery"):
            return to_json(self.ctx.run_query(name, args, transaction_limits=limits,
                                              use_stale_snapshot=udf == "snapshotQuery"))
        if udf == MUTATION:
            self._writer("ctx.runMutation")
            return to_json(self.ctx.run_mutation(name, args, transaction_limits=limits))
        raise UnsupportedSyscallError(f"{self.function}: runUdf of kind {udf!r} is not supported.")

    def create_function_handle(self, p: Mapping[str, Any]) -> Any:
        fn = self.ctx._runtime.lookup(function_name(p), caller=self.function, ctx=self.ctx)
        return FUNCTION_HANDLE_PREFIX + (fn.path or "")

    # -- scheduler and storage in queries and mutations ----------------------------------------
    def schedule(self, p: Mapping[str, Any]) -> Any:
        return self.ctx.scheduler.run_at(float(p["ts"]) * 1000.0, function_name(p), call_args(p))

    def cancel_job(self, p: Mapping[str, Any]) -> Any:
        self.ctx.scheduler.cancel(decode(p["id"]))
        return None

    def storage_upload_url(self, _p: Mapping[str, Any]) -> Any:
        return self.ctx.storage.generate_upload_url()

    def storage_url(self, p: Mapping[str, Any]) -> Any:
        return self.ctx.storage.get_url(p["storageId"])

    def storage_metadata(self, p: Mapping[str, Any]) -> Any:
        return _metadata_json(self.ctx.storage.get_metadata(p["storageId"]))

    def storage_delete(self, p: Mapping[str, Any]) -> Any:
        self.ctx.storage.delete(p["storageId"])
        return None

    # -- action steps ---------------------------------------------------------------------------
    async def action_query(self, p: Mapping[str, Any]) -> Any:
        return to_json(await self.ctx.run_query(function_name(p), call_args(p)))

    async def action_mutation(self, p: Mapping[str, Any]) -> Any:
        return to_json(await self.ctx.run_mutation(function_name(p), call_args(p)))

    async def action_action(self, p: Mapping[str, Any]) -> Any:
        return to_json(await self.ctx.run_action(function_name(p), call_args(p)))

    async def action_schedule(self, p: Mapping[str, Any]) -> Any:
        return await self.ctx.scheduler.run_at(float(p["ts"]) * 1000.0, function_name(p), call_args(p))

    async def action_cancel(self, p: Mapping[str, Any]) -> Any:
        await self.ctx.scheduler.cancel(decode(p["id"]))
        return None

    async def vector_search(self, p: Mapping[str, Any]) -> Any:
        query = p["query"]
        table, _, index = query["indexName"].partition(".")
        options: dict[str, Any] = {"vector": [float(x) for x in query["vector"]]}
        if query.get("limit") is not None:
            options["limit"] = int(query["limit"])
        if query.get("expressions") is not None:
            options["filter"] = _vector_filter(query["expressions"])
        results = await self.ctx.vector_search(table, index, options)
        return {"results": [{"_id": r["_id"], "_score": r["_score"]} for r in results]}

    async def storage_store(self, p: Mapping[str, Any]) -> Any:
        data = base64.b64decode(p["blob"])
        return await self.ctx.storage.store(data, p.get("contentType") or None)

    async def storage_get(self, p: Mapping[str, Any]) -> Any:
        data = await self.ctx.storage.get(p["storageId"])
        if data is None:
            return None
        meta = await self.ctx.storage.get_metadata(p["storageId"])
        return {"blob": base64.b64encode(data).decode("ascii"),
                "contentType": (meta or {}).get("content_type")}

    async def action_storage_url(self, p: Mapping[str, Any]) -> Any:
        return await self.ctx.storage.get_url(p["storageId"])

    async def action_storage_metadata(self, p: Mapping[str, Any]) -> Any:
        return _metadata_json(await self.ctx.storage.get_metadata(p["storageId"]))

    async def action_upload_url(self, _p: Mapping[str, Any]) -> Any:
        return await self.ctx.storage.generate_upload_url()

    async def action_storage_delete(self, p: Mapping[str, Any]) -> Any:
        await self.ctx.storage.delete(p["storageId"])
        return None

    async def fetch(self, p: Mapping[str, Any]) -> Any:
        """``fetch`` from an action: an httpx request (so ``respx`` mocks it)."""
        body = base64.b64decode(p["body"]) if p.get("body") is not None else None
        async with httpx.AsyncClient() as client:
            response = await client.request(p["method"], p["url"], headers=p.get("headers") or [],
                                            content=body)
        return {"status": response.status_code, "statusText": response.reason_phrase,
                "headers": [[k, v] for k, v in response.headers.multi_items()],
                "body": base64.b64encode(response.content).decode("ascii"), "url": str(response.url)}


def _metadata_json(meta: Mapping[str, Any] | None) -> Any:
    return None if meta is None else system_json(dict(meta))


def _vector_filter(expr: Any) -> Callable[[Any], Any]:
    """The package's vector filter (``{"$eq": [{"$field": f}, {"$literal": x}]}`` / ``$or``)
    as the ``filter`` option ``ctx.vector_search`` takes."""
    def build(q: Any, e: Any) -> Any:
        (op, arg), = e.items()
        if op == "$or":
            return q.or_(*(build(q, a) for a in arg))
        if op == "$eq":
            field = next(a["$field"] for a in arg if "$field" in a)
            value = next(decode(a["$literal"]) for a in arg if "$literal" in a)
            return q.eq(field, value)
        raise UnsupportedSyscallError(f"Unknown vector filter operator {op!r}.")
    return lambda q: build(q, expr)


_SYNC: dict[str, Callable[[Host, Any], Any]] = {
    "1.0/queryStream": Host.query_stream,
    "1.0/queryCleanup": Host.query_cleanup,
    "1.0/db/normalizeId": Host.normalize_id,
    "1.0/getSnapshotTs": Host.snapshot_ts,
    "convex-sim/refuse": Host.refuse,
}
_ASYNC: dict[str, Callable[[Host, Any], Any]] = {
    "1.0/get": Host.get,
    "1.0/insert": Host.insert,
    "1.0/shallowMerge": Host.shallow_merge,
    "1.0/replace": Host.replace,
    "1.0/remove": Host.remove,
    "1.0/queryStreamNext": Host.query_stream_next,
    "1.0/queryPage": Host.query_page,
    "1.0/count": Host.count,
    "1.0/getUserIdentity": Host.user_identity,
    "1.0/getFunctionMetadata": Host.function_metadata,
    "1.0/getTransactionMetrics": Host.transaction_metrics,
    "1.0/getDeploymentMetadata": Host.deployment_metadata,
    "1.0/getRequestMetadata": Host.request_metadata,
    "1.0/auditLog": Host.audit_log,
    "1.0/runUdf": Host.run_udf,
    "1.0/createFunctionHandle": Host.create_function_handle,
    "1.0/schedule": Host.schedule,
    "1.0/cancel_job": Host.cancel_job,
    "1.0/storageGenerateUploadUrl": Host.storage_upload_url,
    "1.0/storageGetUrl": Host.storage_url,
    "1.0/storageGetMetadata": Host.storage_metadata,
    "1.0/storageDelete": Host.storage_delete,
}
_STEPS: dict[str, Callable[[Host, Any], Any]] = {
    "1.0/actions/query": Host.action_query,
    "1.0/actions/mutation": Host.action_mutation,
    "1.0/actions/action": Host.action_action,
    "1.0/actions/schedule": Host.action_schedule,
    "1.0/actions/cancel_job": Host.action_cancel,
    "1.0/actions/vectorSearch": Host.vector_search,
    "1.0/storageStore": Host.storage_store,
    "1.0/storageGet": Host.storage_get,
    "1.0/storageGetUrl": Host.action_storage_url,
    "1.0/storageGetMetadata": Host.action_storage_metadata,
    "1.0/storageGenerateUploadUrl": Host.action_upload_url,
    "1.0/storageDelete": Host.action_storage_delete,
    "convex-sim/fetch": Host.fetch,
}
#: Every op this module answers (documented in docs/typescript.md).
SUPPORTED_OPS = tuple(sorted({*_SYNC, *_ASYNC, *_STEPS, "storage/storeBlob", "storage/getBlob",
                              "requestFromConvexJson", "convexJsonFromResponse"}))
