"""Components: isolation, one transaction across app and components, instances, nesting."""

from __future__ import annotations

import pytest

from convex_sim import (
    ComponentError,
    ConvexError,
    ConvexSim,
    ConvexSimError,
    InvalidIdError,
    Op,
    SchedulerError,
    UnknownTableError,
    WrongFunctionKindError,
    components,
    define_app,
    define_component,
    define_schema,
    define_table,
    v,
)
from convex_sim.database import WriteConflict
from convex_sim.files import StorageError
from convex_sim.functions import FunctionNotFoundError, Registry, action, query
from convex_sim.runtime import ArgumentValidationError
from scenarios.components_demo.app.schema import schema
from scenarios.components_demo.audit import lib as audit_lib

APP = "scenarios.components_demo.app"


@pytest.fixture
def sim() -> ConvexSim:
    return ConvexSim(schema, modules=APP)


def audit_entries(sim: ConvexSim) -> list[str]:
    return [e["what"] for e in sim.component("audit").run(lambda ctx: ctx.db.query("entries").collect())]


# --- isolation ----------------------------------------------------------------------------


def test_app_and_component_tables_of_the_same_name_are_separate(sim):
    sim.mutation("counters:incr_sharded")
    sim.mutation("counters:incr_sharded")
    assert sim.query("counters:peek", {"table": "counters"}) == 0   # the app's own, empty
    shards = sim.component("counter").run(lambda ctx: ctx.db.query("counters").collect())
    assert sum(d["value"] for d in shards) == 2.0
    assert sim.query("counters:totals") == {"naive": 0, "sharded": 2.0}


@pytest.mark.parametrize("table", ["entries", "audit/entries", "counter/counters"])
def test_app_cannot_read_component_tables_by_name(sim, table):
    sim.mutation("shop:place_order", {"item": "tea"})
    with pytest.raises(UnknownTableError):
        sim.query("counters:peek", {"table": table})


def test_component_db_sees_only_its_own_tables(sim):
    with pytest.raises(UnknownTableError, match=r'"orders" is not declared in the schema of component .audit. \(tables: entries\)'):
        sim.component("audit").run(lambda ctx: ctx.db.query("orders").collect())


def test_an_id_from_one_component_is_rejected_by_another(sim):
    entry = sim.component("audit").mutation("lib:record", {"what": "x"})
    order = sim.mutation("shop:place_order", {"item": "tea"})
    with pytest.raises(InvalidIdError, match=r"table \"entries\" of component 'audit'; component 'counter'"):
        sim.component("counter").run(lambda ctx: ctx.db.get(entry))
    with pytest.raises(InvalidIdError, match="the app can access only its own tables"):
        sim.run(lambda ctx: ctx.db.get(entry))
    with pytest.raises(InvalidIdError, match="of the app; component 'audit'"):
        sim.component("audit").query("lib:get_any", {"id": order})
    with pytest.raises(InvalidIdError):
        sim.component("audit").run(lambda ctx: ctx.db.patch(order, {"item": "x"}))
    with pytest.raises(ArgumentValidationError, match="entries"):   # v.id("entries") in the component
        sim.component("audit").query("lib:get", {"id": order})
    assert sim.component("audit").query("lib:get", {"id": entry})["what"] == "x"


def test_identity_does_not_cross_into_a_component(sim):
    ada = sim.with_identity(subject="ada")
    seen = ada.run(lambda ctx: (ctx.auth.get_user_identity().subject,
                                ctx.run_query(components.audit.lib.whoami, {})))
    assert seen == ("ada", None)


def test_only_public_functions_of_installed_components_are_callable(sim):
    with pytest.raises(ComponentError, match="lib:wipe of component 'audit' is internal"):
        sim.run(lambda ctx: ctx.run_mutation(components.audit.lib.wipe, {}))
    with pytest.raises(ComponentError, match="installs no component 'tally'"):
        sim.run(lambda ctx: ctx.run_query(components.tally.lib.count, {"name": "entries"}))
    with pytest.raises(ComponentError, match=r"through components\.<name>"):   # by full path
        sim.run(lambda ctx: ctx.run_query("audit/lib:count", {}))
    with pytest.raises(WrongFunctionKindError, match="function of component 'audit'"):   # not from clients
        sim.client().query("audit/lib:count", {})
    with pytest.raises(ConvexSimError, match="subscribe to an app query"):
        sim.component("audit").subscribe("lib:count")
    sim.component("audit").mutation("lib:record", {"what": "x"})
    sim.component("audit").mutation("lib:wipe")   # the test handle may, as for internal functions
    assert audit_entries(sim) == []


def test_a_components_scheduled_functions_run_in_the_component(sim):
    sim.component("audit").mutation("lib:record_later", {"what": "later", "delay_ms": 1000.0})
    assert [j["name"] for j in sim.scheduled()] == ["audit/lib:record"]
    assert audit_entries(sim) == []
    sim.advance_time(1000)
    assert audit_entries(sim) == ["later"]
    assert sim.scheduled()[0]["state"] == {"kind": "success"}
    assert sim.query("shop:stats")["audited"] == 1.0


