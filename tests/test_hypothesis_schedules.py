"""Hypothesis searching schedules and shrinking a failing one."""

from hypothesis import HealthCheck, find, given, settings

from convex_sim import ConvexSim, Op
from convex_sim.hypothesis import schedules
from scenarios.bank.bank import no_overdraft
from scenarios.bank.schema import schema

TRANSFER = {"src": "ada", "dst": "bob", "amount": 60}



def bank():
    sim = ConvexSim(schema, modules="scenarios.bank")
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    return sim


def test_find_shrinks_to_the_four_step_race():
    sim = bank()
    ops = [Op("bank:transfer_via_action", TRANSFER)] * 2

    def breaks(choices):
        return not sim.run_schedule(ops, choices, invariant=no_overdraft, check_serializable=False).ok

    minimal = find(schedules(max_steps=20, ops=2), breaks, settings=settings(database=None, max_examples=500))
    # Hypothesis' smallest list: B reads first; then A runs to the end; then B debits.
    assert minimal == [1]
    run = sim.run_schedule(ops, minimal, invariant=no_overdraft, check_serializable=False)
    assert run.failure == "invariant failed: ada has balance -20"
    assert run.schedule == "BAAAAABB"
    assert str(run).startswith("Schedule 'BAAAAABB' (8 steps")
    assert "FAILED (after step 8): invariant failed: ada has balance -20" in str(run)


@settings(max_examples=40, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choices=schedules(max_steps=12))
def test_the_correct_transfer_survives_any_schedule(choices):
    sim = bank()
    run = sim.run_schedule([Op("bank:transfer", TRANSFER)] * 3, choices, invariant=no_overdraft)
    assert run.ok, str(run)
