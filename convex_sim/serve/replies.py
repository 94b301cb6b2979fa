"""What the served API answers, shared by the HTTP API and the sync protocol: which
functions a client may call, and a failed call's reply in Convex's words."""

from __future__ import annotations

from typing import Any

from ..errors import ConvexError, ConvexSimError
from ..functions import ConvexFunction, FunctionNotFoundError
from ..sim import ConvexSim
from ..values import to_json


def not_found_message(path: str) -> str:
    """Convex's answer to a call of a function no client may call (unknown, internal, or a
    component's)."""
    return (f"Could not find public function for '{path}'. Did you forget to run "
            "`npx convex dev` or `npx convex deploy`?")


def public_function(sim: ConvexSim, path: str, kind: str | None) -> ConvexFunction:
    """The public app function ``path`` of ``kind`` (None: any kind). An unknown, internal or
    component function raises FunctionNotFoundError; another kind, ConvexSimError, each with
    the backend's message."""
    try:
        fn = sim.runtime.registry.resolve(path)
    except FunctionNotFoundError:
        raise FunctionNotFoundError(not_found_message(path)) from None
    if not fn.is_public or fn.component is not None:   # as for an unknown one, whatever its kind
        raise FunctionNotFoundError(not_found_message(path))
    if kind is not None and fn.kind != kind:
        raise ConvexSimError(f"Trying to execute {path} as {kind.capitalize()}, but it is "
                             f"defined as {fn.kind.capitalize()}.")
    return fn


def error_reply(exc: BaseException) -> dict[str, Any]:
    """A failed call's reply: ``errorMessage``, and ``errorData`` for a ConvexError."""
    if isinstance(exc, ConvexError):
        return {"status": "error", "errorMessage": str(exc), "errorData": to_json(exc.data)}
    if isinstance(exc, ConvexSimError):   # refused by the simulator: its own sentence
        return {"status": "error", "errorMessage": str(exc)}
    return {"status": "error", "errorMessage": f"Uncaught {type(exc).__name__}: {exc}"}
