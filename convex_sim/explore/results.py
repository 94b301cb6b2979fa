"""What an exploration returns: the result, counterexamples, a replayed run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import hide_simulator_frames
from .ops import Flow, Op
from .records import StepRecord
from .render import render_timeline, timeline

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours


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
        return timeline(self.schedule, self.steps, self.ops, self.failure, self.kind, self.seed)


#: What ``str(result)`` and ``assert_ok()`` say when contention left no outcome to check.
UNCHECKED_ADVICE = ("explore fewer concurrent operations that write the same documents, or pass "
                    "fail_on_contention=True to see a starved schedule's timeline as a failure")


@dataclass
class ExplorationResult:
    """What ``sim.explore`` found.

    ``verdict`` is ``"ok"``, ``"failed"`` (``failures`` holds a counterexample per kind of
    failure) or ``"unchecked"``: schedules ran, but every one starved an operation of its OCC
    retries, so no outcome was checked against the serial orders. Only ``"ok"`` is ``ok``.
    """

    strategy: str
    schedules_run: int
    distinct_outcomes: int
    failures: list[Counterexample]
    stats: dict[str, int]
    exhausted: bool = False   # every schedule (up to reduction) was run
    #: One schedule per kind in which an operation ran out of OCC retries (``ContentionError``),
    #: shrunk: reported, not failures, unless ``explore(..., fail_on_contention=True)``.
    contention: list[Counterexample] = field(default_factory=list)
    #: The schedule strings run, in the order they ran (each a ``replay_schedule`` argument).
    schedules: list[str] = field(default_factory=list, repr=False)
    #: ``(i, n)``: this result is shard i of n of the exploration; ``(0, 1)`` is all of it.
    shard: tuple[int, int] = (0, 1)
    #: Schedules in which at least one operation starved (ran out of OCC retries).
    starved_schedules: int = 0
    #: Operations that starved, summed over those schedules.
    starved_operations: int = 0

    @property
    def checked_schedules(self) -> int:
        """Schedules that ran to an outcome and were checked (the others starved)."""
        return self.schedules_run - self.starved_schedules

    @property
    def unchecked(self) -> bool:
        """True when schedules ran but none produced a checkable outcome (all starved)."""
        return not self.failures and self.schedules_run > 0 and self.checked_schedules <= 0

    @property
    def verdict(self) -> str:
        """``"ok"``, ``"failed"`` or ``"unchecked"`` (see the class docstring)."""
        return "failed" if self.failures else "unchecked" if self.unchecked else "ok"

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def assert_ok(self) -> None:
        """Raise AssertionError with the first counterexample's timeline if anything failed,
        or saying why nothing was checked."""
        __tracebackhide__ = True  # the report starts at the test's assert_ok() line
        if self.failures:
            raise AssertionError(f"{len(self.failures)} failing schedule(s) found; the first:\n{self.failures[0]}")
        if self.unchecked:
            raise AssertionError(f"{self._unchecked_message()}\nA starved schedule:\n{self.contention[0]}"
                                 if self.contention else self._unchecked_message())

    def _unchecked_message(self) -> str:
        return (f"no schedule produced a checkable outcome: all {self.schedules_run} starved by contention "
                f"({self.starved_operations} operations ran out of OCC retries); {UNCHECKED_ADVICE}")

    def __str__(self) -> str:
        verdict = f"{len(self.failures)} failure(s)" if self.failures else self.verdict
        if self.starved_schedules and not self.unchecked:
            verdict += (f", {self.starved_schedules} of {self.schedules_run} schedules starved by contention "
                        f"({self.starved_operations} operations)")
        extra = ", ".join(f"{k} {v}" for k, v in sorted(self.stats.items()))
        sharded = f" (shard {self.shard[0]}/{self.shard[1]})" if self.shard[1] > 1 else ""
        why = f": {self._unchecked_message()}" if self.unchecked else ""
        return (f"{self.strategy}{sharded}: {self.schedules_run} schedules, {self.distinct_outcomes} distinct "
                f"outcomes, {verdict}" + (f" ({extra})" if extra else "") + why)
