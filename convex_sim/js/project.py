"""A Convex project's TypeScript functions, registered into convex-sim's own registry.

A :class:`JsFunction` is a :class:`~convex_sim.functions.ConvexFunction` like
any Python one — a kind, a visibility, validators and an ``invoke`` — so the
runtime, scheduler, subscriptions and explorer run it unchanged. Its
``invoke`` runs the function in the shared engine and serves its syscalls
through :mod:`convex_sim.js.abi`.

The schema's exported JSON and each function's exported validators become
convex-sim's own schema and validators, so errors read the same as for
Python apps.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from ..errors import ConvexSimError, hide_simulator_frames
from ..functions import (
    ACTION,
    HTTP_ACTION,
    INTERNAL,
    PUBLIC,
    ConvexFunction,
    Registry,
)
from ..http import HttpRouter, Route, deployment_env
from ..scheduler import Crons
from ..schema import SchemaDefinition, define_schema, define_table
from ..steps import UnawaitedCallError
from ..validators import Int64Validator, Validator, v
from ..values import COMMIT_TS, from_json, to_json
from .abi import Host, function_name
from .bundler import Bundle, bundle_project
from .components import app_definition, components_changed
from .engine import Engine, Execution, JsStuckError, dumps, engine_for, error_payload
from .node_runner import NodeEngine, node_engine_for

# --- validators and schema from their exported JSON ---------------------------------------------


__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours

#: Validators with no parameters, by the ``type`` their JSON export names.
_SCALARS = {"string": v.string, "number": v.float64, "bigint": v.int64, "boolean": v.boolean,
            "null": v.null, "any": v.any, "bytes": v.bytes,
            "function": v.string}  # v.function() (convex 1.51): a function handle string


def validator_from_json(spec: Mapping[str, Any], where: str) -> Validator:
    """A convex-sim validator for the JSON a ``convex`` validator exports (``{"type": ...}``)."""
    kind = spec.get("type")
    if kind in _SCALARS:
        return _SCALARS[kind]()
    if kind == "id":
        return v.id(spec["tableName"])
    if kind == "commitTs":
        return CommitTsValidator()
    if kind == "literal":
        return v.literal(from_json(spec["value"]))
    if kind == "array":
        return v.array(validator_from_json(spec["value"], where))
    if kind == "object":
        return v.object({name: _field(f, where) for name, f in spec["value"].items()})
    if kind == "record":
        return v.record(validator_from_json(spec["keys"], where), _field(spec["values"], where))
    if kind == "union":
        return v.union(*(validator_from_json(m, where) for m in spec["value"]))
    raise ConvexSimError(f"{where}: unknown validator type {kind!r} in {json.dumps(spec)[:200]}")


class CommitTsValidator(Int64Validator):
    """``v.commitTs()``: any int64, or ``ctx.db.vars.commitTs`` (filled in at commit)."""

    name = "commitTs"

    def check(self, value: Any, path: tuple = (), ids: Any = None) -> Any:
        return value if value is COMMIT_TS else super().check(value, path, ids)


def _field(spec: Mapping[str, Any], where: str) -> Validator:
    inner = validator_from_json(spec["fieldType"], where)
    return v.optional(inner) if spec.get("optional") else inner


def schema_from_json(exported: str | None) -> SchemaDefinition | None:
    """``defineSchema(...).export()`` as a convex-sim schema."""
    if exported is None:
        return None
    data = json.loads(exported)
    tables = {}
    for table in data["tables"]:
        name = table["tableName"]
        doc = table.get("documentType") or {"type": "any"}
        definition = define_table(validator_from_json(doc, f"schema table {name!r}"))
        for index in table.get("indexes", []):
            definition = definition.index(index["indexDescriptor"], index["fields"])
        for index in table.get("searchIndexes", []):
            definition = definition.search_index(index["indexDescriptor"], search_field=index["searchField"],
                                                 filter_fields=index.get("filterFields", []))
        for index in table.get("vectorIndexes", []):
            definition = definition.vector_index(index["indexDescriptor"], vector_field=index["vectorField"],
                                                 dimensions=index["dimensions"],
                                                 filter_fields=index.get("filterFields", []))
        tables[name] = definition
    return define_schema(tables, schema_validation=data.get("schemaValidation", True))


def crons_from_json(exported: Mapping[str, Any] | None) -> Crons | None:
    """``cronJobs()``'s ``crons`` map as convex-sim :class:`Crons`."""
    if not exported:
        return None
    crons = Crons()
    for name, job in exported.items():
        schedule = job["schedule"]
        ref = job["name"]
        args = from_json(job["args"][0]) if job.get("args") else {}
        kind = schedule.get("type")
        utc = {"minute_utc": schedule.get("minuteUTC", 0), "hour_utc": schedule.get("hourUTC", 0)}
        if kind == "interval":
            crons.interval(name, {k: schedule[k] for k in ("seconds", "minutes", "hours") if k in schedule}, ref, args)
        elif kind == "hourly":
            crons.hourly(name, utc, ref, args)
        elif kind == "daily":
            crons.daily(name, utc, ref, args)
        elif kind == "weekly":
            crons.weekly(name, {**utc, "day_of_week": schedule["dayOfWeek"]}, ref, args)
        elif kind == "monthly":
            crons.monthly(name, {**utc, "day": schedule["day"]}, ref, args)
        elif kind == "cron":
            crons.cron(name, schedule["cron"], ref, args)
        else:
            raise ConvexSimError(f"crons.ts: cron job {name!r} has an unknown schedule {schedule!r}")
    return crons


