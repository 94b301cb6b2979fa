"""Convex's WebSocket sync protocol (``/api/<version>/sync``), the core that ``ConvexClient``
needs: a query set per connection, mutations and actions, authentication, and a
``Transition`` to every connection after each call that may have written."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..auth import AuthError
from ..functions import ACTION, MUTATION, QUERY
from ..sim import ConvexSim
from ..values import from_json

#: ``run(handle, kind, path, args, format)``: one call's reply body, as the HTTP API answers it.
Runner = Callable[[Callable[[], Any], str | None, str, dict[str, Any], str], dict[str, Any]]
#: ``locked(call)``: ``call()`` with the server's lock held (one request at a time).
Locked = Callable[[Callable[[], Any]], Any]
SYNC_PATH = "/api/{version}/sync"
_FORMAT = "convex_encoded_json"


#: The messages a client sends (convex ``browser/sync/protocol.ts`` ``ClientMessage``).
CLIENT_MESSAGES = frozenset({"Connect", "ModifyQuerySet", "Mutation", "Action", "Authenticate", "Event"})


def encode_ts(ts: int) -> str:
    """A timestamp as the protocol sends it: a u64, little-endian, in base64."""
    return base64.b64encode(struct.pack("<Q", ts)).decode("ascii")


@dataclass(eq=False)
class Connection:
    """One client's state: its query set, identity and the version it last received."""

    socket: WebSocket
    handle: Any
    query_set: int = 0
    identity: int = 0
    sent: dict[str, Any] = field(default_factory=lambda: {"querySet": 0, "identity": 0,
                                                           "ts": encode_ts(0)})
    queries: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    shown: dict[int, str] = field(default_factory=dict)
    removed: list[int] = field(default_factory=list)
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)



