"""The ASGI app: Convex's function-call HTTP API and the project's HTTP actions, one request
at a time against one simulator (so a run is as deterministic as the order of its requests)."""

from __future__ import annotations

import base64
import json
import math
import threading
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..auth import AuthError
from ..errors import InvalidValueError
from ..functions import ACTION, MUTATION, QUERY
from ..sim import ConvexSim
from ..values import from_json, to_json
from .replies import error_reply, public_function
from .sync import HEARTBEAT_S, SyncHub

#: Where the project's HTTP actions are served, under the deployment URL (as Convex's
#: self-hosted backend also serves them beside its ``.convex.site`` origin).
HTTP_ACTIONS_PREFIX = "/http"
FORMATS = ("convex_encoded_json", "json")
_KINDS = {"query": QUERY, "mutation": MUTATION, "action": ACTION}


class BadRequest(Exception):
    """A request body the API cannot read: answered 400 with Convex's ``BadJsonBody`` code."""


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    """Convex's shape for a request refused before any function ran."""
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _plain_json(value: Any) -> Any:
    """A value in Convex's ``json`` format: int64 as a number, bytes as base64."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list | tuple):
        return [_plain_json(x) for x in value]
    if isinstance(value, dict):
        return {k: _plain_json(x) for k, x in value.items()}
    return to_json(value)


async def _call_body(request: Request, path: str | None = None) -> tuple[str, dict[str, Any], str]:
    """The function path, its decoded arguments and the reply format of a call's body.
    ``args`` is an object, or an array of one object (as ConvexHttpClient sends it)."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise BadRequest(f"The request body is not JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    path = path or body.get("path")
    if not isinstance(path, str) or not path:
        raise BadRequest('The request body needs "path", the function to call ("module:name").')
    fmt = body.get("format") or "json"
    if fmt not in FORMATS:
        raise BadRequest(f'"format" must be one of {list(FORMATS)}, got {fmt!r}.')
    args = body.get("args", {})
    if isinstance(args, list):
        if len(args) != 1:
            raise BadRequest(f'"args" as an array holds exactly one object, got {len(args)} items.')
        args = args[0]
    if not isinstance(args, dict):
        raise BadRequest('"args" must be a JSON object of the function\'s arguments.')
    try:
        return path, from_json(args), fmt
    except InvalidValueError as exc:
        raise BadRequest(f'"args" is not a Convex value: {exc}') from exc


def make_app(sim: ConvexSim, *, heartbeat_s: float | None = HEARTBEAT_S) -> Starlette:
    """An ASGI app serving ``sim``: ``POST /api/query|mutation|action|function``,
    ``POST /api/run/{module}/{function}``, the HTTP actions under ``/http/``, and the sync
    WebSocket (``/api/sync``, ``/api/<version>/sync``) with a ``Ping`` after ``heartbeat_s``
    seconds without a message (None: never)."""
    lock = threading.Lock()

    def locked(call: Callable[[], Any]) -> Any:
        with lock:
            return call()

    def caller(request: Request) -> Any:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return sim
        scheme, _, token = auth.partition(" ")
        if scheme != "Bearer" or not token:
            raise AuthError("Only 'Authorization: Bearer <token>' is accepted here (no admin keys).")
        return sim.with_token(token)

    def run(handle_of: Callable[[], Any], kind: str | None, path: str, args: dict[str, Any],
            fmt: str) -> dict:
        """Run one call as ``handle_of()``'s caller; its reply body (``status`` success or
        error, with ``logLines``)."""
        before = sim.calls.total
        try:
            handle = handle_of()
            fn = public_function(sim, path, kind)
            value = getattr(handle, fn.kind)(path, args)
            reply = {"status": "success",
                     "value": to_json(value) if fmt == "convex_encoded_json" else _plain_json(value)}
        except AuthError:
            raise
        except Exception as exc:   # the app's own error (Convex reports it as uncaught) or a refusal
            reply = error_reply(exc)
        reply["logLines"] = list(sim.calls[-1].logs) if sim.calls.total > before else []
        return reply

    hub = SyncHub(sim, run, locked, heartbeat_s=heartbeat_s)

    async def answer(request: Request, kind: str | None, path: str | None = None) -> Response:
        try:
            fn_path, args, fmt = await _call_body(request, path)
            reply = await run_in_threadpool(hub.locked, lambda: run(lambda: caller(request), kind,
                                                                    fn_path, args, fmt))
        except BadRequest as exc:
            return _refusal(400, "BadJsonBody", str(exc))
        except AuthError as exc:
            return _refusal(401, "Unauthenticated", str(exc))
        if kind != QUERY:   # it may have written: subscribed clients get the new results
            await hub.committed()
        return JSONResponse(reply)

    def endpoint(kind: str | None) -> Callable[[Request], Any]:
        async def call(request: Request) -> Response:
            return await answer(request, kind)
        return call

    async def run_by_url(request: Request) -> Response:
        module, _, name = request.path_params["function"].rpartition("/")
        return await answer(request, None, f"{module}:{name}" if module else name)

    async def http_action(request: Request) -> Response:
        path = request.url.path[len(HTTP_ACTIONS_PREFIX):] or "/"
        if request.url.query:
            path += f"?{request.url.query}"
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        got = await run_in_threadpool(hub.locked, lambda: sim.fetch(path, request.method,
                                                                    content=body or None, headers=headers))
        await hub.committed()
        excluded = ("content-length", "content-encoding", "transfer-encoding")
        return Response(got.content, status_code=got.status_code,
                        headers={k: v for k, v in got.headers.items() if k.lower() not in excluded})

    routes = [Route(f"/api/{name}", endpoint(kind), methods=["POST"]) for name, kind in _KINDS.items()]
    routes += [Route("/api/function", endpoint(None), methods=["POST"]),
               Route("/api/run/{function:path}", run_by_url, methods=["POST"]),
               Route(HTTP_ACTIONS_PREFIX + "/{rest:path}", http_action,
                     methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
               *hub.routes()]
    app = Starlette(routes=routes)
    app.state.sync_hub = hub   # Server.stop() closes it
    return app