# --- functions --------------------------------------------------------------------------------------


class JsFunction(ConvexFunction):
    """A function exported by the project's TypeScript; ``invoke`` runs it in the engine."""

    def __init__(self, project: Project, kind: str, visibility: str, path: str,
                 args: Validator | None, returns: Validator | None, route: str | None = None,
                 engine: Engine | NodeEngine | None = None) -> None:
        super().__init__(kind, visibility, _no_python_handler, args, returns)
        self.project, self.path, self.route = project, path, route
        #: Where it runs: the project's embedded engine, or Node.js for a "use node" action.
        self.engine = engine
        self.is_async = kind in (ACTION, HTTP_ACTION)
        self.__name__ = path
        self.__module__ = "convex/" + path.split(":")[0]

    def invoke(self, ctx: Any, args: Any) -> Any:
        engine = self.engine or self.project.engine
        runtime = ctx._runtime
        engine.set_env(runtime.env)
        host = Host(ctx, self.path or "", self.kind, runtime.logs)
        if self.kind == HTTP_ACTION:
            return self._serve_http(engine, host, args)
        args_json = dumps([to_json(args)])
        if self.kind == ACTION:
            return self._run_action(engine, host, ACTION, args_json)
        execution = engine.start(host, self.kind, self.module_path, args_json, host.now_ms())
        return engine.result(execution)

    async def _run_action(self, engine: Engine, host: Host, kind: str, args_json: str) -> Any:
        """Drive an action (or, with kind ``http``, the router's ``runRequest``) step by step."""
        target = (self.project.router_path or "") if kind == "http" else self.module_path
        execution = engine.start(host, kind, target, args_json, host.now_ms())
        try:
            while execution.outcome is None:
                await self._step(engine, host, execution)
            result = engine.raw_result(execution) if kind == "http" else engine.result(execution)
            if execution.pending:
                raise self._dangling_error(engine, execution)
            return result
        finally:
            engine.forget(execution)

    async def _step(self, engine: Engine, host: Host, execution: Execution) -> None:
        if execution.pending:
            request_id, op, payload = execution.pending.popleft()
            try:
                result = "=" + dumps(await host.perform(op, payload))
            except Exception as exc:
                execution.errors.append(exc)
                result = "!" + error_payload(exc)
            engine.settle(execution, request_id, result, host.now_ms())
        elif (due := engine.next_timer_due(execution)) is not None:
            if due > host.now_ms():  # the action waits: the virtual clock moves (see steps.py)
                await asyncio.sleep((due - host.now_ms()) / 1000.0)
            engine.fire_timer(execution, host.now_ms())
        else:
            raise JsStuckError(
                f"{self.path} did not finish: it awaits a promise that nothing will ever settle "
                "(no pending ctx call, fetch or timer is left).")

    def _dangling_error(self, engine: Engine | NodeEngine, execution: Execution) -> UnawaitedCallError:
        """The action returned while promises of ctx calls were still pending (never awaited):
        each named as the app wrote it, and a note says where it made each."""
        calls = [_describe_syscall(op, payload) for _id, op, payload in execution.pending]
        error = UnawaitedCallError(
            f"{self.path} returned without awaiting {'; '.join(calls)}, so "
            f"{'it' if len(calls) == 1 else 'they'} never ran. Await every ctx "
            "call in an action (`await ctx.runMutation(...)`, or Promise.all for several); "
            "Convex reports such dangling operations too.")
        sites = [(call, engine.source_map.app_frames(engine.site_of(execution, request_id)))
                 for call, (request_id, _op, _payload) in zip(calls, execution.pending, strict=True)]
        where = [f"{call} at {frames[0].where()}" for call, frames in sites if frames]
        if where:
            error.add_note("\n".join(where))
        return error

    @property
    def module_path(self) -> str:
        """``"module:export"`` in its own bundle (a component's copy has a longer ``path``)."""
        return getattr(self, "local_path", None) or self.path or ""

    async def _serve_http(self, engine: Engine, host: Host, request: httpx.Request) -> httpx.Response:
        body = request.read()
        convex_json = json.dumps({
            "url": str(request.url), "method": request.method,
            "headers": [[k, v] for k, v in request.headers.multi_items()],
            "body": base64.b64encode(body).decode("ascii") if body else None})
        text = await self._run_action(engine, host, "http", convex_json)
        data = json.loads(text)
        return httpx.Response(data["status"], headers=data["headers"],
                              content=base64.b64decode(data["body"]) if data.get("body") else b"")


