"""One @given fuzzing workload, data and interleaving together, and shrinking all three."""

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from convex_sim import Op
from convex_sim.hypothesis import StrategyError, Workload, ops, schedules
from scenarios.bank.bank import no_overdraft

OWNERS = st.sampled_from(["ada", "bob"])
FIELDS = {"src": OWNERS, "dst": OWNERS, "amount": st.integers(0, 100)}
FUZZ = settings(database=None, derandomize=True, deadline=None, max_examples=1000,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_fuzzing_finds_the_action_overdraft_and_shrinks_it_to_two_ops(bank):
    tried = []

    @FUZZ
    @given(workload=ops(bank, ["bank:transfer", "bank:transfer_via_action"], max_ops=5, fields=FIELDS),
           choices=schedules(max_steps=30))
    def fuzz(workload, choices):
        run = bank.run_schedule(workload, choices, invariant=no_overdraft, check_serializable=False)
        tried.append((workload, choices, run))
        assert run.ok, str(run)

    with pytest.raises(AssertionError, match="invariant failed: ada has balance -"):
        fuzz()
    workload, _choices, run = tried[-1]          # the last run replays the shrunk example
    assert not run.ok
    assert len(workload) == 2
    assert "bank:transfer_via_action" in [op.ref for op in workload]   # the racy one
    assert all(op.args["src"] == "ada" for op in workload)              # bob has nothing to lose
    assert sum(op.args["amount"] for op in workload) > 100


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_the_atomic_transfer_survives_any_workload_and_schedule(bank, data):
    workload = data.draw(ops(bank, ["bank:transfer"], max_ops=4, fields=FIELDS))
    choices = data.draw(schedules(max_steps=20))
    run = bank.run_schedule(workload, choices, invariant=no_overdraft)
    assert run.ok, str(run)


def test_a_workload_keeps_choices_meaning_the_same_ops_when_one_is_removed():
    a, b, c = (Op("bank:balance", {"owner": name}) for name in "abc")
    assert Workload([a, b, c], [0, 2, 4], 5).choices_for([4, 2, 1, 9, 5]) == [2, 1, 2, 0]
    assert Workload([a, c], [0, 4], 5).choices_for([4, 2, 1, 9, 5]) == [1, 1, 0]


def test_ops_draw_identities_and_validate_their_arguments(bank):
    strategy = ops(bank, ["bank:balance"], min_ops=2, max_ops=2, identities=[{"subject": "u1"}])
    drawn = find(strategy, lambda w: True)
    assert len(drawn) == 2 and all(isinstance(op, Op) for op in drawn)
    assert all(op.identity == {"subject": "u1"} and type(op.args["owner"]) is str for op in drawn)


def test_ops_errors(bank):
    with pytest.raises(StrategyError, match="min_ops <= max_ops"):
        ops(bank, ["bank:transfer"], max_ops=0)
    with pytest.raises(StrategyError, match="non-empty list"):
        ops(bank, "bank:transfer")
    with pytest.raises(Exception, match="bank:nope"):
        ops(bank, ["bank:nope"])