def test_scheduled_functions_are_visible_and_cancelable_only_by_their_owner(sim):
    job = sim.component("audit").mutation("lib:record_later", {"what": "later", "delay_ms": 1000.0})
    app_job = sim.run(lambda ctx: ctx.scheduler.run_after(500, "counters:incr_naive", {}))
    jobs = lambda ctx: [j["name"] for j in ctx.db.system.query("_scheduled_functions").collect()]  # noqa: E731
    assert sim.run(jobs) == ["counters:incr_naive"]
    assert sim.component("audit").run(jobs) == ["audit/lib:record"]
    assert sim.component("audit").run(lambda ctx: ctx.db.system.get(app_job)) is None
    with pytest.raises(SchedulerError, match="no scheduled function"):
        sim.run(lambda ctx: ctx.scheduler.cancel(job))
    sim.component("audit").run(lambda ctx: ctx.scheduler.cancel(job))
    sim.advance_time(1000)
    assert audit_entries(sim) == []
    assert sim.query("counters:totals")["naive"] == 1


def test_a_components_files_are_its_own(sim):
    @action(args={})
    async def store(ctx, args):
        return await ctx.storage.store(b"component bytes", "text/plain")

    @action(args={"id": v.string()})
    async def read(ctx, args):
        return await ctx.storage.get(args["id"])

    files = define_component("files", modules=Registry({"lib:store": store, "lib:read": read}))
    app = define_app()
    app.use(files, name="files")
    other = ConvexSim(None, app=app)
    mine = other.component("files").action("lib:store")
    theirs = other.run(lambda ctx: ctx.db.system.query("_storage").collect())
    assert theirs == []                                   # the app's _storage is empty
    rows = other.component("files").run(lambda ctx: ctx.db.system.query("_storage").collect())
    assert [r["_id"] for r in rows] == [mine]
    assert other.component("files").action("lib:read", {"id": mine}) == b"component bytes"
    with pytest.raises(StorageError, match="is a file of component 'files'"):
        other.run(lambda ctx: ctx.storage.get_url(mine))
    assert other.run(lambda ctx: ctx.db.system.get(mine)) is None
    url = other.component("files").run(lambda ctx: ctx.storage.get_url(mine))
    assert other.fetch(url).content == b"component bytes"   # its URL serves it
    app_file = other.run(lambda ctx: ctx.storage.generate_upload_url())
    uploaded = other.fetch(app_file, "POST", content=b"app bytes").json()["storageId"]
    assert other.component("files").action("lib:read", {"id": uploaded}) is None


def test_function_metadata_names_the_component(sim):
    meta = sim.component("audit/tally").run(lambda ctx: ctx.meta.get_function_metadata())
    assert meta["component_path"] == "audit/tally"


# --- one transaction ----------------------------------------------------------------------


def test_app_and_component_writes_roll_back_together(sim):
    with pytest.raises(ConvexError):
        sim.with_identity(subject="ada").mutation("shop:place_order", {"item": "tea", "fail": True})
    assert sim.query("shop:stats") == {"orders": 0, "counted": 0.0, "audited": 0.0}
    assert audit_entries(sim) == []
    assert sim.component("limiter_a").run(lambda ctx: ctx.db.query("rate_limits").collect()) == []


def test_a_failing_component_mutation_rolls_back_only_its_own_writes(sim):
    result = sim.mutation("shop:place_order_tolerating_audit_failure", {"item": "tea"})
    assert result["audit_error"] == {"code": "AUDIT_DOWN"}
    assert sim.query("shop:stats")["orders"] == 1
    assert audit_entries(sim) == []


def test_an_occ_conflict_on_a_component_table(sim):
    fn = sim.runtime.resolve("shop:limit_in", "mutation")
    first = sim.runtime.begin_mutation(fn, {"bucket": "a"}, None)
    second = sim.runtime.begin_mutation(fn, {"bucket": "a"}, None)
    sim.runtime.commit_mutation(first)
    with pytest.raises(WriteConflict) as conflict:
        sim.runtime.commit_mutation(second)
    assert conflict.value.conflict.write.table == "limiter_a/rate_limits"


def test_a_write_inside_a_component_reruns_a_subscription(sim):
    sub = sim.subscribe("shop:stats")
    assert sub.value["audited"] == 0.0
    sim.component("audit").mutation("lib:record", {"what": "x"})   # writes audit/tally's shards
    assert sub.value["audited"] == 1.0
    assert len(sub.history) == 2


# --- instances and nesting ------------------------------------------------------------------


def test_two_instances_of_one_component_hold_separate_data(sim):
    assert sim.mutation("shop:limit_in", {"bucket": "a"})["ok"] is True
    assert sim.mutation("shop:limit_in", {"bucket": "a"})["ok"] is False
    assert sim.mutation("shop:limit_in", {"bucket": "b"})["ok"] is True
    rows = {name: sim.component(name).run(lambda ctx: ctx.db.query("rate_limits").collect())
            for name in ("limiter_a", "limiter_b")}
    assert [r["value"] for r in rows["limiter_a"]] == [0.0] and len(rows["limiter_b"]) == 1


