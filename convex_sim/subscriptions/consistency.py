"""The subscription-consistency checker: every view a client was shown must be one that a
single point in time had."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import hide_simulator_frames
from ..runtime import stable_seed
from ..values import format_value
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
