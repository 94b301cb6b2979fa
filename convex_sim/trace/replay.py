"""Replaying a trace against an app and reporting where it behaves differently.

Events run in recorded order on the recorded clock: each call with its identity
and arguments, each HTTP request, each clock move (which runs the scheduled
functions that become due); outbound fetches of actions are answered from the
trace. Each outcome is compared with the recorded one; a difference is a
:class:`Divergence` naming the trace line, the call, and a structural diff.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..errors import ConvexSimError
from ..jsonlines import DEFAULT_MAX_LINE_BYTES
from ..values import from_json
from . import network
from .client import SERVER_ERROR
from .format import TraceError, TraceReader, decode_identity, encode_error
from .recorder import job_outcome, safe_json
from .store import write_documents

#: How many divergences a ``keep_going`` replay keeps (it counts them all).
KEEP = 1000


class FetchNotRecorded(ConvexSimError):
    """An action made an outbound request the trace has no answer for."""


@dataclass
class Divergence:
    """Where replay and recording disagree."""

    line: int
    what: str               # the event, e.g. "mutation bank:transfer({...}) as ada"
    expected: Any
    actual: Any
    diff: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"line {self.line}: {self.what}"]
        lines += [f"  {d}" for d in self.diff]
        return "\n".join(lines)


@dataclass
class ReplayReport:
    """What a replay found: ``ok`` when every event matched."""

    trace: str
    events: int = 0
    divergences: list[Divergence] = field(default_factory=list)
    divergent_events: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)   # e.g. a torn last line, skipped

    @property
    def ok(self) -> bool:
        return self.divergent_events == 0

    @property
    def first(self) -> Divergence | None:
        return self.divergences[0] if self.divergences else None

    def __str__(self) -> str:
        notes = [f"note: {note}" for note in self.notes]
        if self.ok:
            return "\n".join([f"{self.trace}: {self.events} events replayed, no divergence", *notes])
        head = f"{self.trace}: {self.divergent_events} divergent event(s) in {self.events} replayed"
        return "\n".join([head, *(str(d) for d in self.divergences[:20]), *notes])

    def assert_ok(self) -> None:
        """Raise AssertionError with the report unless the replay matched."""
        if not self.ok:
            raise AssertionError(str(self))


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."


def structural_diff(expected: Any, actual: Any, path: str = "") -> Iterator[str]:
    """``path: expected X, got Y`` for each place two JSON values differ."""
    if isinstance(expected, dict) and isinstance(actual, dict) and not (
            len(expected) == 1 and next(iter(expected)).startswith("$")):
        for key in expected:
            where = f"{path}.{key}" if path else key
            if key not in actual:
                yield f"{where}: expected {_show(expected[key])}, got nothing (missing)"
            else:
                yield from structural_diff(expected[key], actual[key], where)
        for key in actual:
            if key not in expected:
                yield f"{(path + '.') if path else ''}{key}: expected nothing, got {_show(actual[key])}"
    elif isinstance(expected, list) and isinstance(actual, list):
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            yield from structural_diff(e, a, f"{path}[{i}]")
        if len(expected) != len(actual):
            yield f"{path}: expected {len(expected)} items, got {len(actual)}"
    elif expected != actual or type(expected) is not type(actual):
        yield f"{path or 'value'}: expected {_show(expected)}, got {_show(actual)}"


def _numbers_as_floats(data: Any) -> Any:
    """Plain JSON numbers are float64 in Convex's encoding: ``30`` (from JavaScript) is ``30.0``."""
    if type(data) is int:
        return float(data)
    if isinstance(data, dict):
        return {k: _numbers_as_floats(x) for k, x in data.items()}
    if isinstance(data, list):
        return [_numbers_as_floats(x) for x in data]
    return data


def _describe(event: dict) -> str:
    who = event.get("identity") or {}
    as_who = f" as {who.get('subject')}" if who.get("subject") else ""
    if event["type"] == "call":
        args = _show(event.get("args"))
        return f"{event['kind']} {event['path']}({args}){as_who}"
    if event["type"] == "http_request":
        return f"HTTP {event['method']} {event['url']}{as_who}"
    return f"clock {event.get('op')}({', '.join(map(str, event.get('args', [])))})"


