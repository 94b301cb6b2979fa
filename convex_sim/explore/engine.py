"""The explorer: the starting state, the checks of one schedule, and the entry points."""

from __future__ import annotations

import itertools
import math
import random
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import hide_simulator_frames
from ..functions import HTTP_ACTION, MUTATION, QUERY, ConvexFunction
from ..runtime import QueryCtx, UserIdentity, run_guarded
from .execution import Execution
from .invariants import invariant_of
from .ops import (
    Actor,
    ExplorationError,
    Flow,
    Op,
    expand,
    op_letter,
    parse_schedule,
    schedule_string,
)
from .outcomes import difference, guided_orders, topological_orders
from .records import CONTENTION, Failure, StepRecord
from .render import coalesce
from .results import Counterexample, ExplorationResult, ScheduleRun
from .shrinking import shrink, switches
from .strategies import Search

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours

STRATEGIES = ("exhaustive", "random", "pct")
#: Above this many operations, serial orders are searched, not enumerated.
ENUMERATE_SERIAL_ORDERS_UP_TO = 8
#: Defaults a test runner may change (the pytest plugin's --convex-explore-budget, --convex-shard).
DEFAULTS: dict[str, Any] = {"max_schedules": 10_000, "seed": None, "shard": None}
#: What op-level serializability compares: ``"auto"`` (the final state, and the results of
#: ops that are one transaction: mutations and queries), ``"both"`` (every op's result too),
#: ``"state"`` or ``"results"`` alone. See docs/exploring.md.
COMPARE = ("auto", "both", "state", "results")
#: The checks of a schedule and their defaults (``explore``, ``replay_schedule``, ``run_schedule``).
CHECK_OPTIONS: dict[str, Any] = {
    "invariant": None, "check_serializable": True, "check_subscriptions": True, "check_history": True,
    "compare": "auto", "seed": 0, "setup": None, "expected_errors": (),
}


#: How the serial reference places scheduled jobs among the ops (see Explorer.serial_outcome).
JOB_PLACEMENTS = ("early", "after_ties", "late")

# --- The explorer ------------------------------------------------------------------------------------


