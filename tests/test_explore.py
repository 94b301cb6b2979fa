"""The concurrency explorer: exact verdicts on the race scenarios, reduction, determinism."""

import pytest

from convex_sim import ConvexSim, Flow, Op, define_schema, define_table, mutation, v
from convex_sim.explore import ExplorationError, render_html
from convex_sim.functions import Registry
from scenarios.bank.bank import no_overdraft
from scenarios.races import counter, orders, signup, slots
from scenarios.races.schema import schema as races_schema


@pytest.fixture
def races():
    return ConvexSim(races_schema, modules="scenarios.races", seed=0)


TRANSFER = {"src": "ada", "dst": "bob", "amount": 60}


def test_single_mutation_transfer_is_correct_under_every_schedule(bank):
    result = bank.explore([Op("bank:transfer", TRANSFER)] * 3, invariant=no_overdraft)
    assert result.ok and result.failures == []
    assert result.exhausted
    assert result.distinct_outcomes == 3  # exactly one of the three transfers succeeds
    assert result.stats["conflicts"] > 0  # the OCC retries that keep it correct


def test_transfer_via_action_overdraft_found_in_four_steps(bank):
    result = bank.explore([Op("bank:transfer_via_action", TRANSFER)] * 2, invariant=no_overdraft)
    assert not result.ok
    (example,) = [f for f in result.failures if f.kind == "invariant"]
    assert len(example.steps) <= 4
    assert example.reason == "invariant failed: ada has balance -20"
    assert [(s.kind, s.function) for s in example.steps][-2:] == [
        ("mutation", "bank:debit"), ("mutation", "bank:debit")]
    text = str(example)
    assert "snapshot" in text and "commit" in text and "reads  accounts.by_owner" in text
    assert f"replay: sim.replay_schedule({example.schedule!r})" in text


def test_transfer_via_action_is_not_serializable(bank):
    result = bank.explore([Op("bank:transfer_via_action", TRANSFER)] * 2)
    (example,) = result.failures
    assert example.kind == "serializability"
    assert "no serial order of [A, B] gives this outcome" in example.reason
    assert "balance -20 vs 40" in example.reason


def test_lost_update_through_a_client_flow(races):
    racy = races.explore([Flow(counter.read_then_write), Flow(counter.read_then_write)])
    (example,) = racy.failures
    assert example.kind == "serializability" and "value 1 vs 2" in example.reason
    assert len(example.steps) == 4
    correct = races.explore([Flow(counter.increment_flow), Flow(counter.increment_flow)])
    assert correct.ok and correct.distinct_outcomes == 2


def test_uniqueness_inside_one_mutation_vs_across_an_action(races):
    inside = races.explore([Op("signup:register", {"name": "ada"})] * 2, invariant=signup.unique_names)
    assert inside.ok
    across = races.explore([Op("signup:register_via_action", {"name": "ada"})] * 2, invariant=signup.unique_names)
    kinds = {f.kind for f in across.failures}
    assert "invariant" in kinds
    example = next(f for f in across.failures if f.kind == "invariant")
    assert example.reason == "invariant failed: duplicate user names: ['ada']"


def test_scheduled_job_races_a_cancellation(races):
    ops = [Op("orders:place", {"customer": "c1"}), Op("orders:cancel", {"customer": "c1"})]
    racy = races.explore(ops, invariant=orders.never_charge_a_canceled_order, check_serializable=False)
    (example,) = racy.failures
    assert example.reason == "invariant failed: order of c1 is canceled and charged"
    assert [s.function for s in example.steps] == [
        "orders:place", "job orders:process", "orders:status", "orders:cancel", "orders:charge"]
    safe_ops = [Op("orders:place", {"customer": "c1", "safe": True}), Op("orders:cancel", {"customer": "c1"})]
    safe = races.explore(safe_ops, invariant=orders.never_charge_a_canceled_order, check_serializable=False)
    assert safe.ok and safe.exhausted


def test_partial_order_reduction_on_disjoint_operations(races):
    ops = slots.bumps(races)
    reduced = races.explore(ops)
    full = races.explore(ops, reduction=False)
    assert full.schedules_run == 2520  # 8 steps, 2 per op: 8! / 2**4
    assert reduced.schedules_run * 10 <= full.schedules_run
    assert reduced.distinct_outcomes == full.distinct_outcomes == 1
    assert reduced.ok and full.ok and reduced.exhausted and full.exhausted


