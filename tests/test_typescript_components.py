"""TypeScript components: npm components (@convex-dev/sharded-counter, @convex-dev/rate-limiter)
and a local one installed twice, through the `convex` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from convex_sim import ConvexError, ConvexSim, InvalidIdError, Op
from convex_sim.database import WriteConflict
from convex_sim.js.project import validator_from_json
from tests.conftest import prepared_project

PROJECT = Path(__file__).resolve().parent.parent / "scenarios" / "ts_components"

pytestmark = pytest.mark.convex_project(str(PROJECT))


@pytest.fixture(scope="session")
def ts_components_project() -> Path:
    """The scenario's node_modules, installed from its lock file (skipped without Node.js)."""
    return prepared_project(PROJECT)


@pytest.fixture
def shop(ts_components_project, convex) -> ConvexSim:
    return convex


def table(sim: ConvexSim, component: str, name: str) -> list[dict]:
    return sim.component(component).run(lambda ctx: ctx.db.query(name).collect())


def test_convex_config_installs_npm_and_local_components(shop):
    assert sorted(shop.components.by_path) == [
        "pool", "pool/batchWorker", "rateLimiter", "rateLimiter/batchWorker", "scores", "scores/batchWorker",
        "shardedCounter", "tallyA", "tallyA/counter", "tallyB", "tallyB/counter"]
    shop.with_identity(subject="ada").mutation("shop:placeOrder", {"item": "tea"})
    assert shop.query("shop:stats") == {"orders": 1, "counted": 1, "tallyA": 1, "tallyB": 0}
    assert len(table(shop, "rateLimiter", "rateLimits")) == 1
    assert sum(c["value"] for c in table(shop, "shardedCounter", "counters")) == 1


def test_the_rate_limiter_component_limits_on_the_virtual_clock(shop):
    ada = shop.with_identity(subject="ada")
    ada.mutation("shop:placeOrder", {"item": "a"})
    ada.mutation("shop:placeOrder", {"item": "b"})
    with pytest.raises(ConvexError) as refused:
        ada.mutation("shop:placeOrder", {"item": "c"})
    assert refused.value.data["code"] == "RATE_LIMITED" and refused.value.data["retryAfter"] > 0
    shop.with_identity(subject="bob").mutation("shop:placeOrder", {"item": "d"})   # another key
    shop.advance_time(refused.value.data["retryAfter"])
    ada.mutation("shop:placeOrder", {"item": "c"})
    assert shop.query("shop:stats")["orders"] == 4


def test_app_and_component_writes_roll_back_together(shop):
    with pytest.raises(ConvexError):
        shop.mutation("shop:placeOrder", {"item": "tea", "fail": True})
    assert shop.query("shop:stats") == {"orders": 0, "counted": 0, "tallyA": 0, "tallyB": 0}
    assert table(shop, "rateLimiter", "rateLimits") == []


def test_a_caught_component_failure_rolls_back_only_the_component(shop):
    assert shop.mutation("shop:markTolerant", {"label": "x"}) == {"caught": {"code": "TALLY_FAILED"}}
    assert shop.query("shop:stats")["orders"] == 1
    assert table(shop, "tallyA", "marks") == []


def test_two_instances_and_their_ids(shop):
    mark = shop.mutation("shop:markIn", {"which": "A", "label": "x"})
    shop.mutation("shop:markIn", {"which": "B", "label": "y"})
    assert [m["label"] for m in table(shop, "tallyA", "marks")] == ["x"]
    assert [m["label"] for m in table(shop, "tallyB", "marks")] == ["y"]
    with pytest.raises(InvalidIdError, match="component 'tallyA'"):
        shop.component("tallyB").run(lambda ctx: ctx.db.get(mark))


def test_identity_does_not_cross_and_internal_functions_stay_inside(shop):
    assert shop.with_identity(subject="ada").query("shop:whoamiInTally") == {"app": "ada", "tally": None}
    with pytest.raises(Exception, match="internal"):
        shop.mutation("shop:callInternal")
    shop.component("tallyA").mutation("lib:mark", {"label": "x"})
    shop.component("tallyA").mutation("lib:wipe")
    assert table(shop, "tallyA", "marks") == []


def test_explorer_sharded_counter_does_not_contend_where_a_naive_counter_does(shop):
    sharded = shop.explore([Op("shop:incrementSharded", {})] * 3)
    sharded.assert_ok()
    naive = shop.explore([Op("shop:incrementNaive", {})] * 3)
    naive.assert_ok()
    assert naive.stats["conflicts"] > sharded.stats["conflicts"]


def test_explorer_over_concurrent_orders_through_npm_components(shop):
    def consistent(ctx):
        stats = ctx.run_query("shop:stats", {})
        return stats["orders"] == stats["counted"] == stats["tallyA"]

    ada = shop.with_identity(subject="ada").identity
    ops = [Op("shop:placeOrder", {"item": item}, identity=ada) for item in "abc"]
    # Shards are picked at random, so compare schedules through the invariant, not whole states.
    result = shop.explore(ops, invariant=consistent, check_serializable=False, max_schedules=60)
    result.assert_ok()
    assert result.schedules_run > 1


def test_function_handles_cross_component_boundaries(shop):
    handle = shop.with_identity(subject="ada").mutation("shop:markWithCallback", {"label": "x"})
    assert handle == "function://shop:recordCallback"
    orders = shop.run(lambda ctx: ctx.db.query("orders").collect())
    assert [(o["user"], o["item"]) for o in orders] == [("nobody", "x")]   # no identity via tally
    assert [m["label"] for m in table(shop, "tallyA", "marks")] == ["called back x"]
    assert shop.mutation("shop:markViaHandle", {"label": "y"}) == "function://tallyB/lib:mark"
    assert [m["label"] for m in table(shop, "tallyB", "marks")] == ["y"]


