"""``RecordingClient``: record real traffic to a deployment as a convex-sim trace.

Wrap the official Python client (PyPI ``convex``)::

    from convex import ConvexClient
    from convex_sim.trace import RecordingClient

    with RecordingClient(ConvexClient("https://happy-otter-123.convex.cloud"), "prod.jsonl") as client:
        client.set_auth(token)            # the identity is read from the token's claims
        client.mutation("bank:transfer", {"src": "a", "dst": "b", "amount": 5})

Every ``query``/``mutation``/``action`` is written as a ``call`` event with its wall
times and result or error; everything else passes through to the wrapped client.
The wrapper needs nothing of the ``convex`` package itself: any object with those
three methods can be wrapped (a stand-in in tests). Calls from several threads are
serialized into the file; their start/end times show which overlapped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from ..values import to_json
from .format import TraceWriter, encode_identity

#: The error type a replay compares loosely: the deployment reports a server error, the
#: simulator the exception the function raised.
SERVER_ERROR = "ServerError"


def plain(value: Any) -> Any:
    """A value from the ``convex`` client as convex-sim's value model: ``ConvexInt64`` → int."""
    if type(value).__name__ == "ConvexInt64":
        return int(value.value)
    if isinstance(value, dict):
        return {k: plain(x) for k, x in value.items()}
    if isinstance(value, list | tuple):
        return [plain(x) for x in value]
    return value


def _args_as_sent(args: Mapping[str, Any] | None) -> Any:
    """The arguments as the official client sends them (its ints become floats)."""
    try:
        from convex.values import coerce_args_to_convex
    except ImportError:
        return dict(args or {})
    return coerce_args_to_convex(args)


def identity_from_token(token: str | None) -> dict | None:
    """The identity a JWT claims (its signature unchecked: the deployment checked it)."""
    if token is None:
        return None
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    subject, issuer = claims.get("sub"), claims.get("iss")
    fields = {"subject": subject, "issuer": issuer, "token_identifier": f"{issuer}|{subject}"}
    for claim, name in (("name", "name"), ("email", "email"), ("given_name", "given_name"),
                        ("family_name", "family_name"), ("picture", "picture_url")):
        if claim in claims:
            fields[name] = claims[claim]
    return fields


class RecordingClient:
    """A Convex client that records its calls to a trace at ``path``.

    :param client: a ``convex.ConvexClient`` (or anything with ``query``, ``mutation``,
        ``action``).
    :param identity: who the calls are made as, when not set by :meth:`set_auth`.
    :param client_id: the ``client`` field of every event (one trace, many clients: give
        each its own id and merge by start time).
    """

    def __init__(self, client: Any, path: str | os.PathLike[str], *, identity: Mapping[str, Any] | None = None,
                 client_id: str = "python", app: str | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._identity = dict(identity) if identity is not None else None
        self.client_id = client_id
        self.writer = TraceWriter(path, {"app": app, "seed": 0, "clock_start": time.time() * 1000,
                                         "fetches": "live", "source": "convex-py"})

    def __enter__(self) -> RecordingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Finish the trace (renamed into place)."""
        with self._lock:
            self.writer.close()

    def set_auth(self, token: str) -> None:
        """Authenticate the wrapped client; later calls are recorded as the token's identity."""
        self._client.set_auth(token)
        self._identity = identity_from_token(token)

    def clear_auth(self) -> None:
        self._client.clear_auth()
        self._identity = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, name: str, args: Mapping[str, Any] | None = None) -> Any:
        return self._call("query", name, args)

    def mutation(self, name: str, args: Mapping[str, Any] | None = None) -> Any:
        return self._call("mutation", name, args)

    def action(self, name: str, args: Mapping[str, Any] | None = None) -> Any:
        return self._call("action", name, args)

    def _call(self, kind: str, name: str, args: Mapping[str, Any] | None) -> Any:
        event: dict[str, Any] = {
            "type": "call", "client": self.client_id, "kind": kind, "path": name,
            "args": to_json(plain(_args_as_sent(args))), "identity": encode_identity(self._identity),
            "start": time.time() * 1000, "snapshot_ts": None}
        try:
            result = getattr(self._client, kind)(name, args)
        except Exception as exc:
            if type(exc).__name__ == "ConvexError" and hasattr(exc, "data"):
                error = {"type": "ConvexError", "data": to_json(plain(exc.data))}
            else:
                error = {"type": SERVER_ERROR, "message": str(exc)}
            self._write(event, {"error": error})
            raise
        self._write(event, {"result": to_json(plain(result))})
        return result

    def _write(self, event: dict, outcome: dict) -> None:
        event.update({"end": time.time() * 1000, "commit_ts": None, **outcome})
        with self._lock:
            self.writer.write(event)