def test_same_exploration_twice_is_identical(bank):
    ops = [Op("bank:transfer_via_action", TRANSFER)] * 2
    first = bank.explore(ops, invariant=no_overdraft, seed=3)
    second = bank.explore(ops, invariant=no_overdraft, seed=3)
    assert [str(f) for f in first.failures] == [str(f) for f in second.failures]
    assert (first.schedules_run, first.distinct_outcomes) == (second.schedules_run, second.distinct_outcomes)
    for strategy in ("random", "pct"):
        a = bank.explore(ops, strategy=strategy, max_schedules=30, seed=9)
        b = bank.explore(ops, strategy=strategy, max_schedules=30, seed=9)
        assert [str(f) for f in a.failures] == [str(f) for f in b.failures]
        assert a.distinct_outcomes == b.distinct_outcomes


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_random_and_pct_find_the_overdraft(bank, strategy):
    result = bank.explore([Op("bank:transfer_via_action", TRANSFER)] * 2, invariant=no_overdraft,
                          strategy=strategy, max_schedules=200, seed=1)
    assert result.schedules_run == 200
    assert any(f.kind == "invariant" and len(f.steps) <= 4 for f in result.failures)


def test_state_is_unchanged_and_replay_reproduces(bank):
    before = bank.db.latest_ts, bank.clock, bank.query("bank:balance", {"owner": "ada"})
    result = bank.explore([Op("bank:transfer_via_action", TRANSFER)] * 2, invariant=no_overdraft)
    assert (bank.db.latest_ts, bank.clock, bank.query("bank:balance", {"owner": "ada"})) == before
    example = next(f for f in result.failures if f.kind == "invariant")
    run = bank.replay_schedule(example.schedule)
    assert not run.ok and run.failure == example.reason
    assert [s.function for s in run.steps] == [s.function for s in example.steps]
    assert example.replay().failure == example.reason
    assert bank.query("bank:balance", {"owner": "ada"}) == 100


def test_setup_runs_before_each_schedule(races):
    def seed_counter(sim):
        sim.mutation("counter:set", {"name": "clicks", "value": 10})

    result = races.explore([Flow(counter.increment_flow)] * 2, setup=seed_counter)
    assert result.ok
    run = races.replay_schedule("AB")
    assert run.ok
    assert races.query("counter:get", {"name": "clicks"}) == 0  # setup ran only inside schedules


def test_unexpected_errors_fail_unless_expected():
    schema = define_schema({"t": define_table({"n": v.int64()})})

    @mutation(args={})
    def broken(ctx, args):
        raise KeyError("missing")

    registry = Registry()
    registry.register("t:broken", broken)
    sim = ConvexSim(schema, registry)
    (example,) = sim.explore([Op("t:broken")]).failures
    assert example.kind == "error KeyError" and "raised KeyError" in example.reason
    assert sim.explore([Op("t:broken")], expected_errors=[KeyError]).ok


def test_bad_input_is_a_clear_error(bank):
    with pytest.raises(ExplorationError, match="strategy must be one of"):
        bank.explore([Op("bank:transfer", TRANSFER)], strategy="bfs")
    with pytest.raises(ExplorationError, match="must be Op"):
        bank.explore(["bank:transfer"])
    with pytest.raises(ExplorationError, match="at least one"):
        bank.explore([])
    with pytest.raises(ExplorationError, match="max_schedules"):
        bank.explore([Op("bank:transfer", TRANSFER)], max_schedules=0)


def test_render_html_writes_a_self_contained_timeline(bank, tmp_path):
    result = bank.explore([Op("bank:transfer_via_action", TRANSFER)] * 2, invariant=no_overdraft)
    target = tmp_path / "race.html"
    render_html(result.failures[0], target)
    page = target.read_text()
    assert page.startswith("<!doctype html>") and "bank:debit" in page and "overwrites step" in page
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".convex-sim-")]