def test_a_component_using_a_component(sim):
    for item in ("tea", "cake"):
        sim.mutation("shop:place_order", {"item": item})
    assert sim.query("shop:stats") == {"orders": 2, "counted": 2.0, "audited": 2.0}
    assert sim.component("audit/tally").query("lib:count", {"name": "entries"}) == 2.0
    assert sim.component("counter").query("lib:count", {"name": "entries"}) == 0.0   # another instance


def test_the_app_configuration_can_be_passed_explicitly():
    box = define_component("box", schema=define_schema({"items": define_table({"n": v.int64()})}),
                           modules=Registry())
    app = define_app()
    app.use(box, name="left")
    app.use(box, name="right")
    sim = ConvexSim(None, app=app)
    sim.component("left").run(lambda ctx: ctx.db.insert("items", {"n": 1}))
    assert sim.component("right").run(lambda ctx: ctx.db.query("items").collect()) == []
    with pytest.raises(ComponentError, match="installed: \\['left', 'right'\\]"):
        sim.component("middle")


def test_definition_errors_are_clear():
    box = define_component("box")
    app = define_app()
    app.use(box)
    with pytest.raises(Exception, match="already installed as 'box'"):
        app.use(box)
    with pytest.raises(Exception, match="identifier"):
        define_component("my-box")
    with pytest.raises(Exception, match="would install itself"):
        box.use(box)


# --- the explorer across app and components ---------------------------------------------------


def test_explorer_sharded_counter_never_loses_an_increment_and_does_not_contend(sim):
    sharded = sim.explore([Op("counters:incr_sharded", {})] * 3)
    sharded.assert_ok()
    assert sharded.distinct_outcomes == 1
    assert sharded.stats["conflicts"] == 0
    naive = sim.explore([Op("counters:incr_naive", {})] * 3)
    naive.assert_ok()
    assert naive.stats["conflicts"] > 0    # every increment rewrites the one document
    for _ in range(3):
        sim.mutation("counters:incr_sharded")
    assert sim.query("counters:totals")["sharded"] == 3.0


def test_explorer_checks_invariants_over_component_state(sim):
    def counted_matches_orders(ctx):
        stats = ctx.run_query("shop:stats", {})
        return stats["orders"] == stats["counted"] == stats["audited"]

    ada, bob = sim.with_identity(subject="ada").identity, sim.with_identity(subject="bob").identity
    ops = [Op("shop:place_order", {"item": "a"}, identity=ada), Op("shop:place_order", {"item": "b"}, identity=ada),
           Op("shop:place_order", {"item": "c"}, identity=bob)]
    # The counters pick shards at random, so a retried order may land in another shard than
    # in a serial run: compare through the invariant, not whole states.
    result = sim.explore(ops, invariant=counted_matches_orders, check_serializable=False)
    result.assert_ok()
    assert result.schedules_run > 1


def test_component_actions_and_scheduling_into_components(sim):
    @action(args={"what": v.string()})
    async def record_twice(ctx, args):
        for suffix in ("1", "2"):
            await ctx.run_mutation(components.audit.lib.record, {"what": args["what"] + suffix})
        return await ctx.run_query("lib:count_audit", {})   # its own function, by path

    @query(args={})
    def count_audit(ctx, args):
        return ctx.run_query(components.audit.lib.count, {})

    box = define_component("box", modules=Registry({"lib:record_twice": record_twice,
                                                    "lib:count_audit": count_audit}))
    box.use(sim.components.instance("audit").definition, name="audit")
    app = define_app()
    app.use(box, name="box")
    other = ConvexSim(None, app=app)
    assert other.action(components.box.lib.record_twice, {"what": "x"}) == 2.0
    assert other.component("box/audit").query("lib:count") == 2.0
    with pytest.raises(FunctionNotFoundError, match="In component 'box'"):
        other.component("box").query("lib:nope")
    # the app schedules a component's public function; it runs inside the component
    assert sim.run(lambda ctx: ctx.scheduler.run_after(10, components.audit.lib.record, {"what": "s"}))
    sim.advance_time(10)
    assert audit_entries(sim) == ["s"]


def test_function_objects_resolve_where_they_live(sim):
    with pytest.raises(ComponentError, match="not a function of the app"):
        sim.query(audit_lib.count)    # the component's own module, not the app's "lib:count"
    clone = sim.components.instance("audit").registry.functions["lib:count"]
    assert sim.query(clone) == 0.0    # an installed copy resolves by its full path
    with pytest.raises(ComponentError, match="through components"):
        sim.run(lambda ctx: ctx.run_query(clone, {}))


def test_component_names_may_not_be_app_module_folders():
    @query(args={})
    def f(ctx, args):
        return 1

    box = define_component("box")
    app = define_app()
    app.use(box, name="box")
    assert ConvexSim(None, Registry({"box:f": f}), app=app).query("box:f") == 1   # a module named box is fine
    with pytest.raises(ConvexSimError, match="module folder 'box'"):
        ConvexSim(None, Registry({"box/lib:f": f}), app=app)
