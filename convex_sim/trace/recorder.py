"""Recording a simulator's traffic into a trace: ``with sim.record("trace.jsonl"):``.

The recorder wraps, on this one simulator object, the entry points every call goes
through (the handle's bookkeeping, ``fetch``, the clock, the scheduler's job runner)
and outbound httpx requests from actions; leaving the block restores them and closes
the trace atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import httpx

from ..values import to_json
from . import network
from .format import TraceWriter, encode_identity, outcome_fields

SCHEDULED_FUNCTIONS = "_scheduled_functions"


def app_name(sim: Any) -> str | None:
    """What a trace header names as the app: the TypeScript project folder or the package."""
    if sim.project is not None:
        return str(getattr(sim.project, "root", None) or getattr(sim.project, "path", ""))
    from ..functions import _DISCOVERED

    return next((name for name, registry in _DISCOVERED.items() if registry is sim.registry), None)


def client_id(identity: Any) -> str:
    """The simulated connection a handle call comes from: one per identity."""
    return f"sim:{identity.token_identifier}" if identity is not None else "sim"


def safe_json(value: Any) -> Any:
    """``to_json`` for what a call took or returned; a value the trace cannot hold (not a
    Convex value, from ``sim.run``, or a string that is not Unicode, which the function
    refused) as its ASCII repr, so a recording never fails over what the app refused."""
    try:
        encoded = to_json(value)
        json.dumps(encoded, ensure_ascii=False).encode("utf-8")
        return encoded
    except Exception:
        return {"$repr": ascii(value)}


def received_args(sim: Any, kind: str, args: Any, call_args: tuple) -> Any:
    """A call's arguments as its function's validator hands them to it (an ``int`` given for
    ``v.number()`` is the float64 the function gets), so a replay passes the same types; as
    given when the validator refuses them (the call fails the same way on replay)."""
    fn = call_args[0] if kind in ("query", "mutation", "action") and call_args else None
    if fn is None or args is None:
        return args if args is not None else {}
    try:
        return sim.runtime.check_args(fn, args)
    except Exception:   # refused: the call itself raises the same error, which is recorded
        return args


def job_outcome(sim: Any, job: dict) -> dict:
    """The ``scheduled_run`` event of a job that just ran: its path and final state."""
    txn = sim.db.begin("trace", read_only=True)
    try:
        row = txn.get(job["_id"], table=SCHEDULED_FUNCTIONS)
    finally:
        txn.abort()
    state = (row or {}).get("state", {})
    return {"type": "scheduled_run", "job": job["_id"], "path": job["name"], "at": sim.clock,
            "outcome": state.get("kind"), "error": state.get("error")}


class Recorder:
    """Writes every call, HTTP request, clock move, scheduled run and outbound fetch of
    ``sim`` to the trace at ``path`` while active (a context manager)."""

    def __init__(self, sim: Any, path: str | os.PathLike[str]) -> None:
        self.sim = sim
        self.path = path
        self.writer: TraceWriter | None = None
        self._saved: dict[tuple[Any, str], tuple[Any, bool]] = {}   # -> (original, was own attr)
        # Invariant: _depth counts the container events (call, HTTP request, clock move) under
        # way; handle calls inside one are not events, and fetches and scheduled runs are
        # recorded only inside one (not, say, while sim.explore runs in the block).
        self._depth = 0

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Recorder:
        sim = self.sim
        if getattr(sim, "_recorder", None) is not None:
            raise RuntimeError("this simulator is already recording a trace")
        self.writer = TraceWriter(self.path, {"app": app_name(sim), "seed": sim.seed,
                                              "clock_start": sim.clock, "fetches": "recorded"})
        self._wrap(sim, "_record", self._on_call)
        self._wrap(sim, "_fetch", self._on_http)
        for name in ("advance_time", "finish_in_progress_scheduled_functions",
                     "finish_all_scheduled_functions"):
            self._wrap(sim, name, self._clock_op(name))
        self._wrap(sim.scheduler, "run_job", self._on_job)
        sim._recorder = self
        network.intercept(self._on_fetch, record=True)
        return self

    def __exit__(self, *exc: object) -> None:
        network.intercept(None, record=True)
        for (target, name), (original, own) in self._saved.items():
            if own:
                setattr(target, name, original)
            else:
                vars(target).pop(name, None)   # back to the class's method
        self._saved.clear()
        self.sim._recorder = None
        assert self.writer is not None
        self.writer.close()

    def _wrap(self, target: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        original = getattr(target, name)
        self._saved[(target, name)] = (original, name in vars(target))
        setattr(target, name, make(original))

    def _write(self, event: dict) -> None:
        assert self.writer is not None
        self.writer.write(event)

    # -- events ----------------------------------------------------------------------------
    def _on_call(self, original: Callable[..., Any]) -> Callable[..., Any]:
        sim = self.sim

        def record(kind: str, path: str | None, args: Any, identity: Any, call: Callable[..., Any],
                   *call_args: Any) -> Any:
            if self._depth:
                return original(kind, path, args, identity, call, *call_args)
            event = {"type": "call", "client": client_id(identity), "kind": kind, "path": path,
                     "args": safe_json(received_args(sim, kind, args, call_args)),
                     "identity": encode_identity(identity), "start": sim.clock,
                     "snapshot_ts": sim.db.latest_ts}
            self._depth += 1
            pin = sim.db.pin() if kind == "run" else None   # _finish lists the commits since
            try:
                try:
                    result = original(kind, path, args, identity, call, *call_args)
                except BaseException as exc:
                    self._finish(event, outcome_fields(error=exc))
                    raise
                finally:
                    self._depth -= 1
                self._finish(event, {"result": safe_json(result)})
                return result
            finally:
                if pin is not None:
                    pin.release()

        return record

    def _finish(self, event: dict, outcome: dict) -> None:
        sim = self.sim
        before = event["snapshot_ts"]
        event["end"] = sim.clock
        event["commit_ts"] = sim.db.latest_ts if sim.db.latest_ts > before else None
        event.update(outcome)
        if event["kind"] == "run":   # ad-hoc code cannot be re-run: keep what it wrote
            event["writes"] = [{"table": w.table, "id": w.id, "doc": safe_json(w.new)}
                               for commit in sim.db.commits_after(before) for w in commit.writes]
        self._write(event)

    def _on_http(self, original: Callable[..., Any]) -> Callable[..., Any]:
        sim = self.sim

        def fetch(url: str, method: str, json_body: Any, content: Any, headers: Any,
                  identity: Any) -> httpx.Response:
            event = {"type": "http_request", "client": client_id(identity), "method": method.upper(),
                     "url": url, "headers": dict(headers or {}), "json": json_body,
                     "body": to_json(content.encode() if isinstance(content, str) else content),
                     "identity": encode_identity(identity), "start": sim.clock}
            self._depth += 1
            try:
                response = original(url, method, json_body, content, headers, identity)
            finally:
                self._depth -= 1
            event.update({"end": sim.clock, **network.encode_response(response)})
            self._write(event)
            return response

        return fetch

    def _clock_op(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def moved(*args: Any, **kwargs: Any) -> Any:
                start = self.sim.clock
                self._depth += 1
                try:  # recorded even when failed jobs make it raise: they ran all the same
                    return original(*args, **kwargs)
                finally:
                    self._depth -= 1
                    self._write({"type": "clock_advance", "op": name, "args": list(args),
                                 "from": start, "to": self.sim.clock})
            return moved
        return make

    def _on_job(self, original: Callable[..., Any]) -> Callable[..., Any]:
        sim = self.sim

        def run_job(job: dict) -> None:
            original(job)
            if self._depth:
                self._write(job_outcome(sim, job))

        return run_job

    def _on_fetch(self, request: httpx.Request, send: Callable[[], httpx.Response] | None) -> httpx.Response:
        assert send is not None
        response = send()
        if self._depth:
            self._write({"type": "fetch", **network.encode_request(request),
                         **network.encode_response(response)})
        return response
