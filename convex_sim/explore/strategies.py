"""Strategies: which schedules to run (exhaustive with sleep sets, random walks, PCT)."""

from __future__ import annotations

import random
from typing import Any, Protocol

from .execution import Execution, Exploration
from .ops import schedule_string
from .records import CONTENTION, Failure, StepRecord


class Judge(Exploration, Protocol):
    """An exploration that can judge a finished schedule (the engine's ``Explorer``)."""

    def verdict(self, execution: Execution) -> tuple[str | None, Failure | None]: ...

    def schedule_of(self, execution: Execution) -> list[int]: ...


def split_depth(shards: int) -> int:
    """The depth (in choices) at which an exhaustive search splits into ``shards`` shards: deep
    enough to have several split points per shard, shallow enough that the part of the tree every
    shard walks is small. A pure function of ``shards``, so every shard splits alike."""
    return 4 + shards.bit_length()


class Search:
    """Runs schedules for a strategy, collecting outcomes, failures and starvation."""

    def __init__(self, explorer: Judge, max_schedules: int, progress: Any,
                 shard: tuple[int, int] = (0, 1)) -> None:
        self.x = explorer
        self.max_schedules = max_schedules
        self.schedules_run = 0
        #: The schedule strings run, in order (``ExplorationResult.schedules``).
        self.schedules: list[str] = []
        #: (i, n): this search runs only shard i of n (see :func:`split_depth`).
        self.shard = shard
        self.split_depth = split_depth(shard[1])
        #: Split points met so far (exhaustive) or schedules generated (random, pct), every shard's.
        self._ticket = 0
        self.outcomes: set[str] = set()
        self.failures: list[tuple[list[int], Failure]] = []
        self._failure_kinds: set[str] = set()
        #: Schedules in which an operation starved, and the operations starved in them.
        self.starved_schedules = 0
        self.starved_operations = 0
        self.progress = progress

    @property
    def budget_left(self) -> bool:
        return self.schedules_run < self.max_schedules

    def _mine(self) -> bool:
        """Take the next ticket; True if it belongs to this shard (round robin)."""
        ticket = self._ticket
        self._ticket += 1
        return ticket % self.shard[1] == self.shard[0]

    def finish(self, execution: Execution) -> None:
        """A complete schedule ran: check it and count it."""
        outcome, failure = self.x.verdict(execution)
        self.schedules_run += 1
        self.schedules.append(schedule_string(self.x.schedule_of(execution)))
        if self.progress is not None:
            self.progress.update(1)
        if outcome is not None:
            self.outcomes.add(outcome)
        if failure is not None and failure.kind == CONTENTION:
            self.starved_schedules += 1
            self.starved_operations += execution.starved()
        if failure is not None and failure.kind not in self._failure_kinds:
            self._failure_kinds.add(failure.kind)  # one counterexample per kind of failure
            self.failures.append((self.x.schedule_of(execution), failure))

    # -- exhaustive, with sleep sets ------------------------------------------------------------
    def exhaustive(self, reduction: bool) -> bool:
        """Depth-first over all schedules; returns True if the whole tree was covered."""
        return self._dfs([], {}, reduction)

    def _dfs(self, prefix: list[int], sleep: dict[int, StepRecord], reduction: bool,
             execution: Execution | None = None) -> bool:
        if not self.budget_left:
            return False
        if execution is None:
            execution = Execution(self.x)
            for op in prefix:
                execution.step(op)
        enabled = execution.enabled()
        done = not enabled or bool(execution.failure)
        # Sharding: every shard walks the tree down to the split depth alike (a node's sleep set
        # depends only on the path to it); each split point (a node at that depth, or a schedule
        # ending above it) belongs to one shard, which alone explores below it.
        split_point = len(prefix) == self.split_depth or (done and len(prefix) < self.split_depth)
        if self.shard[1] > 1 and split_point and not self._mine():
            return True
        if done:
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
                execution = Execution(self.x)
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
            execution = Execution(self.x)
            while (enabled := execution.enabled()) and not execution.failure:
                execution.step(rng.choice(enabled))
            if self._mine():   # walk k of the unsharded run is shard k mod n's
                self.finish(execution)

    # -- PCT (Burckhardt et al. 2010) --------------------------------------------------------------
    def pct(self, rng: random.Random, depth: int) -> None:
        n = len(self.x.ops)
        probe = Execution(self.x)
        probe.run_choices([])
        steps = max(len(probe.records), 1)
        while self.budget_left:
            priorities = list(range(depth, depth + n))
            rng.shuffle(priorities)
            change_points = sorted(rng.sample(range(1, steps + 1), min(depth - 1, steps)))
            execution = Execution(self.x)
            taken = 0
            while (enabled := execution.enabled()) and not execution.failure:
                op = max(enabled, key=lambda i: priorities[i])
                execution.step(op)
                taken += 1
                for k, point in enumerate(change_points):
                    if point == taken:
                        priorities[op] = depth - 1 - k  # below every initial priority
            steps = max(steps, taken)
            if self._mine():   # run k of the unsharded run is shard k mod n's
                self.finish(execution)
