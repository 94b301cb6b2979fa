"""Partial-order reduction loses no outcome: for small workloads of conflicting operations (reads
and writes of the same documents and index ranges), exhaustive exploration with and without
the reduction reaches the same set of distinct outcomes."""

from hypothesis import given, settings
from hypothesis import strategies as st

from convex_sim import ConvexSim, Flow, Op
from scenarios.races import counter
from scenarios.races.schema import schema as races_schema

#: Operations of one transaction each, all touching the same counter, name or order.
SINGLE = [
    Op("counter:get", {"name": "clicks"}),
    Op("counter:increment", {"name": "clicks"}),
    Op("counter:set", {"name": "clicks", "value": 5}),
    Op("signup:is_taken", {"name": "ada"}),
    Op("signup:register", {"name": "ada"}),
    Op("orders:cancel", {"customer": "ada"}),
]
#: Operations of several steps (client flows, actions, a scheduled job) racing with those above.
RACY = [
    Flow(counter.read_then_write),
    Flow(counter.increment_flow),
    Op("signup:register_via_action", {"name": "ada"}),
]
#: Its scheduled job adds steps, so it races with one other operation only (to stay fast).
PLACE = Op("orders:place", {"customer": "ada", "safe": True})

CHECKS_OFF = {"check_serializable": False, "check_history": False, "check_subscriptions": False}


@st.composite
def workloads(draw: st.DrawFn) -> list:
    """One operation of several steps and one or two single-transaction operations, shuffled."""
    racy = draw(st.sampled_from([*RACY, PLACE]))
    others = draw(st.lists(st.sampled_from(SINGLE), min_size=1, max_size=1 if racy is PLACE else 2))
    return draw(st.permutations([racy, *others]))


def outcomes(ops: list, reduction: bool) -> set[str]:
    """The distinct outcomes of an exhaustive exploration of ``ops`` (each schedule replayed)."""
    sim = ConvexSim(races_schema, modules="scenarios.races", seed=0)
    result = sim.explore(ops, reduction=reduction, max_schedules=5_000, **CHECKS_OFF)
    assert result.exhausted, f"{len(result.schedules)} schedules did not cover {ops}"
    found = {sim.replay_schedule(schedule, ops, **CHECKS_OFF).outcome for schedule in result.schedules}
    assert len(found) == result.distinct_outcomes
    return found


@settings(max_examples=20, deadline=None, derandomize=True)
@given(workloads())
def test_reduction_reaches_every_outcome_of_the_full_search(ops):
    assert outcomes(ops, reduction=True) == outcomes(ops, reduction=False)


def test_allocation_order_never_splits_one_outcome_in_two():
    """Two orders placed at once each schedule a job: whichever is allocated first, the
    outcome is one (rows that reference labelled IDs are ordered by those labels)."""
    from convex_sim import ConvexSim, Op
    from scenarios.races.schema import schema

    sim = ConvexSim(schema, modules="scenarios.races", seed=0)
    ops = [Op("orders:place", {"customer": "ada"}), Op("orders:place", {"customer": "bob"})]
    reduced, full = sim.explore(ops, reduction=True), sim.explore(ops, reduction=False)
    assert reduced.ok and full.ok
    assert reduced.distinct_outcomes == full.distinct_outcomes == 1
