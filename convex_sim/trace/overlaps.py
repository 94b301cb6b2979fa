"""Explore around production: the calls of a trace whose recorded times overlapped
really ran concurrently, so every interleaving of them is worth checking.

``overlapping_windows`` groups the calls whose ``[start, end]`` intervals overlap
(strictly: a simulator's calls, all at one virtual instant, never overlap);
``explore_overlaps`` replays the trace and, when it reaches the first call of a
window, explores that window's calls as concurrent ops from the state at that
point (the explorer leaves the state as it found it), then replays on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..jsonlines import DEFAULT_MAX_LINE_BYTES
from ..values import from_json
from .format import TraceReader, decode_identity
from .replay import Replayer, ReplayReport


@dataclass
class Window:
    """Calls whose recorded times overlap: ``calls`` is ``[(line, event)]`` in start order."""

    calls: list[tuple[int, dict]]
    result: Any = None   # the ExplorationResult, once explored

    @property
    def first_line(self) -> int:
        return min(line for line, _ in self.calls)

    def ops(self) -> list[Any]:
        from ..explore import Op

        return [Op(e["path"], from_json(e.get("args") or {}), identity=decode_identity(e.get("identity")))
                for _, e in self.calls]

    def __str__(self) -> str:
        lines = ", ".join(str(line) for line, _ in self.calls)
        calls = ", ".join(e["path"] for _, e in self.calls)
        outcome = "" if self.result is None else f": {self.result}"
        return f"lines {lines} ({calls}){outcome}"


def overlapping_windows(trace: str | os.PathLike[str], *,
                        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> list[Window]:
    """The groups of two or more calls of ``trace`` whose times overlap (queries,
    mutations and actions; ``sim.run`` calls are not re-runnable as ops)."""
    reader = TraceReader(trace, max_line_bytes=max_line_bytes)
    calls = sorted(((e["start"], e["end"], line, e) for line, e in reader.events()
                    if e["type"] == "call" and e.get("kind") in ("query", "mutation", "action")
                    and isinstance(e.get("start"), int | float) and isinstance(e.get("end"), int | float)),
                   key=lambda c: (c[0], c[2]))
    windows, current, reach = [], [], float("-inf")
    for start, end, line, event in calls:
        if current and start >= reach:
            if len(current) > 1:
                windows.append(Window(current))
            current, reach = [], float("-inf")
        current.append((line, event))
        reach = max(reach, end)
    if len(current) > 1:
        windows.append(Window(current))
    return windows


@dataclass
class OverlapReport:
    """A replay plus the exploration of each overlapping window."""

    replay: ReplayReport
    windows: list[Window] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.replay.ok and all(w.result is None or w.result.ok for w in self.windows)

    def __str__(self) -> str:
        explored = sum(w.result is not None for w in self.windows)
        head = f"{len(self.windows)} window(s) of overlapping calls"
        parts = [str(self.replay),
                 f"{head} explored" if explored == len(self.windows) else f"{head}, {explored} explored"]
        for window in self.windows:
            parts.append(f"  {window}" + ("" if window.result is not None else f": {self._not_explored()}"))
            for failure in (window.result.failures if window.result is not None else [])[:1]:
                parts.append(str(failure))
        return "\n".join(parts)

    def _not_explored(self) -> str:
        """Why a window has no result: the replay stopped before reaching its first call."""
        first = self.replay.first
        if first is None:
            return "not explored"
        return (f"not explored: the replay stopped at its divergence on line {first.line} "
                "(replay with --keep-going to explore it)")


def explore_overlaps(sim: Any, trace: str | os.PathLike[str], *,
                     invariant: Callable[[Any], Any] | None = None, keep_going: bool = True,
                     max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, **explore_options: Any) -> OverlapReport:
    """Replay ``trace`` on ``sim``, exploring each window of overlapping calls just before
    its first call (``explore_options`` go to :meth:`ConvexSim.explore`)."""
    windows = overlapping_windows(trace, max_line_bytes=max_line_bytes)
    by_line = {w.first_line: w for w in windows}

    def before(line: int) -> None:
        window = by_line.get(line)
        if window is not None:
            window.result = sim.explore(window.ops(), invariant=invariant, **explore_options)

    replayer = Replayer(sim, trace, keep_going=keep_going, max_line_bytes=max_line_bytes)
    replayer.before_event = before
    return OverlapReport(replayer.run(), windows)