def test_a_subscription_reruns_on_a_write_inside_a_component(shop):
    sub = shop.subscribe("shop:stats")
    assert sub.value["tallyB"] == 0
    shop.component("tallyB").mutation("lib:mark", {"label": "x"})
    assert sub.value["tallyB"] == 1
    assert len(sub.history) == 2


def test_an_occ_conflict_on_an_npm_components_table(shop):
    fn = shop.runtime.resolve("shop:placeOrder", "mutation")
    first = shop.runtime.begin_mutation(fn, {"item": "a"}, None)
    second = shop.runtime.begin_mutation(fn, {"item": "b"}, None)   # same anonymous limit row
    shop.runtime.commit_mutation(first)
    with pytest.raises(WriteConflict) as conflict:
        shop.runtime.commit_mutation(second)
    assert conflict.value.conflict.read.table == "rateLimiter/rateLimits"


def test_a_typescript_component_using_a_component(shop):
    for label in ("x", "y"):
        shop.mutation("shop:markIn", {"which": "A", "label": label})
    assert shop.component("tallyA").query("lib:counted") == 2
    assert shop.component("tallyA/counter").query("public:count", {"name": "marks"}) == 2
    assert shop.component("tallyB/counter").query("public:count", {"name": "marks"}) == 0
    assert shop.component("shardedCounter").query("public:count", {"name": "marks"}) == 0
    # the failing mark's counter increment is rolled back with it
    shop.mutation("shop:markTolerant", {"label": "z"})
    assert shop.component("tallyA/counter").query("public:count", {"name": "marks"}) == 2


def test_commit_ts_validators_are_int64(shop):
    commit_ts = validator_from_json({"type": "commitTs"}, "test")
    assert commit_ts.check(7, (), lambda _id: None) == 7
    with pytest.raises(Exception, match=r"v\.commitTs\(\)"):
        commit_ts.check(1.5, (), lambda _id: None)
    assert "rateLimiter/batchWorker" in shop.components.by_path   # its schema declares v.commitTs()


def test_workpool_runs_the_apps_mutations_from_inside_the_component(shop):
    shop.mutation("jobs:enqueue", {"count": 5})
    assert shop.query("jobs:done") == []
    jobs = {j["name"] for j in shop.scheduled()}
    assert jobs and all(name.startswith("pool/") for name in jobs)   # the pool's own jobs
    shop.finish_all_scheduled_functions(max_iterations=500)
    assert shop.query("jobs:done") == [0, 1, 2, 3, 4]
    assert shop.run(lambda ctx: ctx.db.system.query("_scheduled_functions").collect()) == []
    assert len(table(shop, "pool", "work")) == 0   # finished work items are cleaned up


def test_aggregate_keeps_count_and_sum(shop):
    for n in (3, 5, 7):
        shop.mutation("scores:add", {"n": n})
    assert shop.query("scores:summary") == {"count": 3, "sum": 15}


def test_aggregate_queued_operations_carry_commit_timestamps(shop):
    scores = shop.component("scores")
    for key in (1.0, 2.0):
        scores.mutation("public:enqueue", {"operation": {"type": "insert", "key": key, "value": "x", "summand": 10.0}})
    queued = table(shop, "scores", "pendingOperations")
    assert [row["commitTs"] for row in queued] == [1, 2]   # each row's own commit
    shop.finish_all_scheduled_functions(max_iterations=500)   # the batch worker applies them
    assert table(shop, "scores", "pendingOperations") == []
    assert shop.query("scores:summary") == {"count": 2, "sum": 20}   # summands 10 + 10


def test_commit_ts_placeholder_becomes_the_commit_timestamp(shop):
    assert shop.mutation("scores:logEvent", {"what": "a"}) == 1   # found its own pending row
    first = shop.db.latest_ts
    shop.mutation("scores:logEvent", {"what": "b"})
    assert shop.query("scores:events") == [[first, "a"], [shop.db.latest_ts, "b"]]


def test_function_metadata_gives_the_component_path(shop):
    meta = shop.component("tallyB").query("lib:whereAmI")
    assert (meta["name"], meta["componentPath"]) == ("lib:whereAmI", "tallyB")


def test_an_edit_inside_a_local_component_reaches_the_next_simulator(ts_components_project, tmp_path):
    """A local component's files are not inputs of the app's bundle; a project loaded again
    still notices an edit inside the component's folder."""
    import os
    import shutil

    def link_or_copy(source: str, target: str) -> None:   # node_modules is big: hard links
        try:
            os.link(source, target)
        except OSError:   # another file system
            shutil.copy2(source, target)

    copy = tmp_path / "app"   # node_modules must sit inside the project
    shutil.copytree(ts_components_project, copy, ignore=shutil.ignore_patterns("node_modules"))
    shutil.copytree(ts_components_project / "node_modules", copy / "node_modules", symlinks=True,
                    copy_function=link_or_copy, ignore=shutil.ignore_patterns(".cache"))
    before = ConvexSim.from_project(copy)
    assert before.query("shop:stats")["tallyA"] == 0
    lib = copy / "tally" / "lib.ts"
    lib.write_text(lib.read_text("utf-8").replace(
        '(await ctx.db.query("marks").collect()).length', '(await ctx.db.query("marks").collect()).length + 100'),
        "utf-8")
    after = ConvexSim.from_project(copy)
    assert after.query("shop:stats")["tallyA"] == 100
    assert before.query("shop:stats")["tallyA"] == 0   # a simulator keeps the code it was made with