class Explorer:
    """One exploration's fixed parts: the ops, the checks, the starting state, serial outcomes."""

    def __init__(self, sim: Any, ops: Sequence[Op | Flow], **options: Any) -> None:
        unknown = sorted(set(options) - set(CHECK_OPTIONS))
        if unknown:
            raise ExplorationError(f"explore: unknown option(s) {unknown}; expected some of {sorted(CHECK_OPTIONS)}")
        self.options = {**CHECK_OPTIONS, **options}
        self.options["expected_errors"] = tuple(self.options["expected_errors"])
        if self.options["compare"] not in COMPARE:
            raise ExplorationError(f"explore: compare must be one of {list(COMPARE)}, got {self.options['compare']!r}")
        self.sim = sim
        self.ops = expand(ops)
        if not self.ops:
            raise ExplorationError("explore: give at least one Op or Flow.")
        self.functions: list[ConvexFunction | None] = []
        for i, op in enumerate(self.ops):
            if isinstance(op, Op):
                fn = sim.runtime.registry.resolve(op.ref, caller=f"explore op {op_letter(i)}")
                if fn.kind == HTTP_ACTION:
                    raise ExplorationError(f"explore op {op_letter(i)}: {fn.path} is an HTTP action; use sim.fetch.")
                self.functions.append(fn)
            elif isinstance(op, Flow | Actor):
                self.functions.append(None)
            else:
                raise ExplorationError(f"explore: op {op_letter(i)} must be Op(...), Flow(...) or a "
                                       f"Frontend(...), got {op!r}")
        self.invariant = invariant_of(sim, self.options["invariant"])
        #: Actors are not transactions: no serial order of them is a reference.
        self.actors = [op for op in self.ops if isinstance(op, Actor)]
        for actor in self.actors:
            actor.prepare(sim)
        self.check_serializable = self.options["check_serializable"] and not self.actors
        self.check_subscriptions = self.options["check_subscriptions"]
        self.check_history = self.options["check_history"]
        self.seed = self.options["seed"]
        self.setup = self.options["setup"]
        self.expected_errors = self.options["expected_errors"]
        #: Per op: whether its result is part of what serializability compares.
        self.compared_results = [self._result_compared(fn) for fn in self.functions]
        self.compare_state = self.options["compare"] != "results"
        self.stats = {"conflicts": 0, "sleep_blocked": 0}
        self._live: Execution | None = None
        # While schedules run (from reset() to close()), clients keep every transition: each
        # schedule's are checked from these marks, then rewound.
        self._holding = False
        self._client_marks = [(c, c.transitions.received) for c in sim.subscriptions.clients if c.subscriptions]
        self.start = sim.capture_state()
        #: The latest commit when the exploration started (a schedule's first point in time).
        self.start_ts = sim.db.latest_ts
        self.initial_ids = frozenset(d["_id"] for rows in self.final_state().values() for d in rows)
        self._serial: dict[tuple, str | None] = {}
        #: (order, starts) whose serial run scheduled no job (every placement is the same run).
        self._jobless: set[tuple] = set()
        self.identities = [self._make_identity(op) for op in self.ops]
        # The exploration owns the database until close(): other recorders see none of its schedules.
        self._listeners = list(sim.db.transaction_listeners)
        sim.db.transaction_listeners.clear()

    def _result_compared(self, fn: ConvexFunction | None) -> bool:
        compare = self.options["compare"]
        if compare == "auto":   # one transaction: its result is atomic with its writes
            return fn is not None and fn.kind in (MUTATION, QUERY)
        return compare in ("both", "results")

    # -- state ---------------------------------------------------------------------------------
    def _hold_windows(self, hold: bool) -> None:
        if hold != self._holding:
            if hold:
                self.sim.subscriptions.hold()
            else:
                self.sim.subscriptions.release()
            self._holding = hold

    def reset(self, execution: Execution | None = None) -> None:
        """Close the live execution, rewind to the start, run ``setup``."""
        if self._live is not None:
            self._live.close()
        self._live = execution
        self._hold_windows(True)
        self.sim.restore_state(self.start)
        if execution is not None and execution.recorder is not None:
            execution.recorder.start()
        if self.setup is not None:
            self.setup(self.sim)

    def close(self) -> None:
        """Close the live execution and put the simulator back as it was."""
        if self._live is not None:
            self._live.close()
            self._live = None
        self.sim.restore_state(self.start)
        self._hold_windows(False)
        listeners = self.sim.db.transaction_listeners
        listeners[:] = [*self._listeners, *(x for x in listeners if x not in self._listeners)]

    def final_state(self) -> dict[str, list[dict]]:
        txn = self.sim.db.begin("explore", read_only=True)
        state = {}
        for table in sorted(self.sim.db.table_names()):
            state[table] = [dict(d) for d in txn.scan(table, "by_creation_time")]
        return state

    def _make_identity(self, op: Op | Flow | Actor) -> UserIdentity | None:
        identity = getattr(op, "identity", None)
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

    def serial_outcome(self, order: tuple[int, ...], starts: tuple[float, ...],
                       jobs: str = "early") -> str | None:
        """The outcome of running the ops one at a time in ``order``, each starting at the
        virtual time it started (its last attempt began) in the schedule checked (``starts``);
        None for an order the times rule out.

        A scheduled job is a transaction of its own: it runs after the op that scheduled it,
        never before an op that started before the job's time (a job does not run early),
        and may run late. ``jobs`` places them: ``"early"``, each as soon as it may (a job
        due at once right after its op, a delayed one before the first op that started at
        or after its time); ``"after_ties"``, the same but after the ops that started at its
        very time; ``"late"``, all after the last op. The jobs left run in due order at the
        end. An order whose ops scheduled no job runs alike under every placement: it is
        run once."""
        if jobs != "early" and (order, starts) in self._jobless:
            return self.serial_outcome(order, starts)
        key = (order, starts, jobs)
        if key not in self._serial:
            execution = Execution(self, defer_jobs="delayed" if jobs == "early" else "all")
            outcome = None
            for op in order:
                if jobs == "early":
                    execution.run_jobs_due(starts[op])
                elif jobs == "after_ties":
                    execution.run_jobs_due(math.nextafter(starts[op], -math.inf))
                if self.sim.db.clock.now_ms > starts[op]:
                    break   # a job ran before an op that started ahead of its time: not serial
                self.sim.db.clock.set(starts[op])
                while not execution.runners[op].done:
                    execution.step(op)
            else:
                execution.run_jobs_due(float("inf"))
                outcome, _error = execution.outcome()
            self._serial[key] = outcome.compared if outcome is not None else None
            if jobs == "early" and not execution.scheduled_jobs:
                self._jobless.add((order, starts))
            execution.close()
        return self._serial[key]

    def serializability_failure(self, outcome: str, execution: Execution) -> Failure | None:
        n = len(self.ops)
        candidates: Iterable[tuple[int, ...]]
        guided = guided_orders(execution.records, n)
        now = self.sim.db.clock.now_ms
        starts = tuple(now if t is None else t for t in execution.started_at)
        if n <= ENUMERATE_SERIAL_ORDERS_UP_TO:
            candidates = itertools.chain(guided, itertools.permutations(range(n)))
        else:
            candidates = itertools.islice(itertools.chain(guided, topological_orders(execution.records, n)), 200)
        seen = set()
        for order in candidates:
            if order in seen:
                continue
            seen.add(order)
            if any(self.serial_outcome(order, starts, jobs) == outcome for jobs in JOB_PLACEMENTS):
                return None
        closest = guided[0]
        names = ", ".join(op_letter(i) for i in range(n))
        reference = self.serial_outcome(closest, starts)
        diff = difference(outcome, reference) if reference is not None else \
            "that order runs a scheduled job before an operation that started ahead of its time"
        searched = "" if n <= ENUMERATE_SERIAL_ORDERS_UP_TO else f" (searched {len(seen)} orders)"
        return Failure("serializability",
                       f"no serial order of [{names}] gives this outcome{searched}; closest serial order "
                       f"{'→'.join(op_letter(i) for i in closest)} differs in: {diff}")

    # -- one schedule ------------------------------------------------------------------------------
    def run(self, choices: Sequence[int]) -> tuple[Execution, str | None, Failure | None]:
        execution = Execution(self)
        execution.run_choices(choices)
        return execution, *self.verdict(execution)

    def verdict(self, execution: Execution) -> tuple[str | None, Failure | None]:
        """(outcome, failure) of a finished execution (serial runs may replace the live one)."""
        if execution.failure:
            return None, execution.failure
        if self.check_subscriptions:
            failure = self.subscription_failure()
            if failure:
                return None, failure
        for actor in self.actors:
            failure = actor.failure(execution)
            if failure:
                return None, failure
        outcome, error = execution.outcome()
        if error or outcome is None:
            return None, error
        if execution.recorder is not None:
            report = execution.recorder.check()
            if not report.ok:
                return outcome.full, Failure("history", "the committed transactions of this schedule are "
                                                        f"not serializable: {report.anomalies[0]}")
        if self.check_serializable:
            failure = self.serializability_failure(outcome.compared, execution)
            if failure:
                return outcome.full, failure
        return outcome.full, None

    def subscription_failure(self) -> Failure | None:
        """Every client's transitions during this schedule, checked (see check_consistency)."""
        from ..subscriptions import check_consistency

        for client, since in self._client_marks:
            report = check_consistency(client, since=since)
            if not report.ok:
                return Failure("subscription", f"client {client.id}: {report.problems[0]}")
        return None

    def schedule_of(self, execution: Execution) -> list[int]:
        return [r.op for r in execution.records]


