"""The concurrency explorer: run operations under many schedules and check each one.

The model (see docs/exploring.md):

* An **operation** is ``Op("bank:transfer", args)`` (a mutation, action or
  query call) or ``Flow(async_fn)`` (a client making several calls).
* It advances in **steps**. A mutation is *begin* (run the handler on the
  snapshot of the latest commit, buffering writes) then *commit* (OCC
  validation; a conflict sends it back to *begin*). An action or flow takes
  one step per awaited call. Jobs an operation schedules run as further steps
  of it, the clock moving to their due time.
* A **schedule** is the sequence of choices of which operation advances next.
  The engine works on that sequence alone, like Hypothesis' engine on its
  choice sequence: strategies pick choices, shrinking rewrites them, and
  neither knows anything about the app.

Every schedule starts from the simulator's state when ``explore`` was called
(rewound through the MVCC write log, not copied) and is checked: the user's
invariant after every commit, and op-level serializability (the outcome must
equal that of some serial order of the same operations).
"""

from __future__ import annotations

import html
import itertools
import json
import os
import random
import sys
import tempfile
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .database import ReadRange, Write, WriteConflict
from .errors import ContentionError, ConvexError, ConvexSimError
from .functions import ACTION, HTTP_ACTION, MUTATION, PUBLIC, QUERY, ConvexFunction
from .runtime import QueryCtx, Step, UserIdentity, pump, run_guarded, stable_seed
from .scheduler import SCHEDULED_FUNCTIONS, SCHEDULED_MUTATION_RETRIES
from .values import format_value, sort_key

STRATEGIES = ("exhaustive", "random", "pct")
#: Above this many operations, serial orders are searched, not enumerated.
ENUMERATE_SERIAL_ORDERS_UP_TO = 8
#: Defaults a test runner may change (the pytest plugin's --convex-explore-budget).
DEFAULTS: dict[str, Any] = {"max_schedules": 10_000, "seed": None}


class ExplorationError(ConvexSimError):
    """Bad input to ``explore`` (an unknown strategy, an op that is not an Op, ...)."""


# --- Operations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One call to run concurrently: a mutation, action or query, as ``identity``."""

    ref: Any
    args: Any = None
    identity: UserIdentity | dict | None = None

    @property
    def label(self) -> str:
        return str(getattr(self.ref, "path", self.ref))


@dataclass(frozen=True)
class Flow:
    """A client flow: ``async def flow(client)`` making several calls, as a UI would.

    ``client.query/mutation/action`` are awaited; each call is one or more steps.
    """

    fn: Callable[[Any], Any]
    identity: UserIdentity | dict | None = None
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or getattr(self.fn, "__name__", "flow")


class FlowClient:
    """What a :class:`Flow` gets: a browser-like client calling public functions."""

    def __init__(self, runtime: Any, identity: UserIdentity | None) -> None:
        self._runtime, self._identity = runtime, identity

    def _step(self, kind: str, ref: Any, args: Any) -> Step:
        fn = self._runtime.resolve(ref, kind, public_only=True)
        return Step(kind, fn, args, self._identity)

    def query(self, ref: Any, args: Any = None) -> Step:
        return self._step(QUERY, ref, args)

    def mutation(self, ref: Any, args: Any = None) -> Step:
        return self._step(MUTATION, ref, args)

    def action(self, ref: Any, args: Any = None) -> Step:
        return self._step(ACTION, ref, args)


# --- Steps and their footprints ------------------------------------------------------------


@dataclass
class StepRecord:
    """What one step did: the unit of a schedule and of a counterexample's timeline."""

    number: int
    op: int
    kind: str                      # begin | commit | conflict | query | job | scheduler.* | storage.*
    function: str
    snapshot_ts: int | None = None
    commit_ts: int | None = None
    reads: tuple[ReadRange, ...] = ()
    writes: tuple[Write, ...] = ()
    pending: tuple[tuple[str, str], ...] = ()   # (table, id) buffered by a begin
    result: str = ""
    orders_everything: bool = False   # its footprint is unknown or global (a clock jump, a vector search)

    def depends_on(self, other: StepRecord) -> bool:
        """Whether the order of this step and ``other`` (of another op) can matter."""
        if self.orders_everything or other.orders_everything:
            return True
        return _writes_hit(self.writes, other) or _writes_hit(other.writes, self)


def _writes_hit(writes: Sequence[Write], step: StepRecord) -> bool:
    if not writes:
        return False
    ids = {(w.table, w.id) for w in step.writes}
    for write in writes:
        if (write.table, write.id) in ids:
            return True
        if any(write.touches(read) for read in step.reads):
            return True
    return False