def test_random_in_app_code_does_not_depend_on_interleaving():
    import random

    schema = define_schema({"draws": define_table({"who": v.string(), "value": v.float64()})})

    @mutation(args={"who": v.string()})
    def draw(ctx, args):
        value = random.random()
        ctx.db.insert("draws", {"who": args["who"], "value": value})
        return value

    registry = Registry()
    registry.register("d:draw", draw)
    sim = ConvexSim(schema, registry)
    result = sim.explore([Op("d:draw", {"who": "a"}), Op("d:draw", {"who": "b"})], reduction=False)
    assert result.ok  # each op draws the same number whatever the order: every outcome is serial
    assert result.distinct_outcomes == 1


def test_more_than_eight_operations_search_serial_orders(races):
    increments = [Op("counter:increment", {"name": "clicks"})] * 9
    fine = races.explore(increments, strategy="random", max_schedules=3, seed=2)
    assert fine.ok and fine.schedules_run == 3
    flows = [Flow(counter.read_then_write)] * 2 + [Op("counter:increment", {"name": "other"})] * 7
    racy = races.explore(flows, strategy="random", max_schedules=8, seed=1)
    (example,) = racy.failures
    assert example.kind == "serializability"
    assert "no serial order of [A, B, C, D, E, F, G, H, I] gives this outcome (searched" in example.reason


def seats_app():
    from convex_sim import ConvexError, query

    schema = define_schema({"seats": define_table({"who": v.string()})})

    @query(args={})
    def taken(ctx, args):
        return len(ctx.db.query("seats").collect())

    @mutation(args={"who": v.string()})
    def book(ctx, args):
        if len(ctx.db.query("seats").collect()) >= 1:
            raise ConvexError({"code": "FULL"})
        ctx.db.insert("seats", {"who": args["who"]})
        return "booked"

    registry = Registry()
    registry.register("seats:taken", taken)
    registry.register("seats:book", book)
    return ConvexSim(schema, registry)


async def book_if_free(client, args):
    """Check the limit on the client, then book (the server checks it again)."""
    if await client.query("seats:taken", {}) >= 1:
        return "full"
    return await client.mutation("seats:book", args)


def test_what_serializability_compares_for_multi_transaction_ops(bank):
    sim = seats_app()
    flows = [Flow(book_if_free, {"who": "ada"}, name="ada books"), Flow(book_if_free, {"who": "bob"}, name="bob books")]
    # "auto": a flow's result depends on where its client check ran; only its effects count.
    assert sim.explore(flows).ok
    assert sim.explore(flows, compare="state").ok
    both = sim.explore(flows, compare="both")
    (example,) = both.failures
    assert example.kind == "serializability" and "ConvexError({'code': 'FULL'})" in example.reason
    assert "ops: A = ada books, B = bob books" in str(example)
    # The lost update of transfer_via_action is in the state: found under "auto" too.
    racy = bank.explore([Op("bank:transfer_via_action", TRANSFER)] * 2)
    assert [f.kind for f in racy.failures] == ["serializability"]
    assert "balance -20 vs 40" in racy.failures[0].reason and "result of" not in racy.failures[0].reason
    with pytest.raises(ExplorationError, match=r"compare must be one of \['auto', 'both', 'state', 'results'\], got 'all'"):
        sim.explore(flows, compare="all")


def test_flow_arguments_names_and_bad_schedules(races):
    unnamed = Flow(lambda client: client.query("counter:get", {"name": "x"}))   # labelled by its line
    assert unnamed.label == f"lambda at test_explore.py:{unnamed.fn.__code__.co_firstlineno}"
    assert "ops: A = lambda at test_explore.py:" in str(races.explore(
        [unnamed, Flow(counter.read_then_write)], invariant=lambda ctx: False).failures[0])
    with pytest.raises(ExplorationError, match="args must be a dict or None, got 3"):
        Flow(counter.read_then_write, 3)
    named = Flow(lambda client: client.query("counter:get", {"name": "x"}), name="peek")
    assert named.label == "peek" and Flow(counter.read_then_write).label == "read_then_write"
    result = races.explore([Flow(counter.read_then_write)] * 2)
    with pytest.raises(ExplorationError, match=r"schedule 'ZZZ' names op Z, but there are only 2 op\(s\): A, B"):
        races.replay_schedule("ZZZ")
    with pytest.raises(ExplorationError, match="names op C"):
        races.replay_schedule("ABC")
    assert races.replay_schedule(result.failures[0].schedule).kind == "serializability"
