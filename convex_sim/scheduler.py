"""The scheduler: ``ctx.scheduler.run_after/run_at/cancel``, scheduled runs, and cron jobs.

Jobs are rows of the system table ``_scheduled_functions``. Scheduling from a
mutation inserts the row in the mutation's transaction, so a mutation that
fails or conflicts schedules nothing; scheduling from an action commits at
once. Jobs run when the virtual clock reaches them (``sim.advance_time``),
in due-time order, ties broken by scheduling order, with no identity. A
scheduled mutation runs exactly once (re-run on OCC conflicts); a scheduled
action at most once.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import limits
from .contexts import JOBS_TABLE, ActionCtx, MutationCtx, _immediate
from .database import TOP, Transaction
from .errors import (
    ConvexError,
    ConvexSimError,
    InvalidValueError,
    ValidationError,
    hide_simulator_frames,
)
from .functions import ACTION, MUTATION, ConvexFunction
from .runtime import Runtime, Step, WeakService
from .schema import define_table
from .steps import SLEEP
from .validators import v
from .values import check_value, format_value, sort_key, value_size

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours

SCHEDULED_FUNCTIONS = JOBS_TABLE

#: The system table's schema. ``state.kind`` is one of the states below.
SCHEDULED_FUNCTIONS_TABLE = define_table({
    "name": v.string(),
    "args": v.array(v.any()),
    "scheduled_time": v.float64(),
    "completed_time": v.optional(v.float64()),
    "state": v.union(
        v.object({"kind": v.literal("pending")}),
        v.object({"kind": v.literal("in_progress")}),
        v.object({"kind": v.literal("success")}),
        v.object({"kind": v.literal("failed"), "error": v.string()}),
        v.object({"kind": v.literal("canceled")}),
    ),
}).index("by_state_time", ["state.kind", "scheduled_time"])

#: A scheduled mutation that keeps conflicting is re-run this often before it is marked failed.
SCHEDULED_MUTATION_RETRIES = 100


class SchedulerError(ConvexSimError):
    """A bad scheduling call, or a chain of scheduled jobs that does not end."""


# --- ctx.scheduler --------------------------------------------------------------------


class ScheduledFunctionFailed(SchedulerError):
    """Scheduled functions failed while ``finish_*_scheduled_functions`` ran them;
    ``failures`` lists ``(job_id, function path, exception)``."""

    failures: list[tuple[str, str, BaseException]]


class Scheduler:
    """``ctx.scheduler`` in a mutation (transactional) or an action (immediate, awaited)."""

    def __init__(self, service: SchedulerService, ctx: MutationCtx | ActionCtx) -> None:
        self._service, self._ctx = service, ctx

    def run_after(self, delay_ms: float, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        """Run ``ref(args)`` ``delay_ms`` from now; returns the job's ID."""
        if not _finite_number(delay_ms) or delay_ms < 0:
            raise SchedulerError(
                f"In {self._ctx._function}: scheduler.run_after expects a finite delay >= 0 ms, "
                f"got {format_value(delay_ms)}")
        return self._schedule(self._service.clock_ms() + float(delay_ms), ref, args)

    def run_at(self, timestamp: float | _dt.datetime, ref: Any, args: Mapping[str, Any] | None = None) -> Any:
        """Run ``ref(args)`` at ``timestamp`` (ms since the epoch, or an aware datetime)."""
        if isinstance(timestamp, _dt.datetime):
            if timestamp.tzinfo is None:
                raise SchedulerError(
                    f"In {self._ctx._function}: scheduler.run_at needs a timezone-aware datetime "
                    f"(or ms since the epoch), got {timestamp!r}")
            timestamp = timestamp.timestamp() * 1000.0
        if not _finite_number(timestamp):
            raise SchedulerError(
                f"In {self._ctx._function}: scheduler.run_at expects ms since the epoch, got "
                f"{format_value(timestamp)}")
        return self._schedule(float(timestamp), ref, args)

    def cancel(self, job_id: str) -> Any:
        """Cancel a pending job (a job already running or done is left alone)."""
        if isinstance(self._ctx, ActionCtx):
            owner = self._ctx._scope.path if self._ctx._scope is not None else ""
            return Step("scheduler.cancel", None, job_id, None, payload=(job_id, owner))
        ctx = self._ctx
        return _immediate(ctx._is_async, lambda: self._service.cancel(ctx.txn, job_id, ctx.db._jobs))

    def _schedule(self, when_ms: float, ref: Any, args: Any) -> Any:
        fn = self._service.resolve(ref, self._ctx._function, self._ctx)
        checked = self._service.check_args(fn, args, self._ctx._function)
        owner = self._ctx._scope.path if self._ctx._scope is not None else ""
        if isinstance(self._ctx, ActionCtx):
            return Step("scheduler.schedule", fn, checked, None, payload=(when_ms, owner))
        ctx = self._ctx
        return _immediate(ctx._is_async, lambda: self._service.insert_job(ctx.txn, fn, checked, when_ms, owner))