@dataclass(frozen=True)
class Failure:
    """Why a schedule failed. ``kind`` groups failures (shrinking keeps it):
    ``"invariant"``, ``"serializability"`` or ``"error <Type>"``."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class _Pending:
    kind: str
    function: str


# --- One schedule's execution ------------------------------------------------------------------


class _OpRunner:
    """Advances one operation step by step (its generator pauses before each step)."""

    def __init__(self, index: int, gen: Generator[_Pending, None, Any]) -> None:
        self.index, self.gen = index, gen
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.pending: _Pending | None = None
        self.advance()

    def advance(self) -> None:
        try:
            self.pending = next(self.gen)
        except StopIteration as stop:
            self.done, self.result, self.pending = True, stop.value, None
        except Exception as exc:  # the operation failed: its error is its result
            self.done, self.error, self.pending = True, exc, None


class _Execution:
    """Runs one schedule from the exploration's starting state."""

    def __init__(self, explorer: _Explorer) -> None:
        self.x = explorer
        self.sim = explorer.sim
        self.runtime = explorer.sim.runtime
        self.db = explorer.sim.db
        explorer.reset(self)
        self.records: list[StepRecord] = []
        self.failure: Failure | None = None
        self._current_op = -1
        self._job_ids: dict[int, list[str]] = {}
        self._op_calls = [0] * len(explorer.ops)
        self.runtime.seed_source = self._next_seed
        self.runners = []
        for i, op in enumerate(explorer.ops):
            self._current_op = i
            self.runners.append(_OpRunner(i, self._op_steps(i, op)))

    def _next_seed(self) -> int:
        """Each operation's n-th function execution gets the same seed in every schedule."""
        op = self._current_op
        self._op_calls[op] += 1
        return stable_seed(self.x.seed, op, self._op_calls[op])

    def close(self) -> None:
        """Abandon the ops that did not finish (their tasks are cancelled, not left to the GC)."""
        for runner in self.runners:
            if not runner.done:
                runner.gen.close()
                runner.done = True
        if self.runtime.seed_source == self._next_seed:
            self.runtime.seed_source = None

    # -- running ---------------------------------------------------------------------------
    def enabled(self) -> list[int]:
        return [r.index for r in self.runners if not r.done]

    def step(self, op: int) -> StepRecord:
        runner = self.runners[op]
        self._current_op = op
        before = len(self.records)
        latest = self.db.latest_ts
        runner.advance()
        if len(self.records) == before:  # defensive: every step records itself
            self._record("step", runner.pending.function if runner.pending else "?")
        record = self.records[-1]
        if self.db.latest_ts != latest and self.failure is None:
            self.failure = self.x.check_invariant(record)
        return record

    def run_choices(self, choices: Iterable[int]) -> None:
        """Follow ``choices`` (an op index each; a disabled one means the lowest enabled op),
        then finish the remaining ops in index order."""
        for choice in choices:
            enabled = self.enabled()
            if not enabled or self.failure:
                return
            self.step(choice if choice in enabled else enabled[0])
        while (enabled := self.enabled()) and not self.failure:
            self.step(enabled[0])

    # -- recording -----------------------------------------------------------------------
    def _record(self, kind: str, function: str, **fields: Any) -> StepRecord:
        record = StepRecord(len(self.records) + 1, self._current_op, kind, function, **fields)
        self.records.append(record)
        return record

    # -- operation generators ---------------------------------------------------------------
    def _op_steps(self, index: int, op: Op | Flow) -> Generator[_Pending, None, Any]:
        identity = self.x.identities[index]
        if isinstance(op, Flow):
            fn = ConvexFunction(ACTION, PUBLIC, _flow_handler(op.fn), None, None)
            fn.path = f"flow {op.label}"
            client = FlowClient(self.runtime, identity)
            result = yield from self._action(self.runtime.action_process(fn, client, identity, raw=True))
        else:
            fn = self.x.functions[index]
            if fn.kind == MUTATION:
                result = yield from self._mutation(fn, op.args, identity)
            elif fn.kind == QUERY:
                result = yield from self._query(fn, op.args, identity)
            else:
                result = yield from self._action(self.runtime.action_process(fn, op.args, identity))
        yield from self._jobs(index)
        return result

    def _mutation(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None,
                  body: Any = None, label: str = "", retries: int | None = None) -> Generator[_Pending, None, Any]:
        runtime = self.runtime
        checked = runtime.check_args(fn, args) if body is None else {}
        name = label or fn.path or "?"
        for _attempt in range((runtime.max_retries if retries is None else retries) + 1):
            yield _Pending("begin", name)
            attempt = runtime.begin_mutation(fn, checked, identity, body)
            txn = attempt.txn
            self._record("begin", name, snapshot_ts=txn.begin_ts, reads=tuple(txn.reads),
                         pending=tuple((t, i) for i, (t, _d) in txn.pending.items()),
                         result=_render_outcome(attempt.result, attempt.error))
            if attempt.error is not None:
                raise attempt.error
            yield _Pending("commit", name)
            try:
                ts = runtime.commit_mutation(attempt)
            except WriteConflict as conflict:
                self.x.stats["conflicts"] += 1
                self._record("conflict", name, snapshot_ts=txn.begin_ts, reads=tuple(txn.reads),
                             result=f"conflict: {conflict.conflict}")
                continue
            writes = self.db.log[-1].writes if txn.pending and self.db.latest_ts == ts else ()
            self._note_jobs(writes)
            self._record("commit", name, snapshot_ts=txn.begin_ts, commit_ts=ts if writes else None,
                         reads=tuple(txn.reads), writes=tuple(writes),
                         result=_render_outcome(attempt.result, None))
            return attempt.result
        raise ContentionError(f"{name} failed after {runtime.max_retries + 1} attempts because of "
                              "too much contention.")

    def _query(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None) -> Generator[_Pending, None, Any]:
        yield _Pending("query", fn.path or "?")
        try:
            result, txn = self.runtime.call_query(fn, args, identity)
        except Exception as exc:
            self._record("query", fn.path or "?", snapshot_ts=self.db.latest_ts, result=_render_outcome(None, exc))
            raise
        self._record("query", fn.path or "?", snapshot_ts=txn.begin_ts, reads=tuple(txn.reads),
                     result=_render_outcome(result, None))
        return result

    def _action(self, process: Generator[Step, Any, Any]) -> Generator[_Pending, None, Any]:
        return (yield from pump(process, self._perform))

    def _perform(self, step: Step) -> Generator[_Pending, None, Any]:
        if step.kind == QUERY:
            return (yield from self._query(step.fn, step.args, step.identity))  # type: ignore[arg-type]
        if step.kind == MUTATION:
            return (yield from self._mutation(step.fn, step.args, step.identity))  # type: ignore[arg-type]
        yield _Pending(step.kind, step.describe())
        latest = self.db.latest_ts
        try:
            result = self.runtime.run_step(step)
        except Exception as exc:
            self._record(step.kind, step.describe(), result=_render_outcome(None, exc))
            raise
        writes = tuple(w for c in self.db.commits_after(latest) for w in c.writes)
        self._note_jobs(writes)
        self._record(step.kind, step.describe(), commit_ts=self.db.latest_ts if writes else None,
                     writes=writes, result=_render_outcome(result, None),
                     orders_everything=step.kind == "vector_search")
        return result

    # -- scheduled jobs as steps of the op that scheduled them ----------------------------------
    def _note_jobs(self, writes: Sequence[Write]) -> None:
        for write in writes:
            if write.table == SCHEDULED_FUNCTIONS and write.old is None:
                self._job_ids.setdefault(self._current_op, []).append(write.id)

    def _jobs(self, index: int) -> Generator[_Pending, None, None]:
        """Run the op's scheduled jobs (and theirs), in due order, as more steps of the op."""
        scheduler = self.sim.scheduler
        while self._job_ids.get(index):
            queue = self._job_ids[index]
            rows = [(self.db.begin("explore", read_only=True).get(j), j) for j in queue]
            row, job_id = min((r for r in rows if r[0] is not None),
                              key=lambda r: (r[0]["scheduled_time"], r[0]["_creationTime"]), default=(None, None))
            if row is None:
                return
            queue.remove(job_id)
            fn = self.runtime.registry.resolve(row["name"])
            args = row["args"][0] if row["args"] else {}
            moves = row["scheduled_time"] > self.db.clock.now_ms
            if moves:
                self.db.clock.set(row["scheduled_time"])
            label = f"job {fn.path}"
            if fn.kind == MUTATION:
                yield from self._guarded_job(
                    self._mutation(fn, args, None, body=scheduler.mutation_job_body(job_id, fn, args),
                                   label=label, retries=SCHEDULED_MUTATION_RETRIES), job_id, moves)
            else:
                yield from self._guarded_job(self._action_job(job_id, fn, args, label), job_id, moves)

    def _guarded_job(self, steps: Generator[_Pending, None, Any], job_id: str, moves: bool) -> Generator[_Pending, None, None]:
        first = len(self.records)
        try:
            yield from steps
        except Exception as exc:
            self.sim.scheduler.mark(job_id, {"kind": "failed", "error": _render_outcome(None, exc)})
        if moves and len(self.records) > first:
            self.records[first].orders_everything = True

    def _action_job(self, job_id: str, fn: ConvexFunction, args: dict, label: str) -> Generator[_Pending, None, None]:
        scheduler = self.sim.scheduler
        yield _Pending("job", label)
        latest = self.db.latest_ts
        txn = self.db.begin("scheduler")
        started = scheduler.start_action_job(txn, job_id)
        txn.commit()
        writes = tuple(w for c in self.db.commits_after(latest) for w in c.writes)
        self._record("job", label, commit_ts=self.db.latest_ts if writes else None, writes=writes,
                     reads=tuple(txn.reads), result="started" if started else "canceled before it ran")
        if started:
            yield from self._action(self.runtime.action_process(fn, args, None))
            scheduler.mark(job_id, {"kind": "success"})

    # -- outcome -----------------------------------------------------------------------------------
    def outcome(self) -> tuple[Any, Failure | None]:
        """(canonical outcome, failure of an unexpected error or None)."""
        results = []
        for runner, op in zip(self.runners, self.x.ops, strict=True):
            if runner.error is None:
                results.append(["ok", runner.result])
            elif isinstance(runner.error, ConvexError):
                results.append(["ConvexError", runner.error.data])
            elif isinstance(runner.error, self.x.expected_errors):
                results.append(["error", type(runner.error).__name__])
            else:
                name = type(runner.error).__name__
                return None, Failure(f"error {name}", f"op {_letter(runner.index)} ({op.label}) "
                                                      f"raised {name}: {runner.error}")
        is_id = lambda text: self.db.table_of_id(text) is not None  # noqa: E731
        return _canonical(results, self.x.final_state(), self.x.initial_ids, is_id), None


