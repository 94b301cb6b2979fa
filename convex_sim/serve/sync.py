"""Convex's WebSocket sync protocol (``/api/sync``, ``/api/<version>/sync``), as
convex-backend's sync worker speaks it (``crates/sync/src/worker.rs``) to ``ConvexClient``,
``ConvexReactClient`` and the Python ``convex.ConvexClient``.

Each connection's queries are subscriptions of the simulator's own
:class:`~convex_sim.subscriptions.SubscriptionManager`: after a commit only the queries whose
read set it touched are re-run, and those re-runs are not calls (``sim.calls`` records what
clients called, not what the server recomputed for them). Timestamps are the simulator's
commit timestamps (``sim.db.latest_ts``), so a mutation's ``ts`` is reached by the next
``Transition``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from ..auth import AuthError
from ..functions import ACTION, MUTATION, QUERY
from ..sim import ConvexSim
from ..subscriptions import Client, Subscription
from ..values import from_json, to_json
from .protocol import CLIENT_MESSAGES, decode_ts, encode_ts
from .replies import error_reply, public_function
from .versions import Refusal, client_version_refusal

#: ``run(handle, kind, path, args, format)``: one call's reply body, as the HTTP API answers it.
Runner = Callable[[Callable[[], Any], str | None, str, dict[str, Any], str], dict[str, Any]]
#: ``locked(call)``: ``call()`` with the server's lock held (one request at a time).
Locked = Callable[[Callable[[], Any]], Any]
#: Where the sync endpoint listens: the Python and Rust clients use the first, npm the second.
SYNC_PATHS = ("/api/sync", "/api/{version}/sync")
SYNC_PATH = SYNC_PATHS[1]
#: Seconds without a message to a client before it gets a ``Ping`` (the backend's
#: ``HEARTBEAT_INTERVAL``); the npm client reconnects after 60 s without one.
HEARTBEAT_S = 5.0
#: How many committed mutations are remembered by (session, request id), so a mutation that a
#: reconnecting client sends again is answered, not run twice (as the backend does).
MUTATIONS_REMEMBERED = 10_000
_FORMAT = "convex_encoded_json"


class ProtocolError(Exception):
    """A message the protocol refuses: the client gets ``FatalError`` with this text and the
    connection is closed with ``code`` (``reason`` in the close frame)."""

    def __init__(self, message: str, code: int = 1008, reason: str = "") -> None:
        super().__init__(message)
        self.code, self.reason = code, reason


def _version(query_set: int, identity: int, ts: int) -> dict[str, Any]:
    return {"querySet": query_set, "identity": identity, "ts": encode_ts(ts)}


def _args(args: Any) -> dict[str, Any]:
    """A call's arguments: the protocol sends an array of one encoded object."""
    if isinstance(args, list):
        args = args[0] if args else {}
    return from_json(args or {})


@dataclass(eq=False)
class Connection:
    """One client's state: its query set and identity, and what it was last sent."""

    socket: WebSocket
    handle: Any
    last_sent: float = 0.0
    session_id: str | None = None
    query_set: int = 0
    identity: int = 0
    sent: dict[str, Any] = field(default_factory=lambda: _version(0, 0, 0))
    #: Query id -> what the client asked for (path, encoded args).
    asked: dict[int, tuple[str, Any]] = field(default_factory=dict)
    #: Query id -> its live subscription, or the reply of one that could not subscribe.
    entries: dict[int, Subscription | dict[str, Any]] = field(default_factory=dict)
    #: Query id -> (instance number, its evaluation ts, canonical result) last sent.
    shown: dict[int, tuple[int, int, str]] = field(default_factory=dict)
    removed: list[int] = field(default_factory=list)
    client: Client | None = None
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)

    def drop_client(self) -> None:
        """Leave the simulator's subscriptions (with the server's lock held)."""
        if self.client is not None:
            self.client.close()
            self.client = None
        self.entries.clear()