def _describe_syscall(op: str, payload: Any) -> str:
    """An action step's syscall as the app wrote it: ``ctx.runMutation("bank:debit")``."""
    name = op.rsplit("/", 1)[-1]
    call = {"query": "ctx.runQuery", "mutation": "ctx.runMutation", "action": "ctx.runAction",
            "schedule": "ctx.scheduler.runAfter/runAt", "cancel_job": "ctx.scheduler.cancel",
            "vectorSearch": "ctx.vectorSearch", "storageStore": "ctx.storage.store",
            "storageGet": "ctx.storage.get"}.get(name, op)
    if name in ("query", "mutation", "action", "schedule"):
        return f'{call}("{function_name(payload)}")'
    return f"{call}(...)"


def _no_python_handler(ctx: Any, args: Any) -> Any:  # pragma: no cover - JsFunction overrides invoke
    raise AssertionError("a JavaScript function has no Python handler")


# --- the project ------------------------------------------------------------------------------------------


@dataclass
class Project:
    """A loaded Convex project: its engine, registry, schema, crons, HTTP routes, auth config."""

    path: str
    engine: Engine
    registry: Registry = field(default_factory=Registry)
    schema: SchemaDefinition | None = None
    crons: Crons | None = None
    http: HttpRouter | None = None
    router_path: str | None = None
    auth_providers: list[dict] = field(default_factory=list)
    #: The components ``convex/convex.config.ts`` installs (``define_app()``), or None.
    app: Any = None
    #: The bundle each component folder was loaded from (to notice edits inside them).
    component_bundles: dict[Path, Any] = field(default_factory=dict)
    #: ``process.env`` the project was loaded with (simulators made from it start with it).
    env: dict[str, str] = field(default_factory=dict)


_PROJECTS: dict[str, tuple[Bundle, Project]] = {}


def load_project(path: str | os.PathLike[str], source: str | os.PathLike[str] | None = None,
                 env: Mapping[str, str] | None = None) -> Project:
    """Bundle (from cache when unchanged) and load the project at ``path``; projects are shared
    between simulators, never their databases. ``source`` is the folder of functions
    (a component's own folder for a component); ``env`` is ``process.env`` while the bundle's
    top level runs, over ``CONVEX_CLOUD_URL`` and ``CONVEX_SITE_URL`` (each environment loads
    the project once)."""
    bundle = bundle_project(path, source)
    env = deployment_env(dict(env or {}))
    key = f"{bundle.project}\0{source or ''}\0{json.dumps(env, sort_keys=True)}"
    cached = _PROJECTS.get(key)
    if cached is not None and cached[0] is bundle:
        project = cached[1]
        if source is None and components_changed(project):
            project.app = app_definition(project, bundle)
        return project
    engine = engine_for(bundle, env)
    manifest = engine.manifest
    project = Project(str(bundle.project), engine, env=env)
    project.schema = schema_from_json(manifest.get("schema"))
    for entry in manifest["functions"]:
        if entry["kind"] == "router":
            project.router_path = entry["path"]
            project.http = _router(project, entry)
            continue
        _register(project, entry)
    if bundle.node_file is not None:  # "use node" modules: actions in Node.js
        node_engine = node_engine_for(bundle, env)
        for entry in node_engine.manifest["functions"]:
            _register(project, entry, node_engine)
    project.crons = crons_from_json(manifest.get("crons"))
    # where ConvexSim looks for an app's crons and HTTP router
    project.registry.modules.update(crons=SimpleNamespace(crons=project.crons),
                                    http=SimpleNamespace(http=project.http))
    auth = manifest.get("authConfig") or {}
    project.auth_providers = [{"domain": p["domain"], "application_id": p.get("applicationID")}
                              for p in auth.get("providers", []) if "domain" in p]
    _PROJECTS[key] = (bundle, project)
    if source is None:
        project.app = app_definition(project, bundle)
    return project


def _register(project: Project, entry: Mapping[str, Any], engine: NodeEngine | None = None) -> None:
    """Register one function of a manifest (its validators from their exported JSON)."""
    where = f"{entry['path']} (args)"
    args_spec, returns_spec = json.loads(entry["args"]), json.loads(entry["returns"])
    args_v = None if args_spec.get("type") == "any" else validator_from_json(args_spec, where)
    returns_v = None if returns_spec is None else validator_from_json(returns_spec, f"{entry['path']} (returns)")
    fn = JsFunction(project, entry["kind"], INTERNAL if entry["visibility"] == INTERNAL else PUBLIC,
                    entry["path"], args_v, returns_v, engine=engine)
    project.registry.register(entry["path"], fn)


def _router(project: Project, entry: Mapping[str, Any]) -> HttpRouter:
    router = HttpRouter()
    for path, method in entry["routes"]:
        prefix = path.endswith("*")
        handler = JsFunction(project, HTTP_ACTION, PUBLIC, f"{entry['path']} {method} {path}", None, None,
                             route=path)
        router.routes.append(Route(method, path[:-1] if prefix else path, prefix, handler))
    return router