def _flow_handler(flow: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    async def handler(ctx: Any, client: Any) -> Any:
        return await flow(client)
    return handler


def _render_outcome(result: Any, error: BaseException | None) -> str:
    if error is None:
        return format_value(result, 60)
    if isinstance(error, ConvexError):
        return f"ConvexError({format_value(error.data, 60)})"
    return f"{type(error).__name__}: {str(error)[:60]}"


# --- Canonical outcomes ----------------------------------------------------------------------------


def _canonical(results: list, state: dict[str, list[dict]], initial_ids: frozenset[str],
               is_id: Callable[[str], bool]) -> str:
    """A string equal for outcomes that differ only in the IDs and creation times allocated."""
    labels: dict[str, str] = {}

    def relabel(value: Any) -> Any:
        t = type(value)
        if t is str:
            if value in labels:
                return labels[value]
            return value
        if t is list:
            return [relabel(x) for x in value]
        if t is dict:
            return {k: relabel(x) for k, x in value.items()}
        return value

    def visit(value: Any) -> None:
        t = type(value)
        if t is str and value not in initial_ids and value in new_ids and value not in labels:
            labels[value] = f"<new {len(labels) + 1}>"
        elif t is list:
            for x in value:
                visit(x)
        elif t is dict:
            for k in sorted(value):
                visit(value[k])

    new_ids = {d["_id"] for rows in state.values() for d in rows if d["_id"] not in initial_ids}
    new_ids |= {x for x in _strings_in(results) - initial_ids if is_id(x)}
    visit(results)
    tables = {}
    for name in sorted(state):
        rows = [_strip(d, initial_ids) for d in state[name]]
        masked = sorted(rows, key=lambda d: sort_key(_mask(d, new_ids)))
        for row in masked:
            visit(row)
        tables[name] = sorted((relabel(r) for r in masked), key=sort_key)
    return json.dumps({"results": relabel(results), "state": tables}, sort_keys=True, default=repr)


def _strings_in(value: Any) -> set[str]:
    if type(value) is str:
        return {value}
    if type(value) is list:
        return set().union(*(_strings_in(x) for x in value)) if value else set()
    if type(value) is dict:
        return set().union(*(_strings_in(x) for x in value.values())) if value else set()
    return set()


def _strip(doc: dict, initial_ids: frozenset[str]) -> dict:
    """Drop what only allocation order decides: a new document's creation time, job timing."""
    out = dict(doc)
    if doc["_id"] not in initial_ids:
        out.pop("_creationTime", None)
    out.pop("scheduled_time", None)
    out.pop("completed_time", None)
    return out


def _mask(value: Any, new_ids: set[str]) -> Any:
    t = type(value)
    if t is str:
        return "?" if value in new_ids else value
    if t is list:
        return [_mask(x, new_ids) for x in value]
    if t is dict:
        return {k: _mask(x, new_ids) for k, x in value.items()}
    return value


# --- Results --------------------------------------------------------------------------------------


@dataclass
class Counterexample:
    """A failing schedule, shrunk: ``str()`` is the timeline, ``replay()`` re-runs it."""

    schedule: str
    reason: str
    steps: list[StepRecord]          # a mutation's begin and commit, when adjacent, are one step
    ops: list[Op | Flow]
    seed: int
    kind: str = ""
    records: list[StepRecord] = field(default_factory=list, repr=False)  # every engine step
    _replay: Callable[[], Any] = field(repr=False, default=lambda: None)

    def replay(self) -> ScheduleRun:
        """Run this schedule again (from the same starting state) and return the run."""
        return self._replay()

    def __str__(self) -> str:
        return render_timeline(self)


@dataclass
class ScheduleRun:
    """One schedule's run: its steps, its verdict. ``str()`` is its timeline."""

    schedule: str
    steps: list[StepRecord]
    failure: str | None
    outcome: str | None
    ops: list[Op | Flow] = field(default_factory=list, repr=False)
    seed: int = 0
    kind: str = ""   # the failure's kind, if it failed

    @property
    def ok(self) -> bool:
        return self.failure is None

    def __str__(self) -> str:
        return _timeline(self.schedule, self.steps, self.ops, self.failure, self.kind, self.seed)


@dataclass
class ExplorationResult:
    """What ``sim.explore`` found."""

    strategy: str
    schedules_run: int
    distinct_outcomes: int
    failures: list[Counterexample]
    stats: dict[str, int]
    exhausted: bool = False   # every schedule (up to reduction) was run

    @property
    def ok(self) -> bool:
        return not self.failures

    def assert_ok(self) -> None:
        """Raise AssertionError with the first counterexample's timeline if anything failed."""
        if self.failures:
            raise AssertionError(f"{len(self.failures)} failing schedule(s) found; the first:\n{self.failures[0]}")

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"{len(self.failures)} failure(s)"
        extra = ", ".join(f"{k} {v}" for k, v in sorted(self.stats.items()))
        return (f"{self.strategy}: {self.schedules_run} schedules, {self.distinct_outcomes} distinct "
                f"outcomes, {verdict}" + (f" ({extra})" if extra else ""))


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"op{i}"


def schedule_string(choices: Sequence[int]) -> str:
    """Compact form: ``"ABAB"`` (``"0,1,0,1"`` beyond 26 operations)."""
    if all(c < 26 for c in choices):
        return "".join(_letter(c) for c in choices)
    return ",".join(str(c) for c in choices)


def parse_schedule(text: str) -> list[int]:
    text = text.strip()
    if "," in text or text.isdigit():
        return [int(p) for p in text.split(",") if p.strip()]
    if not all("A" <= c <= "Z" for c in text):
        raise ExplorationError(f"A schedule is letters like 'ABBA' or indices like '0,1,1,0', got {text!r}")
    return [ord(c) - ord("A") for c in text]


# --- The explorer ------------------------------------------------------------------------------------


class _Explorer:
    def __init__(self, sim: Any, ops: Sequence[Op | Flow], *, invariant: Callable[[Any], Any] | None,
                 check_serializable: bool, seed: int, setup: Callable[[Any], Any] | None,
                 expected_errors: tuple[type[BaseException], ...], check_subscriptions: bool = True) -> None:
        self.sim = sim
        self.ops = list(ops)
        if not self.ops:
            raise ExplorationError("explore: give at least one Op or Flow.")
        self.functions: list[ConvexFunction | None] = []
        for i, op in enumerate(self.ops):
            if isinstance(op, Op):
                fn = sim.runtime.registry.resolve(op.ref, caller=f"explore op {_letter(i)}")
                if fn.kind == HTTP_ACTION:
                    raise ExplorationError(f"explore op {_letter(i)}: {fn.path} is an HTTP action; use sim.fetch.")
                self.functions.append(fn)
            elif isinstance(op, Flow):
                self.functions.append(None)
            else:
                raise ExplorationError(f"explore: op {_letter(i)} must be Op(...) or Flow(...), got {op!r}")
        self.invariant = invariant
        self.check_serializable = check_serializable
        self.seed = seed
        self.setup = setup
        self.expected_errors = tuple(expected_errors)
        self.stats = {"conflicts": 0, "sleep_blocked": 0}
        self._live: _Execution | None = None
        self.check_subscriptions = check_subscriptions
        self._client_marks = [(c, len(c.transitions)) for c in sim.subscriptions.clients if c.subscriptions]
        self.start = sim.capture_state()
        self.initial_ids = frozenset(d["_id"] for rows in self.final_state().values() for d in rows)
        self._serial: dict[tuple[int, ...], str | None] = {}
        self.identities = [self._make_identity(op) for op in self.ops]

    # -- state ---------------------------------------------------------------------------------
    def reset(self, execution: _Execution | None = None) -> None:
        """Close the live execution, rewind to the start, run ``setup``."""
        if self._live is not None:
            self._live.close()
        self._live = execution
        self.sim.restore_state(self.start)
        if self.setup is not None:
            self.setup(self.sim)

    def close(self) -> None:
        """Close the live execution and put the simulator back as it was."""
        if self._live is not None:
            self._live.close()
            self._live = None
        self.sim.restore_state(self.start)

    def final_state(self) -> dict[str, list[dict]]:
        txn = self.sim.db.begin("explore", read_only=True)
        state = {}
        for table in sorted(self.sim.db.table_names()):
            state[table] = [dict(d) for d in txn.scan(table, "by_creation_time")]
        return state

    def _make_identity(self, op: Op | Flow) -> UserIdentity | None:
        identity = op.identity
        if identity is None or isinstance(identity, UserIdentity):
            return identity
        if isinstance(identity, dict):
            return self.sim.with_identity(**identity).identity
        raise ExplorationError(f"explore: identity must be a UserIdentity or a dict of its fields, got {identity!r}")

    # -- checks ----------------------------------------------------------------------------------
    def check_invariant(self, record: StepRecord) -> Failure | None:
        if self.invariant is None:
            return None
        txn = self.sim.db.begin("invariant", read_only=True)
        ctx = QueryCtx(self.sim.runtime, txn, None, "invariant", False)
        frame = self.sim.runtime.new_frame("invariant", QUERY)
        try:
            verdict = run_guarded(frame, lambda: self.invariant(ctx))
        except AssertionError as exc:
            message = str(exc).split("\n")[0]  # pytest's rewriting appends "\nassert ..."
            return Failure("invariant", f"invariant failed: {message or 'assertion failed'}")
        except Exception as exc:
            return Failure("invariant", f"invariant raised {type(exc).__name__}: {exc}")
        if verdict is False:
            name = getattr(self.invariant, "__name__", "invariant")
            return Failure("invariant", f"invariant {name!r} returned False")
        return None

    def serial_outcome(self, order: tuple[int, ...]) -> str | None:
        if order not in self._serial:
            execution = _Execution(self)
            for op in order:
                while not execution.runners[op].done:
                    execution.step(op)
            outcome, _error = execution.outcome()
            self._serial[order] = outcome
            execution.close()
        return self._serial[order]

    def serializability_failure(self, outcome: str, execution: _Execution) -> Failure | None:
        n = len(self.ops)
        candidates: Iterable[tuple[int, ...]]
        guided = _guided_orders(execution, n)
        if n <= ENUMERATE_SERIAL_ORDERS_UP_TO:
            candidates = itertools.chain(guided, itertools.permutations(range(n)))
        else:
            candidates = itertools.islice(itertools.chain(guided, _topological_orders(execution, n)), 200)
        seen = set()
        for order in candidates:
            if order in seen:
                continue
            seen.add(order)
            if self.serial_outcome(order) == outcome:
                return None
        closest = guided[0]
        names = ", ".join(_letter(i) for i in range(n))
        diff = _difference(outcome, self.serial_outcome(closest) or "")
        searched = "" if n <= ENUMERATE_SERIAL_ORDERS_UP_TO else f" (searched {len(seen)} orders)"
        return Failure("serializability",
                       f"no serial order of [{names}] gives this outcome{searched}; closest serial order "
                       f"{'→'.join(_letter(i) for i in closest)} differs in: {diff}")

    # -- one schedule ------------------------------------------------------------------------------
    def run(self, choices: Sequence[int]) -> tuple[_Execution, str | None, Failure | None]:
        execution = _Execution(self)
        execution.run_choices(choices)
        return execution, *self.verdict(execution)

    def verdict(self, execution: _Execution) -> tuple[str | None, Failure | None]:
        """(outcome, failure) of a finished execution (serial runs may replace the live one)."""
        if execution.failure:
            return None, execution.failure
        if self.check_subscriptions:
            failure = self.subscription_failure()
            if failure:
                return None, failure
        outcome, error = execution.outcome()
        if error:
            return None, error
        if self.check_serializable:
            failure = self.serializability_failure(outcome, execution)  # type: ignore[arg-type]
            if failure:
                return outcome, failure
        return outcome, None

    def subscription_failure(self) -> Failure | None:
        """Every client's transitions during this schedule, checked (see check_consistency)."""
        from .subscriptions import check_consistency

        for client, since in self._client_marks:
            report = check_consistency(client, since=since)
            if not report.ok:
                return Failure("subscription", f"client {client.id}: {report.problems[0]}")
        return None

    def schedule_of(self, execution: _Execution) -> list[int]:
        return [r.op for r in execution.records]


def _guided_orders(execution: _Execution, n: int) -> list[tuple[int, ...]]:
    """Serial orders suggested by the schedule: by each op's last commit, by its first step."""
    last_commit: dict[int, int] = {}
    first_step: dict[int, int] = {}
    for record in execution.records:
        first_step.setdefault(record.op, record.number)
        if record.commit_ts is not None or record.kind in ("commit", "query"):
            last_commit[record.op] = record.number
    by_commit = tuple(sorted(range(n), key=lambda i: (last_commit.get(i, 0), i)))
    by_start = tuple(sorted(range(n), key=lambda i: (first_step.get(i, 0), i)))
    return [by_commit, by_start]


def _topological_orders(execution: _Execution, n: int) -> Iterable[tuple[int, ...]]:
    """Orders consistent with the conflict graph of the run (a → b when a step of b came after a
    dependent step of a)."""
    edges: dict[int, set[int]] = {i: set() for i in range(n)}
    records = execution.records
    for i, a in enumerate(records):
        for b in records[i + 1:]:
            if a.op != b.op and a.depends_on(b):
                edges[a.op].add(b.op)

    def extend(order: list[int], remaining: set[int]) -> Iterable[tuple[int, ...]]:
        if not remaining:
            yield tuple(order)
            return
        ready = sorted(i for i in remaining if not any(i in edges[j] for j in remaining if j != i))
        for i in ready or sorted(remaining):
            yield from extend([*order, i], remaining - {i})

    return extend([], set(range(n)))


def _difference(a: str, b: str) -> str:
    """The first differing parts of two canonical outcomes, for humans."""
    try:
        da, db = json.loads(a), json.loads(b)
    except ValueError:
        return "the outcomes"
    diffs: list[str] = []
    for i, (ra, rb) in enumerate(zip(da["results"], db["results"], strict=False)):
        if ra != rb:
            diffs.append(f"result of {_letter(i)} {_short(ra)} vs {_short(rb)}")
    for table in sorted(set(da["state"]) | set(db["state"])):
        rows_a, rows_b = da["state"].get(table, []), db["state"].get(table, [])
        if rows_a != rows_b:
            diffs.append(_table_difference(table, rows_a, rows_b))
    return "; ".join(diffs[:3]) or "nothing visible"


def _table_difference(table: str, rows_a: list[dict], rows_b: list[dict]) -> str:
    if len(rows_a) != len(rows_b):
        return f"{table} has {len(rows_a)} rows vs {len(rows_b)}"
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        for key in sorted(set(row_a) | set(row_b)):
            if row_a.get(key) != row_b.get(key):
                who = row_a.get("_id", "?")
                return f"{table}[{who}].{key} {format_value(row_a.get(key))} vs {format_value(row_b.get(key))}"
    return f"{table} differs"


def _short(value: Any) -> str:
    """An op's canonical result (``["ok", x]``, ``["ConvexError", data]``, ...) for humans."""
    if isinstance(value, list) and len(value) == 2:
        tag, payload = value
        if tag == "ok":
            return format_value(payload, 50)
        if tag == "ConvexError":
            return f"ConvexError({format_value(payload, 50)})"
        return f"{payload}"
    return format_value(value, 50)


# --- Strategies ------------------------------------------------------------------------------------


class _Search:
    """Runs schedules for a strategy, collecting outcomes and failures."""

    def __init__(self, explorer: _Explorer, max_schedules: int, progress: Any) -> None:
        self.x = explorer
        self.max_schedules = max_schedules
        self.schedules_run = 0
        self.outcomes: set[str] = set()
        self.failures: list[tuple[list[int], Failure]] = []
        self._failure_kinds: set[str] = set()
        self.progress = progress

    @property
    def budget_left(self) -> bool:
        return self.schedules_run < self.max_schedules

    def finish(self, execution: _Execution) -> None:
        """A complete schedule ran: check it and count it."""
        outcome, failure = self.x.verdict(execution)
        self.schedules_run += 1
        if self.progress is not None:
            self.progress.update(1)
        if outcome is not None:
            self.outcomes.add(outcome)
        if failure is not None and failure.kind not in self._failure_kinds:
            self._failure_kinds.add(failure.kind)  # one counterexample per kind of failure
            self.failures.append((self.x.schedule_of(execution), failure))

    # -- exhaustive, with sleep sets ------------------------------------------------------------
    def exhaustive(self, reduction: bool) -> bool:
        """Depth-first over all schedules; returns True if the whole tree was covered."""
        return self._dfs([], {}, reduction)

    def _dfs(self, prefix: list[int], sleep: dict[int, StepRecord], reduction: bool,
             execution: _Execution | None = None) -> bool:
        if not self.budget_left:
            return False
        if execution is None:
            execution = _Execution(self.x)
            for op in prefix:
                execution.step(op)
        enabled = execution.enabled()
        if not enabled or execution.failure:
            self.finish(execution)
            return True
        candidates = [op for op in enabled if op not in sleep]
        if not candidates:
            self.x.stats["sleep_blocked"] += 1
            return True
        explored: dict[int, StepRecord] = {}
        complete = True
        for i, op in enumerate(candidates):
            if i > 0:
                execution = _Execution(self.x)
                for p in prefix:
                    execution.step(p)
            record = execution.step(op)
            child_sleep = {}
            if reduction:
                child_sleep = {q: r for q, r in {**sleep, **explored}.items() if not r.depends_on(record)}
            complete &= self._dfs([*prefix, op], child_sleep, reduction, execution)
            explored[op] = record
            if not self.budget_left:
                return False
        return complete

    # -- random ----------------------------------------------------------------------------------
    def random_walks(self, rng: random.Random) -> None:
        while self.budget_left:
            execution = _Execution(self.x)
            while (enabled := execution.enabled()) and not execution.failure:
                execution.step(rng.choice(enabled))
            self.finish(execution)

    # -- PCT (Burckhardt et al. 2010) --------------------------------------------------------------
    def pct(self, rng: random.Random, depth: int) -> None:
        n = len(self.x.ops)
        probe = _Execution(self.x)
        probe.run_choices([])
        steps = max(len(probe.records), 1)
        while self.budget_left:
            priorities = list(range(depth, depth + n))
            rng.shuffle(priorities)
            change_points = sorted(rng.sample(range(1, steps + 1), min(depth - 1, steps)))
            execution = _Execution(self.x)
            taken = 0
            while (enabled := execution.enabled()) and not execution.failure:
                op = max(enabled, key=lambda i: priorities[i])
                execution.step(op)
                taken += 1
                for k, point in enumerate(change_points):
                    if point == taken:
                        priorities[op] = depth - 1 - k  # below every initial priority
            steps = max(steps, taken)
            self.finish(execution)


# --- Shrinking (generic over choice sequences) -------------------------------------------------------


def shrink(choices: list[int], run: Callable[[list[int]], tuple[tuple, list[int]] | None],
           budget: int = 400) -> list[int]:
    """The simplest schedule found that still fails.

    ``run(candidate)`` returns ``(simplicity key, schedule executed)`` if
    ``candidate`` still fails (a smaller key is simpler), else None. A
    candidate is kept only if it is strictly simpler, so shrinking ends; the
    search then continues from the schedule it executed, every step explicit.
    Passes: cut the list short (the rest runs op by op), delete one choice,
    swap two neighbouring choices.
    """
    first = run(list(choices))
    if first is None:
        return list(choices)
    best, best_choices = first
    tries = 0

    def attempt(candidate: list[int]) -> bool:
        nonlocal best, best_choices, tries
        if tries >= budget:
            return False
        tries += 1
        found = run(candidate)
        if found is not None and found[0] < best:
            best, best_choices = found
            return True
        return False

    improved = True
    while improved and tries < budget:
        improved = False
        for cut in range(len(best_choices)):
            if attempt(best_choices[:cut]):
                improved = True
                break
        for i in range(len(best_choices) - 1, -1, -1):
            if i < len(best_choices) and attempt(best_choices[:i] + best_choices[i + 1:]):
                improved = True
        for i in range(len(best_choices) - 1):
            a, b = best_choices[i], best_choices[i + 1]
            if a != b and attempt([*best_choices[:i], b, a, *best_choices[i + 2:]]):
                improved = True
    return best_choices


def _switches(choices: Sequence[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(choices) if a != b)


# --- Rendering ---------------------------------------------------------------------------------------


def coalesce(records: Sequence[StepRecord]) -> list[StepRecord]:
    """Merge each mutation's begin with its commit (or conflict) when nothing ran in between:
    from everyone else's point of view that pair is one atomic step."""
    out: list[StepRecord] = []
    i = 0
    while i < len(records):
        r = records[i]
        nxt = records[i + 1] if i + 1 < len(records) else None
        if (r.kind == "begin" and nxt is not None and nxt.op == r.op and nxt.function == r.function
                and nxt.kind in ("commit", "conflict")):
            kind = "mutation" if nxt.kind == "commit" else "conflict"
            out.append(StepRecord(len(out) + 1, r.op, kind, r.function, r.snapshot_ts, nxt.commit_ts,
                                  nxt.reads, nxt.writes, r.pending, nxt.result or r.result,
                                  r.orders_everything or nxt.orders_everything))
            i += 2
            continue
        out.append(StepRecord(len(out) + 1, r.op, r.kind, r.function, r.snapshot_ts, r.commit_ts,
                              r.reads, r.writes, r.pending, r.result, r.orders_everything))
        i += 1
    return out



def _describe_reads(reads: Sequence[ReadRange]) -> str:
    seen = []
    for read in reads:
        text = str(read)
        if text not in seen:
            seen.append(text)
    return "; ".join(seen[:3]) + (f"; +{len(seen) - 3} more" if len(seen) > 3 else "")


def _describe_writes(record: StepRecord) -> str:
    if record.writes:
        return "; ".join(f"{w.kind} {w.table} {w.id[:8]}…" for w in record.writes[:3]) + (
            f"; +{len(record.writes) - 3} more" if len(record.writes) > 3 else "")
    if record.pending:
        return "buffers " + "; ".join(f"{t} {i[:8]}…" for t, i in record.pending[:3])
    return ""


def render_timeline(example: Counterexample) -> str:
    """The numbered timeline of a counterexample, then the failure and the replay line."""
    return _timeline(example.schedule, example.steps, example.ops, example.reason, example.kind, example.seed)


def _timeline(schedule: str, steps: Sequence[StepRecord], op_list: Sequence[Op | Flow],
              reason: str | None, kind: str, seed: int) -> str:
    ops = ", ".join(f"{_letter(i)} = {op.label}" for i, op in enumerate(op_list))
    lines = [f"Schedule {schedule!r} ({len(steps)} steps, "
             f"{_switches([s.op for s in steps])} context switches)   ops: {ops}"]
    for s in steps:
        ts = f"snapshot {s.snapshot_ts}" if s.snapshot_ts is not None else ""
        if s.commit_ts is not None:
            ts += f" → commit {s.commit_ts}"
        lines.append(f"  {s.number:>2}. {_letter(s.op)}  {s.kind:<9} {s.function:<30} {ts}")
        if s.reads:
            lines.append(f"        reads  {_describe_reads(s.reads)}")
        writes = _describe_writes(s) if s.kind != "mutation" or s.writes else ""
        if writes:
            lines.append(f"        writes {writes}")
        if s.result:
            lines.append(f"        → {s.result}")
    if reason is None:
        lines.append("OK")
    else:
        where = f" (after step {steps[-1].number})" if kind == "invariant" and steps else ""
        lines.append(f"FAILED{where}: {reason}")
    lines.append(f"seed {seed}; replay: sim.replay_schedule({schedule!r})")
    return "\n".join(lines)


def render_html(example: Counterexample, path: str | os.PathLike[str]) -> str:
    """Write a self-contained HTML timeline (one column per op), atomically; return the path."""
    n = len(example.ops)
    head = "".join(f"<th>{_letter(i)}<br><small>{html.escape(op.label)}</small></th>" for i, op in enumerate(example.ops))
    rows = []
    writers: dict[tuple[str, str], int] = {}
    for s in example.steps:
        cells = []
        for i in range(n):
            if i != s.op:
                cells.append("<td></td>")
                continue
            links = []
            for read in s.reads:
                for key, step_no in writers.items():
                    if key[0] == read.table:
                        links.append(f"reads from step {step_no}")
                        break
            for w in s.writes:
                if (w.table, w.id) in writers:
                    links.append(f"overwrites step {writers[(w.table, w.id)]}")
            detail = "<br>".join(html.escape(x) for x in [
                f"{s.kind} {s.function}",
                f"snapshot {s.snapshot_ts}" if s.snapshot_ts is not None else "",
                f"commit {s.commit_ts}" if s.commit_ts is not None else "",
                _describe_reads(s.reads) and "reads " + _describe_reads(s.reads),
                _describe_writes(s) and "writes " + _describe_writes(s),
                f"→ {s.result}" if s.result else "", *[f"↳ {x}" for x in dict.fromkeys(links)]] if x)
            cells.append(f'<td class="step">{detail}</td>')
        for w in s.writes:
            writers[(w.table, w.id)] = s.number
        rows.append(f"<tr><th>{s.number}</th>{''.join(cells)}</tr>")
    document = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>convex-sim counterexample {html.escape(example.schedule)}</title>
<style>
body {{ font: 13px system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}
td.step {{ background: #eef5ff; }} .fail {{ color: #b00; font-weight: bold; margin-top: 1em; }}
</style></head><body>
<h1>Schedule {html.escape(example.schedule)}</h1>
<table><tr><th>#</th>{head}</tr>{''.join(rows)}</table>
<p class="fail">FAILED: {html.escape(example.reason)}</p>
<p><code>seed {example.seed}; replay: sim.replay_schedule({html.escape(repr(example.schedule))})</code></p>
</body></html>
"""
    return write_atomically(path, document)


def write_atomically(path: str | os.PathLike[str], text: str) -> str:
    """Write ``text`` to ``path`` via a temporary file and a rename: never a half-written file."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".convex-sim-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return target


# --- Entry points ----------------------------------------------------------------------------------


def _progress_bar(total: int) -> Any:
    if not sys.stderr.isatty() or total < 200:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="convex-sim explore", unit="schedule", leave=False, file=sys.stderr)


def explore(sim: Any, ops: Sequence[Op | Flow], *, invariant: Callable[[Any], Any] | None = None,
            check_serializable: bool = True, strategy: str = "exhaustive",
            max_schedules: int | None = None, seed: int | None = None,
            setup: Callable[[Any], Any] | None = None,
            expected_errors: Iterable[type[BaseException]] = (), reduction: bool = True,
            pct_depth: int = 3, check_subscriptions: bool = True) -> ExplorationResult:
    """Run ``ops`` concurrently under many schedules and check each one; see ``ConvexSim.explore``."""
    if strategy not in STRATEGIES:
        raise ExplorationError(f"explore: strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    budget = max_schedules if max_schedules is not None else DEFAULTS["max_schedules"]
    if type(budget) is not int or budget < 1:
        raise ExplorationError(f"explore: max_schedules must be an int >= 1, got {budget!r}")
    seed = seed if seed is not None else (DEFAULTS["seed"] if DEFAULTS["seed"] is not None else 0)
    explorer = _Explorer(sim, ops, invariant=invariant, check_serializable=check_serializable, seed=seed,
                         setup=setup, expected_errors=tuple(expected_errors),
                         check_subscriptions=check_subscriptions)
    progress = _progress_bar(budget)
    search = _Search(explorer, budget, progress)
    exhausted = False
    try:
        if strategy == "exhaustive":
            exhausted = search.exhaustive(reduction)
        elif strategy == "random":
            search.random_walks(random.Random(seed))
        else:
            search.pct(random.Random(seed), max(pct_depth, 1))
        failures = [_counterexample(explorer, choices, reason) for choices, reason in search.failures]
    finally:
        if progress is not None:
            progress.close()
        explorer.close()
    stats = dict(explorer.stats)
    result = ExplorationResult(strategy, search.schedules_run, len(search.outcomes), failures, stats, exhausted)
    sim._remember_exploration(explorer, result)
    return result


def _counterexample(explorer: _Explorer, choices: list[int], found: Failure) -> Counterexample:
    def run(candidate: list[int]) -> tuple[tuple, list[int]] | None:
        execution, _outcome, failure = explorer.run(candidate)
        if failure is None or failure.kind != found.kind:
            return None
        executed = explorer.schedule_of(execution)
        # What a reader counts first: the steps of the timeline, then engine steps, then switches.
        return (len(coalesce(execution.records)), len(executed), _switches(executed), executed), executed

    small = shrink(choices, run)
    execution, _outcome, failure = explorer.run(small)
    schedule = schedule_string(explorer.schedule_of(execution))
    example = Counterexample(schedule, str(failure or found), coalesce(execution.records), explorer.ops,
                             explorer.seed, kind=(failure or found).kind, records=execution.records)
    example._replay = lambda: replay(explorer, schedule)
    return example


def replay(explorer: _Explorer, schedule: str) -> ScheduleRun:
    """Run one schedule string against an explorer's starting state, then restore the sim."""
    try:
        execution, outcome, failure = explorer.run(parse_schedule(schedule))
        return ScheduleRun(schedule_string(explorer.schedule_of(execution)), coalesce(execution.records),
                           failure.message if failure else None, outcome, explorer.ops, explorer.seed,
                           failure.kind if failure else "")
    finally:
        explorer.close()


def make_explorer(sim: Any, ops: Sequence[Op | Flow], **options: Any) -> _Explorer:
    """An explorer for ``run_schedule``/``replay_schedule`` (no search)."""
    return _Explorer(sim, ops, invariant=options.get("invariant"),
                     check_serializable=options.get("check_serializable", True),
                     seed=options.get("seed", 0), setup=options.get("setup"),
                     expected_errors=tuple(options.get("expected_errors", ())),
                     check_subscriptions=options.get("check_subscriptions", True))

