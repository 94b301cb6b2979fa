"""The explorer's verdict when contention starves schedules: counted per schedule, and a
result in which no outcome was checked is not ``ok``."""

import pytest

from convex_sim import ConvexSim, Op
from convex_sim.explore import shrink
from scenarios.bank.schema import schema as bank_schema

CONTENTION = "error ContentionError"


def _bank() -> ConvexSim:
    sim = ConvexSim(bank_schema, modules="scenarios.bank", seed=0)
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 1000})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 1000})
    return sim


def _transfers(n: int) -> list[Op]:
    """``n`` transfers that each read and write the same two account rows."""
    return [Op("bank:transfer", {"src": "ada", "dst": "bob", "amount": 1})] * n


def _starved_schedules(sim: ConvexSim, result) -> int:
    """How many of the result's schedules starve, counted by replaying each one."""
    return sum(1 for s in result.schedules if sim.replay_schedule(s).kind == CONTENTION)


def test_every_schedule_starved_is_unchecked_not_ok():
    sim = _bank()
    result = sim.explore(_transfers(16), strategy="random", max_schedules=3, seed=0)
    assert result.schedules_run == 3
    assert result.starved_schedules == 3 == _starved_schedules(sim, result)
    assert result.starved_operations >= 3
    assert result.checked_schedules == 0 and result.distinct_outcomes == 0
    assert result.unchecked and result.verdict == "unchecked"
    assert not result.ok and not result.failures
    text = str(result)
    assert "unchecked" in text and "no schedule produced a checkable outcome" in text
    assert "fewer concurrent operations" in text
    with pytest.raises(AssertionError, match="no schedule produced a checkable outcome"):
        result.assert_ok()


def test_starvation_is_counted_per_schedule_with_its_operations():
    sim = _bank()
    result = sim.explore(_transfers(10), strategy="random", max_schedules=12, seed=0)
    starved = _starved_schedules(sim, result)
    assert 0 < starved < result.schedules_run      # some starved, some were checked
    assert result.starved_schedules == starved
    assert result.starved_operations >= starved
    assert result.checked_schedules == result.schedules_run - starved
    assert result.ok and result.verdict == "ok" and not result.unchecked
    assert (f"{starved} of {result.schedules_run} schedules starved by contention "
            f"({result.starved_operations} operations)") in str(result)


def test_starved_schedules_made_failures_are_failed_not_unchecked():
    sim = _bank()
    result = sim.explore(_transfers(16), strategy="random", max_schedules=2, seed=0, fail_on_contention=True)
    assert not result.ok and result.verdict == "failed" and not result.unchecked
    assert result.failures[0].kind == CONTENTION
    assert result.starved_schedules == 2


def test_a_correct_exploration_checks_every_schedule():
    sim = _bank()
    result = sim.explore(_transfers(2))
    assert result.ok and result.verdict == "ok"
    assert result.checked_schedules == result.schedules_run and result.starved_schedules == 0
    assert "starved" not in str(result)


def test_shrinking_survives_a_swap_that_shortens_the_schedule():
    """A swap the run accepts may execute fewer choices than it was given."""
    fails = {(0, 1, 0, 1): [0, 1, 0, 1], (1, 0, 0, 1): [1, 0, 0]}   # candidate -> choices executed

    def run(candidate):
        executed = fails.get(tuple(candidate))
        return None if executed is None else ((len(executed), executed), executed)

    assert shrink([0, 1, 0, 1], run) == [1, 0, 0]
