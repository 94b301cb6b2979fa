"""The server side of Convex's WebSocket sync protocol for one connection, without a transport.

A :class:`SyncSession` reads the messages a client sends (convex ``browser/sync/protocol.ts``
``ClientMessage``) and writes the ones the backend answers with: ``Transition`` (the query set's
results moved to a new timestamp), ``MutationResponse``, ``ActionResponse``, ``AuthError``,
``FatalError``. It runs nothing itself: the caller runs each call (so an explorer can make the
call's steps choices) and hands the session the outcome. Both the served WebSocket and the
explored frontends (:mod:`.frontend`) speak through it.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..values import from_json

#: The messages a client sends.
CLIENT_MESSAGES = frozenset({"Connect", "ModifyQuerySet", "Mutation", "Action", "Authenticate", "Event"})
#: ``run_query(path, args)``: a query's reply as the HTTP API gives it
#: (``{"status": "success", "value", "logLines"}`` or ``{"status": "error", "errorMessage", ...}``).
QueryRunner = Callable[[str, dict[str, Any]], dict[str, Any]]


class ProtocolError(ValueError):
    """A client message that does not follow the protocol (the backend's FatalError)."""


def encode_ts(ts: int) -> str:
    """A timestamp as the protocol sends it: a u64, little-endian, in base64."""
    return base64.b64encode(struct.pack("<Q", ts)).decode("ascii")


def decode_ts(text: Any) -> int:
    """A timestamp the protocol sent (:func:`encode_ts`'s form); ValueError if it is not one."""
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
    except binascii.Error:
        raw = b""
    if len(raw) != 8:
        raise ValueError(f"a timestamp is 8 bytes in base64 (a little-endian u64), got {text!r}")
    return int(struct.unpack("<Q", raw)[0])


def call_args(args: Any) -> dict[str, Any]:
    """A call's arguments: the protocol sends an array of one encoded object."""
    if isinstance(args, list):
        args = args[0] if args else {}
    if args is not None and not isinstance(args, dict):
        raise ProtocolError(f"expected args to be an array of one object, got {json.dumps(args)[:80]}")
    return from_json(args or {})


@dataclass(frozen=True)
class Call:
    """A mutation or action a client asked for: run it, then answer with :meth:`SyncSession.response`."""

    kind: str            # "Mutation" | "Action"
    request_id: int
    path: str
    args: dict[str, Any]


@dataclass
class SyncSession:
    """One connection's query set, identity and the version the client last received."""

    query_set: int = 0
    identity: int = 0
    #: The client's session (its ``Connect``): a mutation it sends again after a reconnect is
    #: known by (session, request id) and answered from its first run, not run twice.
    session_id: str = ""
    queries: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    #: Per query: the result last sent (canonical text), so a Transition carries only changes.
    shown: dict[int, str] = field(default_factory=dict)
    removed: list[int] = field(default_factory=list)
    sent_ts: int = 0
    sent: dict[str, Any] = field(default_factory=lambda: {"querySet": 0, "identity": 0, "ts": encode_ts(0)})

    def parse(self, text: str) -> dict[str, Any]:
        """A client message from its text; :class:`ProtocolError` if it is not one."""
        try:
            message = json.loads(text)
        except ValueError:
            raise ProtocolError(f"expected a JSON client message, got {text[:80]!r}") from None
        if type(message) is not dict or message.get("type") not in CLIENT_MESSAGES:
            raise ProtocolError(f"expected a client message (type one of {', '.join(sorted(CLIENT_MESSAGES))}), "
                                f"got {text[:80]!r}")
        return message

    def modify(self, message: dict[str, Any]) -> None:
        """Apply a ``ModifyQuerySet``; answer with :meth:`transition`."""
        try:
            for change in message.get("modifications", []):
                if change["type"] == "Add":
                    self.queries[change["queryId"]] = (change["udfPath"], call_args(change.get("args")))
                elif change["type"] == "Remove":
                    self.queries.pop(change["queryId"], None)
                    self.shown.pop(change["queryId"], None)
                    self.removed.append(change["queryId"])
            self.query_set = message["newVersion"]
        except (KeyError, TypeError) as exc:
            raise ProtocolError(f"ModifyQuerySet: missing or bad field {exc}") from None

    def connect(self, message: dict[str, Any]) -> None:
        """Take a ``Connect``: the session it continues."""
        session_id = message.get("sessionId")
        if not isinstance(session_id, str):
            raise ProtocolError(f"Connect: expected sessionId to be a string, got {session_id!r}")
        self.session_id = session_id

    def call(self, message: dict[str, Any]) -> Call:
        """The call a ``Mutation`` or ``Action`` message asks for."""
        try:
            return Call(message["type"], message["requestId"], message["udfPath"], call_args(message.get("args")))
        except KeyError as exc:
            raise ProtocolError(f"{message['type']}: missing field {exc}") from None

    def authenticated(self, message: dict[str, Any]) -> None:
        """A new identity took effect: every query is answered anew."""
        self.identity = message.get("baseVersion", self.identity) + 1
        self.shown.clear()

    @staticmethod
    def response(call: Call, reply: dict[str, Any], ts: int | None) -> dict[str, Any]:
        """The ``MutationResponse`` / ``ActionResponse`` for ``reply`` (a call's HTTP-API reply);
        a successful mutation carries the timestamp of its commit ``ts``."""
        answer: dict[str, Any] = {"type": f"{call.kind}Response", "requestId": call.request_id,
                                  "success": reply["status"] == "success", "logLines": reply.get("logLines", [])}
        if answer["success"]:
            answer["result"] = reply["value"]
            if call.kind == "Mutation" and ts is not None:
                answer["ts"] = encode_ts(ts)
        else:
            answer["result"] = reply["errorMessage"]
            if "errorData" in reply:
                answer["errorData"] = reply["errorData"]
        return answer

    def transition(self, ts: int, run_query: QueryRunner) -> dict[str, Any]:
        """A ``Transition`` from the version last sent to ``ts``: every query whose result
        changed (run by ``run_query`` at ``ts``), and those removed."""
        changes: list[dict[str, Any]] = [{"type": "QueryRemoved", "queryId": q} for q in self.removed]
        self.removed = []
        for query_id, (path, args) in sorted(self.queries.items()):
            reply = run_query(path, args)
            shown = json.dumps({k: reply.get(k) for k in ("status", "value", "errorMessage", "errorData")},
                               sort_keys=True)
            if self.shown.get(query_id) == shown:
                continue
            self.shown[query_id] = shown
            if reply["status"] == "success":
                change = {"type": "QueryUpdated", "queryId": query_id, "value": reply["value"],
                          "logLines": reply.get("logLines", []), "journal": None}
            else:
                change = {"type": "QueryFailed", "queryId": query_id, "errorMessage": reply["errorMessage"],
                          "logLines": reply.get("logLines", []), "journal": None}
                if "errorData" in reply:
                    change["errorData"] = reply["errorData"]
            changes.append(change)
        end = {"querySet": self.query_set, "identity": self.identity, "ts": encode_ts(ts)}
        start, self.sent, self.sent_ts = self.sent, end, ts
        return {"type": "Transition", "startVersion": start, "endVersion": end, "modifications": changes}
