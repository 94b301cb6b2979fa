"""Sharded explorations: shards of one exploration partition its schedules, deterministically."""

import pytest

from convex_sim import ConvexSim, Flow, Op
from convex_sim.explore import DEFAULTS, ExplorationError
from scenarios.bank.bank import no_overdraft
from scenarios.races import counter
from scenarios.races.schema import schema as races_schema

TRANSFER = {"src": "ada", "dst": "bob", "amount": 60}

WORKLOADS = {
    "transfer x3": (lambda bank, races: (bank, [Op("bank:transfer", TRANSFER)] * 3, no_overdraft)),
    "transfer_via_action x2": (lambda bank, races: (bank, [Op("bank:transfer_via_action", TRANSFER)] * 2,
                                                    no_overdraft)),
    "lost update flows": (lambda bank, races: (races, [Flow(counter.read_then_write)] * 2, None)),
}


@pytest.fixture
def races():
    return ConvexSim(races_schema, modules="scenarios.races", seed=0)


def kinds(result):
    return sorted({f.kind for f in result.failures} | {f.kind for f in result.contention})


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("reduction", [True, False])
def test_four_shards_cover_exactly_the_unsharded_schedules(bank, races, workload, reduction):
    sim, ops, invariant = WORKLOADS[workload](bank, races)
    whole = sim.explore(ops, invariant=invariant, reduction=reduction)
    assert whole.exhausted and len(whole.schedules) == whole.schedules_run
    assert len(set(whole.schedules)) == len(whole.schedules)
    shards = [sim.explore(ops, invariant=invariant, reduction=reduction, shard=(i, 4)) for i in range(4)]
    seen: list[str] = []
    for result in shards:
        assert result.exhausted and result.schedules_run == len(result.schedules)
        seen += result.schedules
    assert len(seen) == len(set(seen))                     # disjoint
    assert set(seen) == set(whole.schedules)               # and together, exactly the whole
    assert sorted({k for r in shards for k in kinds(r)}) == kinds(whole)   # the same verdicts
    assert sum(bool(r.schedules) for r in shards) >= 2     # the work is actually split


def test_a_shard_is_deterministic_and_says_so(bank):
    ops = [Op("bank:transfer", TRANSFER)] * 3
    first = bank.explore(ops, invariant=no_overdraft, shard=(1, 3), seed=5)
    second = bank.explore(ops, invariant=no_overdraft, shard=(1, 3), seed=5)
    assert first.schedules == second.schedules and first.shard == (1, 3)
    assert str(first).startswith("exhaustive (shard 1/3): ")


def test_one_shard_is_the_whole_exploration(bank):
    ops = [Op("bank:transfer_via_action", TRANSFER)] * 2
    assert bank.explore(ops, shard=(0, 1)).schedules == bank.explore(ops).schedules


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_random_and_pct_runs_are_dealt_round_robin(bank, strategy):
    ops = [Op("bank:transfer_via_action", TRANSFER)] * 2
    whole = bank.explore(ops, strategy=strategy, max_schedules=12, seed=4)
    shards = [bank.explore(ops, strategy=strategy, max_schedules=4, seed=4, shard=(i, 3)) for i in range(3)]
    # max_schedules counts a shard's own schedules: run k of the whole goes to shard k mod 3.
    for i, result in enumerate(shards):
        assert result.schedules == whole.schedules[i::3]


@pytest.mark.parametrize("shard", [(1, 1), (-1, 2), (0, 0), (1,), "0/2", (0.0, 2)])
def test_a_bad_shard_is_refused(bank, shard):
    with pytest.raises(ExplorationError, match="shard must be"):
        bank.explore([Op("bank:transfer", TRANSFER)], shard=shard)


def test_the_default_shard_applies_to_every_exploration(bank, monkeypatch):
    ops = [Op("bank:transfer", TRANSFER)] * 3
    expected = bank.explore(ops, shard=(2, 4)).schedules
    monkeypatch.setitem(DEFAULTS, "shard", (2, 4))
    assert bank.explore(ops).schedules == expected
    assert bank.explore(ops, shard=(0, 1)).schedules != expected   # an explicit shard wins