def _finite_number(x: Any) -> bool:
    return type(x) in (int, float) and math.isfinite(x)


# --- Cron jobs -------------------------------------------------------------------------

_DAYS = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6}


@dataclass(frozen=True)
class CronJob:
    name: str
    ref: Any
    args: Mapping[str, Any]
    interval_ms: float | None = None     # interval jobs
    expression: str | None = None        # every other kind, as a 5-field cron expression

    def next_after(self, after_ms: float, start_ms: float) -> float:
        if self.interval_ms is not None:
            runs = math.floor((after_ms - start_ms) / self.interval_ms) + 1
            return start_ms + max(runs, 1) * self.interval_ms
        return next_cron_time(self.expression or "", after_ms)


class Crons:
    """The app's cron jobs, declared in its ``crons`` module as ``crons = Crons()``."""

    def __init__(self) -> None:
        self.jobs: dict[str, CronJob] = {}

    def _add(self, job: CronJob) -> None:
        if job.name in self.jobs:
            raise SchedulerError(f"Cron job {job.name!r} is declared twice.")
        self.jobs[job.name] = job

    def interval(self, name: str, schedule: Mapping[str, float], ref: Any, args: Mapping[str, Any] | None = None) -> None:
        """Every ``{"seconds"|"minutes"|"hours": n}``; first run one interval after start."""
        units = {"seconds": 1_000, "minutes": 60_000, "hours": 3_600_000}
        unknown = set(schedule) - set(units)
        total = sum(float(schedule.get(u, 0)) * ms for u, ms in units.items())
        if unknown or total <= 0:
            raise SchedulerError(f"crons.interval({name!r}): expected e.g. {{'minutes': 5}}, got {dict(schedule)!r}")
        self._add(CronJob(name, ref, args or {}, interval_ms=total))

    def hourly(self, name: str, schedule: Mapping[str, int], ref: Any, args: Mapping[str, Any] | None = None) -> None:
        self._add(CronJob(name, ref, args or {}, expression=f"{_field(schedule, 'minute_utc', 0, 59)} * * * *"))

    def daily(self, name: str, schedule: Mapping[str, int], ref: Any, args: Mapping[str, Any] | None = None) -> None:
        m, h = _field(schedule, "minute_utc", 0, 59), _field(schedule, "hour_utc", 0, 23)
        self._add(CronJob(name, ref, args or {}, expression=f"{m} {h} * * *"))

    def weekly(self, name: str, schedule: Mapping[str, Any], ref: Any, args: Mapping[str, Any] | None = None) -> None:
        day = str(schedule.get("day_of_week", "")).lower()
        if day not in _DAYS:
            raise SchedulerError(f"crons.weekly({name!r}): day_of_week must be one of {list(_DAYS)}, got {day!r}")
        m, h = _field(schedule, "minute_utc", 0, 59), _field(schedule, "hour_utc", 0, 23)
        self._add(CronJob(name, ref, args or {}, expression=f"{m} {h} * * {_DAYS[day]}"))

    def monthly(self, name: str, schedule: Mapping[str, int], ref: Any, args: Mapping[str, Any] | None = None) -> None:
        m, h = _field(schedule, "minute_utc", 0, 59), _field(schedule, "hour_utc", 0, 23)
        day = _field(schedule, "day", 1, 31, required=True)
        self._add(CronJob(name, ref, args or {}, expression=f"{m} {h} {day} * *"))

    def cron(self, name: str, expression: str, ref: Any, args: Mapping[str, Any] | None = None) -> None:
        """A standard 5-field cron expression (minute hour day-of-month month day-of-week), UTC."""
        _parse_cron(expression)  # fail now, not at the first run
        self._add(CronJob(name, ref, args or {}, expression=expression))