class Replayer:
    """Replays one trace against ``sim``, streaming (memory bounded by the longest call)."""

    def __init__(self, sim: Any, trace: str | os.PathLike[str], *, keep_going: bool = False,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.sim = sim
        self.reader = TraceReader(trace, max_line_bytes=max_line_bytes)
        self.keep_going = keep_going
        self.report = ReplayReport(str(trace))
        self._fetches: list[dict] = []
        self._fetch_problems: list[str] = []
        self._jobs: list[dict] = []
        self.answers_fetches = self.reader.header.get("fetches") == "recorded"
        #: Called with each container event's line before it is replayed (explore_overlaps).
        self.before_event: Callable[[int], None] | None = None

    def run(self) -> ReplayReport:
        """Replay every event (or up to the first divergence); return the report."""
        sim, started = self.sim, time.perf_counter()
        run_job = sim.scheduler.run_job
        own = vars(sim.scheduler).get("run_job")   # a recorder's wrapper, kept on exit

        def observed(job: dict) -> None:
            run_job(job)
            self._jobs.append(job_outcome(sim, job))

        sim.scheduler.run_job = observed
        if self.answers_fetches:
            network.intercept(self._on_fetch, record=False)
        try:
            for line, event, nested in self.reader.groups():
                self.report.events += 1
                if self.before_event is not None:
                    self.before_event(line)
                divergence = self._replay(line, event, nested)
                if divergence is not None:
                    self.report.divergent_events += 1
                    if len(self.report.divergences) < KEEP:
                        self.report.divergences.append(divergence)
                    if not self.keep_going:
                        break
        finally:
            if self.answers_fetches:
                network.intercept(None, record=False)
            if own is None:
                vars(sim.scheduler).pop("run_job", None)
            else:
                sim.scheduler.run_job = own
            self.report.seconds = time.perf_counter() - started
            self.report.notes[:0] = self.reader.notes
        return self.report

    # -- one event -------------------------------------------------------------------------
    def _replay(self, line: int, event: dict, nested: list[dict]) -> Divergence | None:
        self._fetches = [e for e in nested if e["type"] == "fetch"]
        self._fetch_problems, self._jobs = [], []
        kind = event["type"]
        if kind == "clock_advance":
            expected, actual = self._clock(line, event)
        else:
            start = event.get("start")
            if isinstance(start, int | float) and start > self.sim.clock:
                try:   # production traces: wall time
                    self.sim.advance_time(start - self.sim.clock)
                except ValueError as exc:
                    raise TraceError(f"{self.reader.path}:{line}: field 'start': {exc}") from None
                self._jobs = []
            expected, actual = (self._call(line, event) if kind == "call" else self._http(line, event))
        expected_jobs = [(e["path"], e.get("outcome")) for e in nested if e["type"] == "scheduled_run"]
        if kind == "clock_advance":
            expected["scheduled_runs"] = [list(j) for j in expected_jobs]
            actual["scheduled_runs"] = [[j["path"], j["outcome"]] for j in self._jobs]
        problems = list(self._fetch_problems)
        problems += [f"fetch {f['method']} {f['url']}: recorded, but the replay did not make it"
                     for f in self._fetches]
        diff = problems + list(structural_diff(expected, actual))
        if not diff:
            return None
        return Divergence(line, _describe(event), expected, actual, diff)

    def _handle(self, event: dict) -> Any:
        fields = decode_identity(event.get("identity"))
        if fields is None:
            return self.sim
        from ..runtime import make_identity
        from ..sim import IdentityHandle

        return IdentityHandle(self.sim, make_identity(fields, default_subject="replay"))

    def _call(self, line: int, event: dict) -> tuple[dict, dict]:
        expected = {k: event[k] for k in ("result", "error") if k in event}
        if event["kind"] == "run":
            rows = [(w["table"], w["id"], from_json(w["doc"])) for w in event.get("writes", [])]
            try:
                write_documents(self.sim.db, rows, what=f"{self.reader.path}:{line}: sim.run",
                                allocate=True)
            except ConvexSimError as exc:
                raise TraceError(str(exc)) from None
            return expected, expected
        path = event["path"]
        if path not in self.sim.registry.functions:
            raise TraceError(f"{self.reader.path}:{line}: unknown function path {path!r}: the app "
                             "has no such function")
        method = getattr(self._handle(event), event["kind"])
        unrecordable = event.get("args")
        if isinstance(unrecordable, dict) and set(unrecordable) == {"$repr"} and "error" in event:
            self.report.notes.append(
                f"line {line}: {path} was called with arguments a trace cannot hold "
                f"({str(unrecordable['$repr'])[:60]}) and failed with {event['error'].get('type')}; "
                "not replayed")
            return expected, expected
        args = from_json(event.get("args") or {})
        try:
            actual = {"result": safe_json(method(path, args))}
        except Exception as exc:
            actual = {"error": encode_error(exc)}
        expected, actual = _numbers_as_floats(expected), _numbers_as_floats(actual)
        recorded, got = expected.get("error"), actual.get("error")
        if recorded and got and recorded.get("type") == SERVER_ERROR and got["type"] != "ConvexError":
            actual = expected   # a deployment's server error: any non-ConvexError failure matches
        return expected, actual

    def _http(self, line: int, event: dict) -> tuple[dict, dict]:
        body = from_json(event.get("body"))
        keep = ("status", "response_body")
        try:
            response = self._handle(event).fetch(event["url"], event["method"], json=event.get("json"),
                                                 content=None if event.get("json") is not None else body,
                                                 headers=event.get("headers") or None)
        except Exception as exc:
            return {k: event.get(k) for k in keep}, {"error": encode_error(exc)}
        actual = network.encode_response(response)
        return {k: event.get(k) for k in keep}, {k: actual[k] for k in keep}

    def _clock(self, line: int, event: dict) -> tuple[dict, dict]:
        op = event["op"]
        try:
            # failed jobs show in their own events; here only the clock is compared
            kwargs = {} if op == "advance_time" else {"allow_failures": True}
            getattr(self.sim, op)(*event.get("args", []), **kwargs)
            error = None
        except Exception as exc:
            error = encode_error(exc)
        return {"to": event.get("to"), "error": None}, {"to": self.sim.clock, "error": error}

    def _on_fetch(self, request: httpx.Request, _send: Any) -> httpx.Response:
        got = f"{request.method} {request.url}"
        if not self._fetches:
            self._fetch_problems.append(f"fetch {got}: made by the replay, not in the trace")
            raise FetchNotRecorded(f"the trace has no recorded response for {got}")
        expected = self._fetches.pop(0)
        if (expected["method"], expected["url"]) != (request.method, str(request.url)):
            self._fetch_problems.append(
                f"fetch: expected {expected['method']} {expected['url']}, got {got}")
        return network.decode_response(expected, request)


def replay(sim: Any, trace: str | os.PathLike[str], *, keep_going: bool = False,
           max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> ReplayReport:
    """Replay ``trace`` against ``sim`` (its current state is the starting point); a line
    longer than ``max_line_bytes`` is a TraceError, a torn last line a note in the report."""
    return Replayer(sim, trace, keep_going=keep_going, max_line_bytes=max_line_bytes).run()


def sim_for_trace(trace: str | os.PathLike[str], *, app: str | None = None,
                  project: str | os.PathLike[str] | None = None, schema: Any = None,
                  snapshot: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None,
                  max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Any:
    """A fresh simulator for replaying ``trace``: the app package ``app`` (its
    ``schema`` module's ``schema`` unless given) or the TypeScript ``project``, with the
    trace's seed and clock start and ``env`` as the deployment's variables, loaded from
    ``snapshot`` when given."""
    from ..sim import ConvexSim

    header = TraceReader(trace, max_line_bytes=max_line_bytes).header
    options = {"seed": int(header.get("seed") or 0)}
    if isinstance(header.get("clock_start"), int | float):
        options["start_time_ms"] = header["clock_start"]
    if (app is None) == (project is None):
        raise TraceError("replay needs exactly one of an app package or a project folder")
    if project is not None:
        sim = ConvexSim.from_project(Path(project), env=env, **options)
    else:
        if schema is None:
            import importlib

            try:
                schema = importlib.import_module(f"{app}.schema").schema
            except ModuleNotFoundError:
                schema = None
        try:
            sim = ConvexSim(schema, modules=app, **options)
        except (ConvexSimError, ImportError):
            raise
        except Exception as exc:   # the app's own modules may raise anything while imported
            raise TraceError(f"cannot load the app {app!r}: {type(exc).__name__}: {exc}") from None
        sim.runtime.env = dict(env or {})
    if snapshot is not None:
        sim.load_snapshot(snapshot)
    return sim

