"""The calls a differential sequence is made of, and how convex-sim runs them.

A call is a dict with a ``kind``:

- ``"query"``, ``"mutation"``, ``"action"``: ``path``, ``args`` (Python values) and an
  optional ``identity`` (``{"subject": ...}``), as ``sim.query`` etc. take them;
- ``"advance"``: ``ms`` — move the clock, running every scheduled function that becomes
  due (convex-sim ``sim.advance_time``; convex-test fake timers moved job by job, each
  followed by ``t.finishInProgressScheduledFunctions``);
- ``"finishScheduled"``: run every pending scheduled function, and those they schedule
  (``sim.finish_all_scheduled_functions``; ``t.finishAllScheduledFunctions``);
- ``"fetch"``: ``path`` (with its query string), ``method``, optional ``json`` body — an
  HTTP request to the app's HTTP actions (``sim.fetch``; ``t.fetch``).

An argument may refer to an earlier call's return value, which is what makes sequences
able to confirm a reservation or cancel a job they created: ``{"$result": i}`` is the value
call ``i`` (0-based) returned, ``{"$result": i, "key": "continueCursor"}`` one field of it;
``null`` when that call failed. ``$`` cannot start a Convex field name, so no argument of
an app is mistaken for one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import ConvexError
from ..sim import ConvexSim
from ..values import to_json

#: One call (see the module docstring).
Call = dict

#: Calls that run the app's functions; the others move time or send HTTP requests.
FUNCTION_KINDS = frozenset({"query", "mutation", "action"})

#: Where ``run_convex_sim`` puts a sequence's final scheduled-function rows when asked.
SCHEDULED_FUNCTIONS = "_scheduled_functions"


def result_ref(index: int, key: str | None = None) -> dict:
    """An argument standing for call ``index``'s return value (or its field ``key``)."""
    return {"$result": index, **({"key": key} if key else {})}


def resolve_refs(value: Any, returned: Sequence[Any]) -> Any:
    """``value`` with every :func:`result_ref` replaced by what that call returned."""
    if isinstance(value, dict):
        if "$result" in value:
            got = returned[value["$result"]] if value["$result"] < len(returned) else None
            key = value.get("key")
            return got.get(key) if key is not None and isinstance(got, dict) else got
        return {k: resolve_refs(x, returned) for k, x in value.items()}
    if isinstance(value, list):
        return [resolve_refs(x, returned) for x in value]
    return value


def encode_args(value: Any) -> Any:
    """Arguments in Convex JSON for the peer, :func:`result_ref` markers kept as they are."""
    if isinstance(value, dict):
        if "$result" in value:
            return value
        return {k: encode_args(x) for k, x in value.items()}
    if isinstance(value, list):
        return [encode_args(x) for x in value]
    return to_json(value)


def drop_call(sequence: Sequence[Call], index: int) -> list[Call]:
    """``sequence`` without call ``index``: later references renumbered, references to the
    dropped call replaced by ``null`` (what a failed call leaves)."""

    def renumber(value: Any) -> Any:
        if isinstance(value, dict):
            if "$result" in value:
                j = value["$result"]
                return None if j == index else {**value, "$result": j - (j > index)}
            return {k: renumber(x) for k, x in value.items()}
        if isinstance(value, list):
            return [renumber(x) for x in value]
        return value

    return [renumber(call) for i, call in enumerate(sequence) if i != index]


def describe(call: Call) -> str:
    """One line for a report: ``mutation bank:open({...}) as ada``, ``advance 60000 ms``."""
    kind = call["kind"]
    if kind == "advance":
        return f"advance {call['ms']:.0f} ms"
    if kind == "finishScheduled":
        return "finish all scheduled functions"
    if kind == "fetch":
        body = f" {json.dumps(call['json'])}" if call.get("json") is not None else ""
        return f"fetch {call.get('method', 'GET')} {call['path']}{body}"
    who = f" as {call['identity'].get('subject')}" if call.get("identity") else ""
    return f"{kind} {call['path']}({json.dumps(to_json(call.get('args') or {}))}){who}"


def http_outcome(status: int, content_type: str | None, text: str) -> dict:
    """An HTTP response as compared: status, content type, and the body (parsed when JSON,
    numbers as float64, so the IDs in it are normalised like any other value)."""
    try:
        body: Any = json.loads(text, parse_int=float)
    except ValueError:
        body = text
    return {"status": float(status), "contentType": content_type, "body": body}


def _run_one(sim: ConvexSim, call: Call, returned: Sequence[Any]) -> Any:
    kind = call["kind"]
    if kind == "advance":
        sim.advance_time(call["ms"])
        return None
    if kind == "finishScheduled":
        sim.finish_all_scheduled_functions(allow_failures=True)
        return None
    if kind == "fetch":
        response = sim.fetch(call["path"], call.get("method", "GET"), json=call.get("json"))
        return http_outcome(response.status_code, response.headers.get("content-type"), response.text)
    who = sim.with_identity(**call["identity"]) if call.get("identity") else sim
    return getattr(who, kind)(call["path"], resolve_refs(call.get("args") or {}, returned))


def run_sequence(sim: ConvexSim, sequence: Sequence[Call]) -> list[dict]:
    """Each call's outcome in Convex JSON, in order: ``{"ok": value}``, ``{"convexError":
    data}`` or ``{"error": text}``; the values returned feed later calls' :func:`result_ref`."""
    returned: list[Any] = []
    results: list[dict] = []
    for call in sequence:
        value = None
        try:
            value = _run_one(sim, call, returned)
            results.append({"ok": to_json(value)})
        except ConvexError as exc:
            results.append({"convexError": to_json(exc.data)})
        except Exception as exc:  # any other error: compared as "an error", not by message
            results.append({"error": f"{type(exc).__name__}: {exc}"})
        returned.append(value)
    return results


__all__ = ["FUNCTION_KINDS", "SCHEDULED_FUNCTIONS", "Call", "describe", "drop_call", "encode_args", "http_outcome", "resolve_refs",
           "result_ref", "run_sequence"]
