"""What an exploration returns: the result, counterexamples, a replayed run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import hide_simulator_frames
from .execution import StepRecord
from .ops import Flow, Op
from .render import _timeline, render_timeline

# --- Results --------------------------------------------------------------------------------------


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
    #: Schedules where an operation ran out of OCC retries (``ContentionError``): reported,
    #: not failures, unless ``explore(..., fail_on_contention=True)``.
    contention: list[Counterexample] = field(default_factory=list)
    #: The schedule strings run, in the order they ran (each a ``replay_schedule`` argument).
    schedules: list[str] = field(default_factory=list, repr=False)
    #: ``(i, n)``: this result is shard i of n of the exploration; ``(0, 1)`` is all of it.
    shard: tuple[int, int] = (0, 1)

    @property
    def ok(self) -> bool:
        return not self.failures

    def assert_ok(self) -> None:
        """Raise AssertionError with the first counterexample's timeline if anything failed."""
        __tracebackhide__ = True  # the report starts at the test's assert_ok() line
        if self.failures:
            raise AssertionError(f"{len(self.failures)} failing schedule(s) found; the first:\n{self.failures[0]}")

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"{len(self.failures)} failure(s)"
        if self.contention:
            verdict += f", {len(self.contention)} starved by contention"
        extra = ", ".join(f"{k} {v}" for k, v in sorted(self.stats.items()))
        sharded = f" (shard {self.shard[0]}/{self.shard[1]})" if self.shard[1] > 1 else ""
        return (f"{self.strategy}{sharded}: {self.schedules_run} schedules, {self.distinct_outcomes} distinct "
                f"outcomes, {verdict}" + (f" ({extra})" if extra else ""))