class SyncHub:
    """The sync endpoint of one served simulator and its connections."""

    def __init__(self, sim: ConvexSim, run: Runner, locked: Locked, *,
                 heartbeat_s: float | None = HEARTBEAT_S) -> None:
        self.sim = sim
        self.run = run
        self._outer_locked = locked
        self.heartbeat_s = heartbeat_s
        self.connections: set[Connection] = set()
        self._mutations: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._inside = threading.local()   # .active: this thread runs the hub's locked work
        self._loop: asyncio.AbstractEventLoop | None = None

    def locked(self, call: Callable[[], Any]) -> Any:
        """``call()`` with the server's lock held, marked as the server's own work."""
        def marked() -> Any:
            self._inside.active = True
            try:
                return call()
            finally:
                self._inside.active = False
        return self._outer_locked(marked)

    def close(self) -> None:
        """Stop following the simulator's commits (the server stopped)."""
        with contextlib.suppress(ValueError):
            self.sim.db.commit_listeners.remove(self._on_commit)
        self._loop = None

    def _on_commit(self, commit: Any) -> None:
        """A commit made outside the server (the test's own ``sim.mutation(...)``, another
        thread): the connections get their transitions on the server's loop. The server's
        own calls send theirs themselves."""
        loop = self._loop
        if loop is None or getattr(self._inside, "active", False) or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):   # the loop closed meanwhile
            loop.call_soon_threadsafe(lambda: loop.create_task(self.committed()))

    def routes(self) -> list[WebSocketRoute]:
        """The starlette routes of the sync endpoint."""
        return [WebSocketRoute(path, self.serve) for path in SYNC_PATHS]

    def route(self) -> WebSocketRoute:
        """The versioned route alone (``/api/<version>/sync``)."""
        return self.routes()[1]

    async def committed(self) -> None:
        """A call that may have written finished: every connection whose query results
        changed gets a ``Transition`` to the latest timestamp."""
        for conn in list(self.connections):
            await self._transition(conn, force=False)

    # -- a connection ------------------------------------------------------------------------
    async def serve(self, socket: WebSocket) -> None:
        """One connection, message by message, until the client goes."""
        refusal = client_version_refusal(socket.headers.get("convex-client"),
                                         socket.path_params.get("version"))
        if refusal is not None:
            await _refuse(socket, refusal)
            return
        await socket.accept()
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self.sim.db.commit_listeners.append(self._on_commit)
        conn = Connection(socket, self.sim, last_sent=self._loop.time())
        self.connections.add(conn)
        beat = asyncio.create_task(self._heartbeat(conn)) if self.heartbeat_s else None
        try:
            while True:
                frame = await socket.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                try:
                    await self._handle(conn, _parse(frame.get("text")))
                except ProtocolError as exc:
                    await self._fatal(conn, str(exc), exc.code, exc.reason)
                    return
                except (ValueError, KeyError, TypeError) as exc:
                    problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                    await self._fatal(conn, f"malformed message: {problem}", 1008)
                    return
        except (WebSocketDisconnect, WebSocketDisconnected, OSError):
            pass
        finally:
            if beat is not None:
                beat.cancel()
            self.connections.discard(conn)
            await run_in_threadpool(self.locked, conn.drop_client)

    async def _handle(self, conn: Connection, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "Connect":
            self._connect(conn, message)
        elif kind == "ModifyQuerySet":
            base, new = message["baseVersion"], message["newVersion"]
            if base != conn.query_set:
                raise ProtocolError(f"Base version {base} passed up doesn't match the current "
                                    f"version {conn.query_set}")
            if type(new) is not int or new <= base:
                raise ValueError(f"newVersion must be an integer above baseVersion {base}, got {new!r}")
            changes = message["modifications"]
            await run_in_threadpool(self.locked, lambda: self._modify(conn, changes))
            conn.query_set = new
            await self._transition(conn, force=True)
        elif kind == "Authenticate":
            await self._authenticate(conn, message)
        elif kind in ("Mutation", "Action"):
            await self._call(conn, message, MUTATION if kind == "Mutation" else ACTION)
        # Event needs no answer.

    def _connect(self, conn: Connection, message: dict[str, Any]) -> None:
        """``Connect``: the session, and a refusal if the client has seen a later timestamp
        than this server has (it talked to another server: a linearizability violation)."""
        session = message["sessionId"]
        if not isinstance(session, str):
            raise ValueError(f"sessionId must be a string, got {session!r}")
        conn.session_id = session
        observed = message.get("maxObservedTimestamp")
        if observed is not None:
            seen, latest = decode_ts(observed), self.sim.db.latest_ts
            if seen > latest:
                raise ProtocolError(
                    f"Client has observed a timestamp {seen} ahead of the backend latest known "
                    f"timestamp {latest}: it was connected to another server (a restarted "
                    "convex-sim serve?) whose writes this one does not have; reload the client.",
                    code=1011, reason="InternalServerError")

    def _modify(self, conn: Connection, changes: list[dict[str, Any]]) -> None:
        """Apply ``ModifyQuerySet``'s changes (with the server's lock held)."""
        for change in changes:
            query_id = change["queryId"]
            if change["type"] == "Add":
                conn.asked[query_id] = (change["udfPath"], change.get("args"))
                self._unsubscribe(conn, query_id)
                conn.shown.pop(query_id, None)
                self._subscribe(conn, query_id)
            elif change["type"] == "Remove":
                conn.asked.pop(query_id, None)
                self._unsubscribe(conn, query_id)
                conn.shown.pop(query_id, None)
                conn.removed.append(query_id)
            else:
                raise ValueError(f"a query set modification is Add or Remove, got {change['type']!r}")

    def _subscribe(self, conn: Connection, query_id: int) -> None:
        path, args = conn.asked[query_id]
        try:
            public_function(self.sim, path, QUERY)
            if conn.client is None:
                identity = getattr(conn.handle, "identity", None) if conn.handle is not self.sim else None
                conn.client = self.sim.subscriptions.client(identity)
                conn.client.keep_transitions = conn.client.keep_history = 0   # the socket keeps them
            conn.entries[query_id] = conn.client.subscribe(path, _args(args))
        except Exception as exc:   # unknown or internal function, bad arguments: QueryFailed
            conn.entries[query_id] = error_reply(exc)

    @staticmethod
    def _unsubscribe(conn: Connection, query_id: int) -> None:
        entry = conn.entries.pop(query_id, None)
        if isinstance(entry, Subscription):
            entry.unsubscribe()

    async def _authenticate(self, conn: Connection, message: dict[str, Any]) -> None:
        """``Authenticate``: a user token (or none) becomes the connection's identity and every
        query is answered anew as that user."""
        base = message["baseVersion"]
        if base != conn.identity:
            raise ProtocolError(f"Authenticate: baseVersion {base} doesn't match the current "
                                f"identity version {conn.identity}")
        token_type = message.get("tokenType")
        try:
            if token_type == "User":
                token = message["value"]
                handle = await run_in_threadpool(self.locked, lambda: self.sim.with_token(token))
            elif token_type in ("None", None):
                handle = self.sim
            else:
                raise AuthError(f"convex-sim serve accepts user tokens (tokenType User) only, "
                                f"not tokenType {token_type!r} (admin keys are not served).")
        except AuthError as exc:
            await self._auth_error(conn, str(exc), attempted=True)
            return

        def reidentify() -> None:
            conn.drop_client()
            conn.handle = handle
            conn.shown.clear()   # every query is answered anew for the new identity
            for query_id in sorted(conn.asked):
                self._subscribe(conn, query_id)

        await run_in_threadpool(self.locked, reidentify)
        conn.identity = base + 1
        await self._transition(conn, force=True)

    async def _call(self, conn: Connection, message: dict[str, Any], kind: str) -> None:
        """A ``Mutation`` or ``Action``: run it as the connection's user, answer, then send a
        ``Transition`` (to this client always: it waits for one reaching the mutation's
        ``ts``; to the others when their results changed)."""
        request_id, path, raw_args = message["requestId"], message["udfPath"], message.get("args")
        key = (conn.session_id, request_id) if kind == MUTATION and conn.session_id else None
        answer = self._mutations.get(key) if key is not None else None
        if answer is None:
            handle = conn.handle

            def call() -> tuple[dict[str, Any], int]:
                try:
                    args = _args(raw_args)
                except Exception as exc:   # not Convex values: the call fails, the socket stays
                    return {**error_reply(exc), "logLines": []}, self.sim.db.latest_ts
                return self.run(lambda: handle, kind, path, args, _FORMAT), self.sim.db.latest_ts

            try:
                reply, ts = await run_in_threadpool(self.locked, call)
            except AuthError as exc:   # the token no longer validates (the clock moved past it)
                await self._auth_error(conn, str(exc), attempted=False)
                return
            answer = _response(kind, request_id, reply, ts)
            if key is not None and answer["success"]:
                self._remember(key, answer)
        await self._send(conn, answer)
        await self._transition(conn, force=True)
        for other in list(self.connections):
            if other is not conn:
                await self._transition(other, force=False)

    def _remember(self, key: tuple[str, int], answer: dict[str, Any]) -> None:
        self._mutations[key] = answer
        while len(self._mutations) > MUTATIONS_REMEMBERED:
            self._mutations.popitem(last=False)

    # -- sending -----------------------------------------------------------------------------
    async def _transition(self, conn: Connection, *, force: bool) -> None:
        """Send ``conn`` a ``Transition`` from its version to the latest, with every query whose
        result changed and those it removed; when nothing changed, only if ``force``."""
        async with conn.sending:
            message = await run_in_threadpool(self.locked, lambda: self._next_transition(conn, force))
            if message is not None:
                await self._send(conn, message)

    def _next_transition(self, conn: Connection, force: bool) -> dict[str, Any] | None:
        """The next ``Transition`` for ``conn`` (with the server's lock held), or None."""
        changes: dict[int, dict[str, Any]] = {query_id: {"type": "QueryRemoved", "queryId": query_id}
                                              for query_id in conn.removed}
        conn.removed.clear()
        for query_id, entry in conn.entries.items():
            change = _changed(conn, query_id, entry)
            if change is not None:
                changes[query_id] = change
        end = _version(conn.query_set, conn.identity, self.sim.db.latest_ts)
        if not changes and not force:
            return None
        start, conn.sent = conn.sent, end
        return {"type": "Transition", "startVersion": start, "endVersion": end,
                "modifications": [changes[query_id] for query_id in sorted(changes)]}

    async def _send(self, conn: Connection, message: dict[str, Any]) -> bool:
        """Send one message; False (and the connection forgotten) if the client has gone."""
        try:
            await conn.socket.send_text(json.dumps(message, separators=(",", ":")))
        except (RuntimeError, OSError, WebSocketDisconnect):
            self.connections.discard(conn)
            return False
        conn.last_sent = asyncio.get_running_loop().time()
        return True

    async def _heartbeat(self, conn: Connection) -> None:
        """A ``Ping`` whenever ``heartbeat_s`` seconds pass without a message to the client, as
        the backend's sync worker sends one (it keeps the client from reconnecting)."""
        assert self.heartbeat_s
        loop = asyncio.get_running_loop()
        while conn in self.connections:
            wait = conn.last_sent + self.heartbeat_s - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif not await self._send(conn, {"type": "Ping"}):
                return

    async def _auth_error(self, conn: Connection, error: str, *, attempted: bool) -> None:
        """``AuthError``, then the connection is closed (the client re-authenticates)."""
        await self._send(conn, {"type": "AuthError", "error": error, "baseVersion": conn.identity,
                                "authUpdateAttempted": attempted})
        await _close(conn.socket, 1000, "")

    async def _fatal(self, conn: Connection, error: str, code: int, reason: str = "") -> None:
        """The protocol's ``FatalError``, then the connection is closed; the others go on."""
        await self._send(conn, {"type": "FatalError", "error": error})
        await _close(conn.socket, code, reason)


def _parse(text: str | None) -> dict[str, Any]:
    """A client message from a text frame; ValueError naming what came instead."""
    if text is None:
        raise ValueError("expected a text frame holding a JSON client message, got a binary frame")
    message = json.loads(text)
    if type(message) is not dict or message.get("type") not in CLIENT_MESSAGES:
        raise ValueError(f"expected a client message (type one of "
                         f"{', '.join(sorted(CLIENT_MESSAGES))}), got {text[:80]!r}")
    return message


def _changed(conn: Connection, query_id: int, entry: Subscription | dict[str, Any]) -> dict[str, Any] | None:
    """The modification telling ``conn`` query ``query_id``'s result, or None if it has it."""
    if isinstance(entry, dict):   # could not subscribe: the same failure until it is asked anew
        if query_id in conn.shown:
            return None
        conn.shown[query_id] = (0, -1, "")
        reply, logs = entry, []
    else:
        instance = entry.instance
        seen = conn.shown.get(query_id)
        if seen is not None and seen[:2] == (instance.number, instance.ts):
            return None   # not re-run since it was sent
        canonical = instance.canonical
        conn.shown[query_id] = (instance.number, instance.ts, canonical)
        if seen is not None and seen[2] == canonical:
            return None   # re-run, same result
        reply = ({"status": "success", "value": to_json(instance.value)} if instance.error is None
                 else error_reply(instance.error))
        logs = list(instance.logs)
    if reply["status"] == "success":
        return {"type": "QueryUpdated", "queryId": query_id, "value": reply["value"],
                "logLines": logs, "journal": None}
    change = {"type": "QueryFailed", "queryId": query_id, "errorMessage": reply["errorMessage"],
              "logLines": logs, "journal": None}
    if "errorData" in reply:
        change["errorData"] = reply["errorData"]
    return change


def _response(kind: str, request_id: Any, reply: dict[str, Any], ts: int) -> dict[str, Any]:
    """A ``MutationResponse`` (with the commit's ``ts`` when it succeeded) or ``ActionResponse``."""
    success = reply["status"] == "success"
    answer: dict[str, Any] = {"type": "MutationResponse" if kind == MUTATION else "ActionResponse",
                              "requestId": request_id, "success": success,
                              "result": reply["value"] if success else reply["errorMessage"],
                              "logLines": reply["logLines"]}
    if kind == MUTATION:
        answer["ts"] = encode_ts(ts) if success else None
    if "errorData" in reply:
        answer["errorData"] = reply["errorData"]
    return answer


async def _refuse(socket: WebSocket, refusal: Refusal) -> None:
    """Refuse the connection before it opens: an HTTP error with Convex's ``code`` and
    ``message`` body, or where the server cannot send one, a close naming the code."""
    try:
        await socket.send_denial_response(JSONResponse(
            {"code": refusal.code, "message": refusal.message}, status_code=refusal.status))
    except RuntimeError:   # a server without the WebSocket denial-response extension
        await socket.close(code=1008, reason=refusal.code)


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    """Close ``socket`` (a reason is at most 123 bytes), unless it is closed already."""
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        await socket.close(code=code, reason=reason.encode("utf-8")[:123].decode("utf-8", "ignore"))