class SyncHub:
    """The sync endpoint of one served simulator: its connections and the latest timestamp
    (one more for each mutation, action or HTTP action, whether over HTTP or WebSocket)."""

    def __init__(self, sim: ConvexSim, run: Runner, locked: Locked) -> None:
        self.sim = sim
        self.run = run
        self.locked = locked
        self.ts = 0
        self.connections: set[Connection] = set()

    def route(self) -> WebSocketRoute:
        """The starlette route of ``/api/<version>/sync``."""
        return WebSocketRoute(SYNC_PATH, self.serve)

    async def committed(self) -> None:
        """A call that may have written finished: advance the timestamp and send every
        connection a ``Transition`` to it."""
        self.ts += 1
        for conn in list(self.connections):
            await self._transition(conn)

    async def serve(self, socket: WebSocket) -> None:
        """One connection, message by message, until the client goes."""
        await socket.accept()
        conn = Connection(socket, self.sim)
        self.connections.add(conn)
        try:
            while True:
                text = await socket.receive_text()
                try:
                    message = json.loads(text)
                    if type(message) is not dict or message.get("type") not in CLIENT_MESSAGES:
                        raise ValueError(f"expected a client message (type one of "
                                         f"{', '.join(sorted(CLIENT_MESSAGES))}), got {text[:80]!r}")
                    await self._handle(conn, message)
                except (ValueError, KeyError, TypeError) as exc:
                    # As the backend does: FatalError, then the connection is closed.
                    problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                    await socket.send_json({"type": "FatalError", "error": f"malformed message: {problem}"})
                    await socket.close(code=1008)
                    return
        except WebSocketDisconnect:
            pass
        finally:
            self.connections.discard(conn)

    async def _handle(self, conn: Connection, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ModifyQuerySet":
            for change in message.get("modifications", []):
                if change["type"] == "Add":
                    conn.queries[change["queryId"]] = (change["udfPath"], _args(change.get("args")))
                elif change["type"] == "Remove":
                    conn.queries.pop(change["queryId"], None)
                    conn.shown.pop(change["queryId"], None)
                    conn.removed.append(change["queryId"])
            conn.query_set = message["newVersion"]
            await self._transition(conn)
        elif kind == "Authenticate":
            await self._authenticate(conn, message)
        elif kind in ("Mutation", "Action"):
            await self._call(conn, message, MUTATION if kind == "Mutation" else ACTION)
        # Connect and Event need no answer.

    async def _authenticate(self, conn: Connection, message: dict[str, Any]) -> None:
        token = message.get("value") if message.get("tokenType") == "User" else None
        try:
            handle = self.sim if token is None else await run_in_threadpool(
                self.locked, lambda: self.sim.with_token(token))
        except AuthError as exc:
            await conn.socket.send_json({"type": "AuthError", "error": str(exc),
                                         "baseVersion": message.get("baseVersion", conn.identity),
                                         "authUpdateAttempted": True})
            return
        conn.handle = handle
        conn.identity = message.get("baseVersion", conn.identity) + 1
        conn.shown.clear()   # every query is answered anew for the new identity
        await self._transition(conn)

    async def _call(self, conn: Connection, message: dict[str, Any], kind: str) -> None:
        handle = conn.handle
        reply = await run_in_threadpool(self.locked, lambda: self.run(
            lambda: handle, kind, message["udfPath"], _args(message.get("args")), _FORMAT))
        answer: dict[str, Any] = {"type": "MutationResponse" if kind == MUTATION else "ActionResponse",
                                  "requestId": message["requestId"],
                                  "success": reply["status"] == "success",
                                  "logLines": reply["logLines"]}
        if answer["success"]:
            answer["result"] = reply["value"]
        else:
            answer["result"] = reply["errorMessage"]
            if "errorData" in reply:
                answer["errorData"] = reply["errorData"]
        self.ts += 1
        if kind == MUTATION and answer["success"]:
            answer["ts"] = encode_ts(self.ts)
        await conn.socket.send_json(answer)
        for other in list(self.connections):   # the client waits for a Transition to ``ts``
            await self._transition(other)

    async def _transition(self, conn: Connection) -> None:
        """Send ``conn`` a ``Transition`` from its version to the latest: every query whose
        result changed, and those it removed."""
        async with conn.sending:
            handle, queries = conn.handle, dict(conn.queries)
            end = {"querySet": conn.query_set, "identity": conn.identity, "ts": encode_ts(self.ts)}
            results = await run_in_threadpool(self.locked, lambda: {
                query_id: self.run(lambda: handle, QUERY, path, args, _FORMAT)
                for query_id, (path, args) in queries.items()})
            changes: list[dict[str, Any]] = [{"type": "QueryRemoved", "queryId": query_id}
                                             for query_id in conn.removed]
            conn.removed.clear()
            for query_id, reply in results.items():
                if query_id not in conn.queries:
                    continue
                shown = json.dumps({k: reply.get(k) for k in ("status", "value", "errorMessage",
                                                              "errorData")}, sort_keys=True)
                if conn.shown.get(query_id) == shown:
                    continue
                conn.shown[query_id] = shown
                if reply["status"] == "success":
                    change = {"type": "QueryUpdated", "queryId": query_id, "value": reply["value"],
                              "logLines": reply["logLines"], "journal": None}
                else:
                    change = {"type": "QueryFailed", "queryId": query_id,
                              "errorMessage": reply["errorMessage"], "logLines": reply["logLines"],
                              "journal": None}
                    if "errorData" in reply:
                        change["errorData"] = reply["errorData"]
                changes.append(change)
            start, conn.sent = conn.sent, end
            try:
                await conn.socket.send_json({"type": "Transition", "startVersion": start,
                                             "endVersion": end, "modifications": changes})
            except (RuntimeError, OSError, WebSocketDisconnect):   # the client has gone
                self.connections.discard(conn)


def _args(args: Any) -> dict[str, Any]:
    """A call's arguments: the protocol sends an array of one encoded object."""
    if isinstance(args, list):
        args = args[0] if args else {}
    return from_json(args or {})
