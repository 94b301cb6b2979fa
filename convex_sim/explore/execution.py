"""One schedule's execution: operations advanced step by step, each step recorded."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from ..checker import HistoryRecorder
from ..database import Write, WriteConflict
from ..errors import ContentionError, ConvexError, hide_simulator_frames
from ..functions import ACTION, MUTATION, PUBLIC, QUERY, ConvexFunction
from ..runtime import Step, UserIdentity, pump, stable_seed
from ..scheduler import SCHEDULED_FUNCTIONS, SCHEDULED_MUTATION_RETRIES
from ..values import format_value
from .ops import Actor, Flow, FlowClient, Op, op_letter
from .outcomes import canonical_outcome
from .records import Failure, StepRecord

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours


class Exploration(Protocol):
    """What an execution needs from the exploration it belongs to (the engine's ``Explorer``):
    the ops and their settings, the starting state, the invariant, the final state."""

    sim: Any
    ops: list[Op | Flow | Actor]
    functions: list[ConvexFunction | None]
    identities: list[UserIdentity | None]
    seed: int
    check_history: bool
    expected_errors: tuple[type[BaseException], ...]
    compared_results: list[bool]
    compare_state: bool
    initial_ids: frozenset[str]
    stats: dict[str, int]

    def reset(self, execution: Execution | None = None) -> None: ...

    def check_invariant(self, record: StepRecord) -> Failure | None: ...

    def final_state(self) -> dict[str, list[dict]]: ...


@dataclass
class Pending:
    """What an operation yields before each of its steps (the step's kind and function)."""

    kind: str
    function: str


# --- One schedule's execution ------------------------------------------------------------------


class _OpRunner:
    """Advances one operation step by step (its generator pauses before each step)."""

    def __init__(self, index: int, gen: Generator[Pending, None, Any]) -> None:
        self.index, self.gen = index, gen
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.pending: Pending | None = None
        self.advance()

    def advance(self) -> None:
        try:
            self.pending = next(self.gen)
        except StopIteration as stop:
            self.done, self.result, self.pending = True, stop.value, None
        except Exception as exc:  # the operation failed: its error is its result
            self.done, self.error, self.pending = True, exc, None


class Execution:
    """Runs one schedule from the exploration's starting state."""

    def __init__(self, explorer: Exploration, *, defer_jobs: str | None = None) -> None:
        self.x = explorer
        #: A serial run: an op's jobs wait for :meth:`run_jobs_due`, those not due yet
        #: (``"delayed"``) or all (``"all"``); None runs them as steps of the op.
        self.defer_jobs = defer_jobs
        self.sim = explorer.sim
        self.runtime = explorer.sim.runtime
        self.db = explorer.sim.db
        #: The schedule's committed transactions, for the history check (started by reset).
        self.recorder = HistoryRecorder(self.db, start=False) if explorer.check_history else None
        explorer.reset(self)
        self.records: list[StepRecord] = []
        self.failure: Failure | None = None
        self._current_op = -1
        self._job_ids: dict[int, list[str]] = {}
        self._op_calls = [0] * len(explorer.ops)
        #: The virtual time of each op's first step (None until it takes one).
        self.started_at: list[float | None] = [None] * len(explorer.ops)
        self.runtime.seed_source = self._next_seed
        #: Per-schedule state of actors (keyed by what they share, e.g. a frontend).
        self.world: dict[Any, Any] = {}
        #: Called with every step's record after it ran (actors react to commits).
        self.after_step: list[Callable[[StepRecord], None]] = []
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
        if self.recorder is not None:
            self.recorder.stop()
        for runner in self.runners:
            if not runner.done:
                runner.gen.close()
                runner.done = True
        if self.runtime.seed_source == self._next_seed:
            self.runtime.seed_source = None

    # -- running ---------------------------------------------------------------------------
    def enabled(self) -> list[int]:
        ops = self.x.ops
        return [r.index for r in self.runners
                if not r.done and not (isinstance(ops[r.index], Actor) and ops[r.index].blocked(self))]

    def step(self, op: int) -> StepRecord:
        runner = self.runners[op]
        self._current_op = op
        if self.started_at[op] is None:
            self.started_at[op] = self.db.clock.now_ms
        if self.recorder is not None:
            self.recorder.context["op"] = op_letter(op)
        before = len(self.records)
        latest = self.db.latest_ts
        runner.advance()
        if len(self.records) == before:  # defensive: every step records itself
            self._record("step", runner.pending.function if runner.pending else "?")
        record = self.records[-1]
        for hook in self.after_step:
            hook(record)
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

    # -- for actors -------------------------------------------------------------------------
    @property
    def current_op(self) -> int:
        """The index of the operation taking the current step."""
        return self._current_op

    def record(self, kind: str, function: str, **fields: Any) -> StepRecord:
        """Record the step an actor just took (every step records itself once)."""
        return self._record(kind, function, **fields)

    def mutation_steps(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None) -> Generator[Pending, None, Any]:
        """A mutation's steps (begin, commit; again after a conflict), as an ``Op`` takes them."""
        return self._mutation(fn, args, identity)

    def query_steps(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None) -> Generator[Pending, None, Any]:
        """A query's one step, at the latest commit."""
        return self._query(fn, args, identity)

    def action_steps(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None) -> Generator[Pending, None, Any]:
        """An action's steps: one per call it awaits."""
        return self._action(self.runtime.action_process(fn, args, identity))

    # -- operation generators ---------------------------------------------------------------
    def _op_steps(self, index: int, op: Op | Flow | Actor) -> Generator[Pending, None, Any]:
        if isinstance(op, Actor):
            return (yield from op.steps(self))
        identity = self.x.identities[index]
        if isinstance(op, Flow):
            fn = ConvexFunction(ACTION, PUBLIC, _flow_handler(op), None, None)
            fn.path = f"flow {op.label}"
            client = FlowClient(self.runtime, identity)
            result = yield from self._action(self.runtime.action_process(fn, client, identity, raw=True))
        else:
            fn = self.x.functions[index]
            if fn.kind == MUTATION:
                result = yield from self._mutation(fn, op.args, identity, arrive=lambda: self._restart(index))
            elif fn.kind == QUERY:
                result = yield from self._query(fn, op.args, identity)
            else:
                result = yield from self._action(self.runtime.action_process(fn, op.args, identity))
        yield from self._jobs(index)
        return result

    def _restart(self, op: int) -> None:
        """A mutation op begins an attempt: it starts (again) now. An attempt after a conflict
        is a new transaction, at the time it begins."""
        self.started_at[op] = self.db.clock.now_ms

    def _mutation(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None,
                  body: Any = None, label: str = "", retries: int | None = None,
                  arrive: Callable[[], None] | None = None) -> Generator[Pending, None, Any]:
        runtime = self.runtime
        checked = runtime.check_args(fn, args) if body is None else {}
        name = label or fn.path or "?"
        for _attempt in range((runtime.max_retries if retries is None else retries) + 1):
            yield Pending("begin", name)
            if arrive is not None:
                arrive()
            attempt = runtime.begin_mutation(fn, checked, identity, body)
            txn = attempt.txn
            self._record("begin", name, snapshot_ts=txn.begin_ts, reads=tuple(txn.reads),
                         pending=tuple((t, i) for i, (t, _d) in txn.pending.items()),
                         result=_render_outcome(attempt.result, attempt.error))
            if attempt.error is not None:
                raise attempt.error
            yield Pending("commit", name)
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

    def _query(self, fn: ConvexFunction, args: Any, identity: UserIdentity | None) -> Generator[Pending, None, Any]:
        yield Pending("query", fn.path or "?")
        try:
            result, txn = self.runtime.call_query(fn, args, identity)
        except Exception as exc:
            self._record("query", fn.path or "?", snapshot_ts=self.db.latest_ts, result=_render_outcome(None, exc))
            raise
        self._record("query", fn.path or "?", snapshot_ts=txn.begin_ts, reads=tuple(txn.reads),
                     result=_render_outcome(result, None))
        if self.recorder is not None:
            self.recorder.add(txn)   # a query never commits: recorded at its snapshot
        return result

    def _action(self, process: Generator[Step, Any, Any]) -> Generator[Pending, None, Any]:
        return (yield from pump(process, self._perform))

    def _perform(self, step: Step) -> Generator[Pending, None, Any]:
        if step.kind == QUERY:
            return (yield from self._query(step.fn, step.args, step.identity))  # type: ignore[arg-type]
        if step.kind == MUTATION:
            return (yield from self._mutation(step.fn, step.args, step.identity))  # type: ignore[arg-type]
        yield Pending(step.kind, step.describe())
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
    @property
    def scheduled_jobs(self) -> bool:
        """Whether any op of this execution scheduled a job."""
        return bool(self._job_ids)

    def _note_jobs(self, writes: Sequence[Write]) -> None:
        for write in writes:
            if write.table == SCHEDULED_FUNCTIONS and write.old is None:
                self._job_ids.setdefault(self._current_op, []).append(write.id)

    def _next_job(self, owners: Iterable[int], until: float) -> tuple[int, dict, str] | None:
        """The first job due by ``until`` (due order) of the ops ``owners``: (owner, row, id)."""
        txn = self.db.begin("explore", read_only=True)
        due = [(row["scheduled_time"], row["_creationTime"], owner, job_id, row)
               for owner in owners for job_id in self._job_ids.get(owner, ())
               if (row := txn.get(job_id)) is not None and row["scheduled_time"] <= until]
        if not due:
            return None
        _time, _created, owner, job_id, row = min(due, key=lambda d: d[:2])
        self._job_ids[owner].remove(job_id)
        return owner, row, job_id

    def run_jobs_due(self, until: float) -> None:
        """A serial run: run every deferred job due by ``until`` (and the jobs those schedule),
        in due order, each to its end, moving the clock to its time."""
        while (job := self._next_job(range(len(self.runners)), until)) is not None:
            owner, row, job_id = job
            self._current_op = owner
            for _step in self._job(row, job_id):
                pass

    def _jobs(self, index: int) -> Generator[Pending, None, None]:
        """Run the op's scheduled jobs (and theirs), in due order, as more steps of the op; in
        a serial run, only those due now (the rest wait for :meth:`run_jobs_due`)."""
        until = {None: float("inf"), "delayed": self.db.clock.now_ms, "all": -float("inf")}[self.defer_jobs]
        while (job := self._next_job((index,), until)) is not None:
            _owner, row, job_id = job
            yield from self._job(row, job_id)

    def _job(self, row: dict, job_id: str) -> Generator[Pending, None, None]:
        """One scheduled job's steps; its first step moves the clock to the job's time (not
        before: an op stepping in between still runs at the earlier time)."""
        scheduler = self.sim.scheduler
        fn = self.runtime.registry.resolve(row["name"])
        args = row["args"][0] if row["args"] else {}
        moved: list[bool] = []

        def arrive() -> None:
            if not moved:
                moved.append(row["scheduled_time"] > self.db.clock.now_ms)
                if moved[0]:
                    self.db.clock.set(row["scheduled_time"])

        label = f"job {fn.path}"
        first = len(self.records)
        if fn.kind == MUTATION:
            steps = self._mutation(fn, args, None, body=scheduler.mutation_job_body(job_id, fn, args),
                                   label=label, retries=SCHEDULED_MUTATION_RETRIES, arrive=arrive)
        else:
            steps = self._action_job(job_id, fn, args, label, arrive)
        try:
            yield from steps
        except Exception as exc:
            scheduler.mark(job_id, {"kind": "failed", "error": _render_outcome(None, exc)})
        if moved and moved[0] and len(self.records) > first:
            self.records[first].orders_everything = True

    def _action_job(self, job_id: str, fn: ConvexFunction, args: dict, label: str,
                    arrive: Callable[[], None]) -> Generator[Pending, None, None]:
        scheduler = self.sim.scheduler
        yield Pending("job", label)
        arrive()
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
    def starved(self) -> int:
        """How many operations ran out of OCC retries (``ContentionError``) in this schedule."""
        return sum(1 for r in self.runners if isinstance(r.error, ContentionError))

    def outcome(self) -> tuple[Outcome | None, Failure | None]:
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
                return None, Failure(f"error {name}", f"op {op_letter(runner.index)} ({op.label}) "
                                                      f"raised {name}: {runner.error}")
        is_id = lambda text: self.db.table_of_id(text) is not None  # noqa: E731
        state = self.x.final_state()
        full = canonical_outcome(results, state, self.x.initial_ids, is_id)
        kept, with_state = self.x.compared_results, self.x.compare_state
        if all(kept) and with_state:
            return Outcome(full, full), None
        compared = [r if keep else ["not compared"] for r, keep in zip(results, kept, strict=True)]
        return Outcome(full, canonical_outcome(compared, state if with_state else {}, self.x.initial_ids, is_id)), None


class Outcome(NamedTuple):
    """A schedule's canonical outcome (``full``), and the part serializability compares."""

    full: str
    compared: str


def _flow_handler(flow: Flow) -> Callable[[Any, Any], Any]:
    async def handler(ctx: Any, client: Any) -> Any:
        return await flow.call(client)
    return handler


def _render_outcome(result: Any, error: BaseException | None) -> str:
    if error is None:
        return format_value(result, 60)
    if isinstance(error, ConvexError):
        return f"ConvexError({format_value(error.data, 60)})"
    return f"{type(error).__name__}: {str(error)[:60]}"
