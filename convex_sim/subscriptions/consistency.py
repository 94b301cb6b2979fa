"""The subscription-consistency checker: every view a client was shown must be one that a
single point in time had."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import hide_simulator_frames
from ..functions import QUERY
from ..runtime import stable_seed
from ..values import format_value, from_json
from .clients import Client, Subscription, server_view
from .transitions import canonical_text

# --- The consistency checker ---------------------------------------------------------------------

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours


@dataclass
class ConsistencyReport:
    """What :func:`check_consistency` found; ``ok`` when nothing."""

    problems: list[str]
    transitions_checked: int
    #: Transitions after ``since`` that the client no longer kept, so were not checked.
    transitions_skipped: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def assert_ok(self) -> None:
        if self.problems:
            raise AssertionError("subscription consistency: " + "; ".join(self.problems[:5]))


def check_consistency(client: Client, *, since: int = 0) -> ConsistencyReport:
    """Check every transition ``client`` received after the first ``since`` (an absolute count,
    as ``client.transitions.received`` gave it), as far as the client still keeps them:
    ``transitions_skipped`` counts the dropped ones (set ``client.keep_transitions = None``
    before the run to check all).

    * each value it shows at timestamp T equals a fresh run of its query at T;
    * all values of one transition were computed at its timestamp;
    * timestamps never go backwards;
    * no change was missed: at every transition — including the empty ones that
      move the client to a new timestamp with no update — and at the end if
      connected, *every* subscription matches a fresh run (a change that was
      never pushed shows as a stale value).
    """
    manager = client.manager
    problems: list[str] = []
    fresh_cache: dict[tuple, str] = {}

    def fresh(sub: Subscription, ts: int) -> str:
        key = (sub.instance.key, ts)
        if key not in fresh_cache:
            instance = sub.instance
            try:
                value, _txn = manager.runtime.call_query(instance.fn, instance.args, instance.identity,
                                                         at_ts=ts, seed=stable_seed(instance.key, ts))
                fresh_cache[key] = canonical_text(value)
            except Exception as exc:
                fresh_cache[key] = f"error:{exc}"
        return fresh_cache[key]

    log = client.transitions
    start = max(since - log.dropped, 0)   # the first kept transition to check
    previous = log.view_ts if start == 0 else None
    view = dict(log.view)   # every subscription's shown value, rebuilt transition by transition
    for transition in log[:start]:
        view.update(transition.shown)
    transitions = log[start:]
    for number, transition in enumerate(transitions, start=log.dropped + start + 1):
        view.update(transition.shown)
        if previous is not None and transition.ts < previous:
            problems.append(f"transition {number} goes back in time: ts {transition.ts} after ts {previous}")
        previous = transition.ts
        for sid, when in transition.computed_at.items():
            if when != transition.ts:
                sub = client.subscriptions.get(sid)
                name = sub.path if sub else f"subscription {sid}"
                problems.append(f"transition {number} at ts {transition.ts} carries {name} computed at ts {when}")
        for sid, shown in view.items():
            sub = client.subscriptions.get(sid)
            if sub is None:
                continue
            expected = fresh(sub, transition.ts)
            if shown != expected:
                problems.append(f"transition {number}: {sub.path}({format_value(sub.args, 60)}) shows "
                                f"{shown[:60]} at ts {transition.ts}, but the query gives {expected[:60]} there")
    if client.connected and client.ts is not None and client.ts < manager.db.latest_ts:
        for sub in client.subscriptions.values():
            if server_view(sub) != fresh(sub, manager.db.latest_ts):
                problems.append(f"{sub.path}({format_value(sub.args, 60)}) missed a change: the client is at "
                                f"ts {client.ts} but the result changed by ts {manager.db.latest_ts}")
    return ConsistencyReport(problems, len(transitions), max(log.dropped - since, 0))


# --- What a real client showed ---------------------------------------------------------------------


@dataclass
class View:
    """What a client showed at one moment (after step ``step`` of a schedule): each of its
    queries, keyed ``(path, args as canonical JSON)``, with the value it showed (canonical text,
    or ``"error:<message>"``)."""

    step: int
    shown: dict[tuple[str, str], str]


@dataclass
class ViewProblem:
    """A view that no single point in time had, and what the queries gave at each time."""

    view: View
    had: dict[int, dict[tuple[str, str], str]]

    def __str__(self) -> str:
        parts = ", ".join(f"{path}({_args_text(args)}) = {_short(shown)}"
                          for (path, args), shown in self.view.shown.items())
        times = "; ".join(f"ts {ts}: " + ", ".join(_short(text) for text in values.values())
                          for ts, values in list(self.had.items())[:6])
        return f"after step {self.view.step} the page showed {parts}, which no point in time had ({times})"


def check_views(views: list[View], times: list[int], runtime: Any) -> ViewProblem | None:
    """The first of ``views`` (what a real client's callbacks were given, optimistic updates
    included) that is not what its queries returned at one single timestamp of ``times``:
    a view may run ahead of what the client was sent (an optimistic update guessing right),
    never show what no point in time had. Queries run with the identity-free runtime, seeded
    per (path, ts) so a query reading ``Math.random`` is compared with itself."""
    fresh: dict[tuple[str, str, int], str] = {}

    def at(key: tuple[str, str], ts: int) -> str:
        path, args = key
        if (path, args, ts) not in fresh:
            try:
                fn = runtime.resolve(path, QUERY)
                value, _txn = runtime.call_query(fn, from_json(json.loads(args)), None, at_ts=ts,
                                                 seed=stable_seed(path, ts))
                fresh[(path, args, ts)] = canonical_text(value)
            except Exception as exc:
                fresh[(path, args, ts)] = f"error:{exc}"
        return fresh[(path, args, ts)]

    for view in views:
        if not any(all(at(key, ts) == shown for key, shown in view.shown.items()) for ts in times):
            return ViewProblem(view, {ts: {key: at(key, ts) for key in view.shown} for ts in times})
    return None


def _short(text: str) -> str:
    if text.startswith("error:"):
        return text[:60]
    return format_value(from_json(json.loads(text)), 40)


def _args_text(args: str) -> str:
    value = from_json(json.loads(args))
    return "" if value == {} else format_value(value, 40)