def _field(schedule: Mapping[str, Any], key: str, lo: int, hi: int, required: bool = False) -> int:
    if key not in schedule and not required:
        return lo
    value = schedule.get(key)
    if type(value) is not int or not lo <= value <= hi:
        raise SchedulerError(f"cron schedule field {key!r} must be an int from {lo} to {hi}, got {value!r}")
    return value


_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = ({}, {}, {}, {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m},
               {d[:3]: i for d, i in _DAYS.items()})


def _parse_cron(expression: str) -> tuple[frozenset[int], ...]:
    parts = expression.split() if isinstance(expression, str) else []
    if len(parts) != 5:
        raise SchedulerError(f"Cron expression {expression!r} must have 5 fields: minute hour day month weekday.")
    return tuple(_parse_cron_field(p, lo, hi, names, expression)
                 for p, (lo, hi), names in zip(parts, _CRON_RANGES, _CRON_NAMES, strict=True))


def _parse_cron_field(text: str, lo: int, hi: int, names: dict[str, int], expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.lower().split(","):
        base, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                start, end = lo, hi
            elif "-" in base:
                a, b = base.split("-", 1)
                start, end = names.get(a) or int(a), names.get(b) or int(b)
            else:
                start = names.get(base) if base in names else int(base)
                end = hi if step_text else start
        except ValueError:
            raise SchedulerError(f"Cron expression {expression!r}: cannot read {item!r}.") from None
        if not lo <= start <= end <= hi or step < 1:
            raise SchedulerError(f"Cron expression {expression!r}: {item!r} is outside {lo}-{hi}.")
        values.update(range(start, end + 1, step))
    if hi == 7 and 7 in values:  # 7 is Sunday too
        values = (values - {7}) | {0}
    return frozenset(values)


def next_cron_time(expression: str, after_ms: float) -> float:
    """The first minute strictly after ``after_ms`` matching the cron expression (UTC)."""
    minutes, hours, doms, months, dows = _parse_cron(expression)
    dom_any, dow_any = expression.split()[2] == "*", expression.split()[4] == "*"
    start = _dt.datetime.fromtimestamp(after_ms / 1000, _dt.UTC).replace(second=0, microsecond=0)
    start += _dt.timedelta(minutes=1)
    day = start.replace(hour=0, minute=0)
    for _ in range(366 * 5):
        if day.month in months and _day_matches(day, doms, dows, dom_any, dow_any):
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate >= start:
                        return candidate.timestamp() * 1000.0
        day += _dt.timedelta(days=1)
    raise SchedulerError(f"Cron expression {expression!r} never matches.")


def _day_matches(day: _dt.datetime, doms: frozenset[int], dows: frozenset[int], dom_any: bool, dow_any: bool) -> bool:
    dom_ok = day.day in doms
    dow_ok = (day.isoweekday() % 7) in dows
    if dom_any or dow_any:
        return dom_ok and dow_ok
    return dom_ok or dow_ok  # both restricted: cron's "either" rule


# --- The service -------------------------------------------------------------------------


class SchedulerService:
    """Inserts, cancels and runs scheduled jobs for one simulator."""

    def __init__(self, runtime: Runtime, crons: Crons | None = None) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.crons = crons or Crons()
        self._cron_start = self.db.clock.now_ms
        self._cron_next = {name: job.next_after(self._cron_start, self._cron_start)
                           for name, job in self.crons.jobs.items()}
        self.history: list[str] = []  # paths of jobs run, in order (for loop diagnostics)
        self.failures: list[tuple[str, str, BaseException]] = []  # failed jobs, in order
        runtime.services["scheduler"] = WeakService(self._for_ctx)
        runtime.services["step:scheduler.schedule"] = WeakService(self._schedule_step)
        runtime.services["step:scheduler.cancel"] = WeakService(self._cancel_step)
        runtime.services[f"step:{SLEEP}"] = WeakService(self._sleep_step)

    def _for_ctx(self, ctx: Any) -> Scheduler:
        if not isinstance(ctx, MutationCtx | ActionCtx):
            raise SchedulerError(f"In {ctx._function}: queries cannot schedule functions; use a mutation.")
        return Scheduler(self, ctx)

    def clock_ms(self) -> float:
        return self.db.clock.now_ms

    def resolve(self, ref: Any, caller: str, ctx: Any = None) -> ConvexFunction:
        fn = self.runtime.lookup(ref, caller=caller, ctx=ctx)
        if fn.kind not in (MUTATION, ACTION):
            raise SchedulerError(f"In {caller}: only mutations and actions can be scheduled; {fn.path} is a {fn.kind}.")
        return fn

    def check_args(self, fn: ConvexFunction, args: Any, caller: str) -> dict:
        try:
            checked = check_value(dict(args or {}))
        except (InvalidValueError, TypeError, ValueError) as exc:   # the TypeScript path's error too
            raise InvalidValueError(f"In {caller}: arguments for scheduled {fn.path} are not Convex "
                                    f"values: {exc}") from None
        size = value_size(checked)
        if size > limits.MAX_SCHEDULED_ARGS_BYTES:
            raise limits.exceeded("scheduled-function argument bytes", limits.MAX_SCHEDULED_ARGS_BYTES, size, caller)
        try:  # against the target's validator now, as Convex does, not when the job runs
            return self.runtime.check_args(fn, checked)
        except ValidationError as exc:
            raise type(exc)(f"In {caller}: scheduling {fn.path}: {exc}") from None

    # -- writing jobs -------------------------------------------------------------------
    def insert_job(self, txn: Transaction, fn: ConvexFunction, args: dict, when_ms: float,
                   owner: str | None = None) -> str:
        """Insert a pending job running ``fn(args)`` at ``when_ms``; ``owner`` is the namespace
        (component path, ``""`` for the app) of the code scheduling it, whose job it is even when
        ``fn`` is another component's (through a function handle), as in Convex."""
        count = txn.extras.get("scheduled", 0) + 1
        if count > txn.limits.functions_scheduled:
            raise limits.exceeded("functions scheduled", txn.limits.functions_scheduled, count, txn.function)
        size = txn.extras.get("scheduled_bytes", 0) + value_size(args)
        if size > txn.limits.scheduled_function_args_bytes:
            raise limits.exceeded("scheduled-function argument bytes",
                                  txn.limits.scheduled_function_args_bytes, size, txn.function)
        txn.extras["scheduled"], txn.extras["scheduled_bytes"] = count, size
        job_id = txn.insert(SCHEDULED_FUNCTIONS, {
            "name": fn.path, "args": [args], "scheduled_time": when_ms, "state": {"kind": "pending"}})
        tree = self.runtime.components
        if tree is not None and owner is not None:
            tree.job_owners[job_id] = owner
        return job_id

    def cancel(self, txn: Transaction, job_id: str, visible: Callable[[dict], bool] | None = None) -> None:
        """Cancel job ``job_id`` if it is pending or in progress; a finished job is left as it
        is and a job no longer in the table is logged and ignored, as Convex does
        (convex-backend ``SchedulerModel::cancel``, crates/model/src/scheduled_jobs). ``visible``
        (job row → bool) says which jobs the caller may see: a component's jobs are its own."""
        job = txn.get(job_id, table=SCHEDULED_FUNCTIONS)
        if job is None:
            self.runtime.logs.append(f"[INFO] {txn.function}: scheduler.cancel: no scheduled "
                                     f'function "{job_id}" (deleted or never made); nothing to cancel.')
            return
        if visible is not None and not visible(job):
            raise SchedulerError(f'In {txn.function}: scheduler.cancel: no scheduled function "{job_id}".')
        if job["state"]["kind"] in ("pending", "in_progress"):
            txn.patch(job_id, {"state": {"kind": "canceled"}, "completed_time": self.clock_ms()})

    def _system(self, label: str, body: Callable[[Transaction], Any]) -> Any:
        """Commit a small system transaction (the scheduler's own bookkeeping)."""
        txn = self.db.begin(label)
        result = body(txn)
        txn.commit()
        return result

    def _schedule_step(self, step: Step) -> str:
        when_ms, owner = step.payload
        return self._system("scheduler", lambda t: self.insert_job(t, step.fn, step.args, when_ms, owner))  # type: ignore[arg-type]

    def _cancel_step(self, step: Step) -> None:
        """An action's cancel: of a job of its own component only, as a mutation's."""
        job_id, owner = step.payload
        tree = self.runtime.components
        visible = None if tree is None else (lambda job: tree.job_owner(job) == owner)
        self._system("scheduler", lambda t: self.cancel(t, job_id, visible))

    def _sleep_step(self, step: Step) -> None:
        """An action waits ``step.payload`` ms: the clock moves on, running what falls due."""
        self.advance_to(self.clock_ms() + step.payload)

    # -- reading jobs -------------------------------------------------------------------
    def jobs(self) -> list[dict]:
        """Every job row, oldest first."""
        txn = self.db.begin("sim.scheduled", read_only=True)
        return [dict(d) for d in txn.scan(SCHEDULED_FUNCTIONS, "by_creation_time")]

    def next_due(self, until_ms: float) -> dict | None:
        """The pending job due first (ties: scheduled first), if it is due by ``until_ms``."""
        txn = self.db.begin("scheduler", read_only=True)
        lo = (sort_key("pending"),)
        hi = (sort_key("pending"), sort_key(float(until_ms)), TOP)
        for job in txn.scan(SCHEDULED_FUNCTIONS, "by_state_time", lo, hi):
            return dict(job)
        return None

    def next_pending_time(self) -> float | None:
        job = self.next_due(math.inf)
        return job["scheduled_time"] if job else None

    # -- running jobs ---------------------------------------------------------------------
    def run_job(self, job: dict) -> None:
        """Run one due job and record its outcome in its row."""
        job_id = job["_id"]
        self.history.append(job["name"])
        fn = self.runtime.registry.resolve(job["name"])
        args = job["args"][0] if job["args"] else {}
        if fn.kind == MUTATION:
            self._run_mutation_job(job_id, fn, args)
            return
        if not self._system("scheduler", lambda t: self.start_action_job(t, job_id)):
            return  # canceled meanwhile
        try:
            self.runtime.call_action(fn, args, None)
        except BaseException as exc:  # the job failed; the simulation goes on
            self._failed(job_id, fn, exc)
            return
        self.mark(job_id, {"kind": "success"})

    def mutation_job_body(self, job_id: str, fn: ConvexFunction, args: dict) -> Callable[[MutationCtx], Any]:
        """The transaction of a scheduled mutation: the function's own work plus its row's
        ``success``, atomically; nothing at all if the job was canceled meanwhile."""
        runtime = self.runtime

        def body(ctx: MutationCtx) -> Any:
            job = ctx.txn.get(job_id, table=SCHEDULED_FUNCTIONS)
            if job is None or job["state"]["kind"] != "pending":
                return None
            result = runtime.check_result(fn, Runtime._run_sync(fn, ctx, runtime.check_args(fn, args)))
            ctx.txn.patch(job_id, {"state": {"kind": "success"}, "completed_time": self.clock_ms()})
            return result

        return body

    def start_action_job(self, txn: Transaction, job_id: str) -> bool:
        """Mark a scheduled action ``in_progress`` if it is still pending; say whether it may run."""
        job = txn.get(job_id, table=SCHEDULED_FUNCTIONS)
        if job is None or job["state"]["kind"] != "pending":
            return False
        txn.patch(job_id, {"state": {"kind": "in_progress"}})
        return True

    def _run_mutation_job(self, job_id: str, fn: ConvexFunction, args: dict) -> None:
        runtime = self.runtime
        saved = runtime.max_retries
        runtime.max_retries = SCHEDULED_MUTATION_RETRIES
        try:
            runtime.call_mutation(fn, args, None, body=self.mutation_job_body(job_id, fn, args))
        except BaseException as exc:
            self._failed(job_id, fn, exc)
        finally:
            runtime.max_retries = saved

    def _failed(self, job_id: str, fn: ConvexFunction, exc: BaseException) -> None:
        """Record a failed job in its row and in ``failures`` (for ``finish_*`` to report)."""
        self.mark(job_id, {"kind": "failed", "error": describe_error(exc)})
        self.failures.append((job_id, fn.path or "", exc))

    def mark(self, job_id: str, state: dict) -> None:
        """Record a job's final state (a small system transaction); a job canceled while it
        ran stays canceled (``SchedulerModel::complete``)."""

        def complete(txn: Transaction) -> None:
            job = txn.get(job_id, table=SCHEDULED_FUNCTIONS)
            if job is not None and job["state"]["kind"] != "canceled":
                txn.patch(job_id, {"state": state, "completed_time": self.clock_ms()})

        self._system("scheduler", complete)

    # -- state, for the explorer's rewinds -----------------------------------------------
    def capture(self) -> tuple:
        return (dict(self._cron_next), len(self.history), len(self.failures))

    def restore(self, state: tuple) -> None:
        cron_next, history_length, failures_length = state
        self._cron_next = dict(cron_next)
        del self.history[history_length:]
        del self.failures[failures_length:]

    def failed_since(self, mark: int) -> ScheduledFunctionFailed | None:
        """The error reporting the jobs that failed since ``len(failures)`` was ``mark``."""
        failed = self.failures[mark:]
        if not failed:
            return None
        lines = "\n".join(f"  {path} (job {job_id}): {describe_error(exc)}" for job_id, path, exc in failed)
        error = ScheduledFunctionFailed(
            f"{len(failed)} scheduled function(s) failed:\n{lines}\nPass allow_failures=True to "
            "finish_*_scheduled_functions if the test expects this (the job rows say "
            "state.kind == 'failed').")
        error.failures = failed
        return error

    def _next_cron(self, until_ms: float) -> tuple[float, str] | None:
        """The cron run due first by ``until_ms`` (ties: in declaration order), if any."""
        due = [(when, name) for name, when in self._cron_next.items() if when <= until_ms]
        return min(due, key=lambda d: d[0]) if due else None

    def run_cron(self, name: str, when: float) -> None:
        """Run cron ``name``'s run due at ``when``. As in Convex, a cron run is not a row of
        ``_scheduled_functions`` (convex-backend ``crates/model/src/cron_jobs``: the cron
        executor runs the function and logs it apart); a failure is recorded as a job's is."""
        job = self.crons.jobs[name]
        self._cron_next[name] = job.next_after(when, self._cron_start)
        fn = self.resolve(job.ref, f"crons:{name}")
        args = self.check_args(fn, job.args, f"crons:{name}")
        self.history.append(fn.path or name)
        runtime = self.runtime
        saved = runtime.max_retries
        runtime.max_retries = SCHEDULED_MUTATION_RETRIES
        try:
            if fn.kind == MUTATION:
                runtime.call_mutation(fn, args, None)
            else:
                runtime.call_action(fn, args, None)
        except BaseException as exc:  # the run failed; the simulation goes on
            self.failures.append((f"cron {name}", fn.path or "", exc))
        finally:
            runtime.max_retries = saved

    def advance_to(self, target_ms: float, *, max_jobs: int | None = None) -> int:
        """Run every job and cron run due by ``target_ms`` in time order (a job first on a
        tie); leave the clock there."""
        clock = self.db.clock
        ran = 0
        while True:
            job = self.next_due(target_ms)
            cron = self._next_cron(math.nextafter(job["scheduled_time"], -math.inf) if job is not None else target_ms)
            if job is None and cron is None:
                break
            if max_jobs is not None and ran >= max_jobs:
                raise self._loop_error(max_jobs)
            when = cron[0] if cron is not None else job["scheduled_time"]  # type: ignore[index]
            if when > clock.now_ms:
                clock.set(when)
            if cron is not None:
                self.run_cron(cron[1], cron[0])
            else:
                self.run_job(job)  # type: ignore[arg-type]
            ran += 1
        if target_ms > clock.now_ms:
            clock.set(target_ms)
        return ran

    def finish_all(self, max_iterations: int) -> int:
        """Run pending jobs, advancing the clock to each, until none is left (crons excluded)."""
        ran = 0
        while (when := self.next_pending_time()) is not None:
            if ran >= max_iterations:
                raise self._loop_error(max_iterations)
            ran += self.advance_to(max(when, self.clock_ms()), max_jobs=max_iterations - ran)
        return ran

    def _loop_error(self, limit: int) -> SchedulerError:
        chain = self.history[-6:]
        return SchedulerError(
            f"Scheduled functions kept scheduling more work: {limit} jobs ran and more are pending "
            f"(last: {' -> '.join(chain)}). A job chain that never ends? Raise max_iterations if "
            "it is meant to be this long.")


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, ConvexError):
        return f"ConvexError: {format_value(exc.data, 500)}"
    return f"{type(exc).__name__}: {exc}"