#: The order failures are reported in, by kind (others, e.g. "error <Type>", last).
FAILURE_ORDER = ("invariant", "subscription", "history", "serializability")


def _failure_rank(counterexample: Any) -> int:
    kind = counterexample.kind
    return FAILURE_ORDER.index(kind) if kind in FAILURE_ORDER else len(FAILURE_ORDER)


# --- Entry points ----------------------------------------------------------------------------------


def _progress_bar(total: int) -> Any:
    if not sys.stderr.isatty() or total < 200:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="convex-sim explore", unit="schedule", leave=False, file=sys.stderr)


def explore(sim: Any, ops: Sequence[Op | Flow], *, strategy: str = "exhaustive",
            max_schedules: int | None = None, seed: int | None = None, reduction: bool = True,
            pct_depth: int = 3, fail_on_contention: bool = False, shard: tuple[int, int] | None = None,
            **checks: Any) -> ExplorationResult:
    """Run ``ops`` concurrently under many schedules and check each one; see ``ConvexSim.explore``.

    ``checks`` are the names of :data:`CHECK_OPTIONS` (``invariant``, ``check_serializable``,
    ``check_history``, ``compare``, ...). ``shard=(i, n)`` runs only shard ``i`` of ``n``
    (docs/exploring.md, "Sharded explorations"); ``max_schedules`` then counts this shard's schedules.
    """
    if strategy not in STRATEGIES:
        raise ExplorationError(f"explore: strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    budget = max_schedules if max_schedules is not None else DEFAULTS["max_schedules"]
    if type(budget) is not int or budget < 1:
        raise ExplorationError(f"explore: max_schedules must be an int >= 1, got {budget!r}")
    seed = seed if seed is not None else (DEFAULTS["seed"] if DEFAULTS["seed"] is not None else 0)
    shard = _check_shard(shard if shard is not None else DEFAULTS["shard"])
    explorer = Explorer(sim, ops, seed=seed, **checks)
    progress = _progress_bar(budget)
    search = Search(explorer, budget, progress, shard)
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
    # A correct app can be starved under an adversarial schedule (Convex too gives up after its
    # retries): that is contention, a verdict of its own, not a correctness failure.
    starved = [] if fail_on_contention else [f for f in failures if f.kind == CONTENTION]
    # What the user asserted comes first: an invariant failure, then the checks of the
    # subscriptions and the history, then serializability, then unexpected errors.
    failures = sorted((f for f in failures if f not in starved), key=_failure_rank)
    result = ExplorationResult(strategy, search.schedules_run, len(search.outcomes), failures, stats, exhausted,
                               contention=starved, schedules=search.schedules, shard=shard,
                               starved_schedules=search.starved_schedules,
                               starved_operations=search.starved_operations)
    sim._remember_exploration(explorer, result)
    return result


def _check_shard(shard: Any) -> tuple[int, int]:
    """``(i, n)`` with ``0 <= i < n``; ``None`` is the whole exploration, ``(0, 1)``."""
    if shard is None:
        return (0, 1)
    if (isinstance(shard, tuple | list) and len(shard) == 2 and all(type(x) is int for x in shard)
            and shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        return (shard[0], shard[1])
    raise ExplorationError(f"explore: shard must be (i, n) with 0 <= i < n, got {shard!r}")


def _counterexample(explorer: Explorer, choices: list[int], found: Failure) -> Counterexample:
    def run(candidate: list[int]) -> tuple[tuple, list[int]] | None:
        execution, _outcome, failure = explorer.run(candidate)
        if failure is None or failure.kind != found.kind:
            return None
        executed = explorer.schedule_of(execution)
        # What a reader counts first: the steps of the timeline, then engine steps, then switches.
        return (len(coalesce(execution.records)), len(executed), switches(executed), executed), executed

    small = shrink(choices, run)
    execution, _outcome, failure = explorer.run(small)
    schedule = schedule_string(explorer.schedule_of(execution))
    example = Counterexample(schedule, str(failure or found), coalesce(execution.records), explorer.ops,
                             explorer.seed, kind=(failure or found).kind, records=execution.records)
    example._replay = lambda: replay(explorer, schedule)
    return example


def replay(explorer: Explorer, schedule: str) -> ScheduleRun:
    """Run one schedule string against an explorer's starting state, then restore the sim."""
    try:
        execution, outcome, failure = explorer.run(parse_schedule(schedule, len(explorer.ops)))
        return ScheduleRun(schedule_string(explorer.schedule_of(execution)), coalesce(execution.records),
                           failure.message if failure else None, outcome, explorer.ops, explorer.seed,
                           failure.kind if failure else "")
    finally:
        explorer.close()


def make_explorer(sim: Any, ops: Sequence[Op | Flow], **options: Any) -> Explorer:
    """An explorer for ``run_schedule``/``replay_schedule`` (no search); ``options`` as
    :data:`CHECK_OPTIONS`."""
    return Explorer(sim, ops, **options)
