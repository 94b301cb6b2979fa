"""Convex behaviours checked against convex-backend and convex-js, each test naming its source:
pagination cursors bound to their query, reads of missing documents, canceled jobs, optional
fields, jobs scheduled through function handles, default-export names, and behaviours that
are right and stay right. The TypeScript tests run the same through a small project."""

from __future__ import annotations

import httpx
import pytest

from convex_sim import (
    ArgumentValidationError,
    ConvexError,
    ConvexSim,
    HttpRouter,
    Op,
    QueryError,
    ReturnsValidationError,
    ValidationError,
    define_app,
    define_component,
    define_schema,
    define_table,
    v,
)
from convex_sim.functions import (
    FunctionHandle,
    Registry,
    action,
    http_action,
    internal_mutation,
    mutation,
    query,
)
from convex_sim.scheduler import SchedulerError

SCHEMA = define_schema({
    "rows": define_table({"group": v.string(), "n": v.int64(), "keep": v.boolean()})
    .index("by_group", ["group"]),
    "notes": define_table({"text": v.optional(v.string()), "tag": v.optional(v.union(v.string(), v.null()))}),
    "done": define_table({"job": v.string()}),
    "docs": define_table({"embedding": v.array(v.float64())})
    .vector_index("by_embedding", vector_field="embedding", dimensions=3),
})

INVALID_CURSOR = {"isConvexSystemError": True, "paginationError": "InvalidCursor"}


# --- the Python app -------------------------------------------------------------------------


@query(args={"group": v.string(), "keep_only": v.optional(v.boolean()),
             "order": v.optional(v.string()), "opts": v.any()})
def page(ctx, args):
    q = ctx.db.query("rows").with_index("by_group", lambda r: r.eq("group", args["group"]))
    if args.get("keep_only"):
        q = q.filter(lambda f: f.eq(f.field("keep"), True))
    if args.get("order"):
        q = q.order(args["order"])
    result = q.paginate(args["opts"])
    return {**result, "page": [d["n"] for d in result["page"]]}


@query(args={"id": v.id("notes")})
def get_note(ctx, args):
    return ctx.db.get(args["id"])


@mutation(args={"text": v.optional(v.string())})
def echo(ctx, args):
    return args.get("text", "absent")


@mutation(args={"fields": v.any()})
def add_note(ctx, args):
    return ctx.db.insert("notes", args["fields"])


@query(args={}, returns=v.object({"text": v.optional(v.string())}))
def null_for_optional(ctx, args):
    return {"text": None}


@mutation(args={}, returns=v.int64())
def insert_then_bad_return(ctx, args):
    ctx.db.insert("notes", {"text": "kept?"})
    return "not an int"


@mutation(args={})
def start(ctx, args):
    return ctx.scheduler.run_after(0, "j:work", {})


@internal_mutation(args={})
def work(ctx, args):
    ctx.db.insert("done", {"job": "work"})


@mutation(args={})
def stop(ctx, args):
    for job in ctx.db.system.query("_scheduled_functions").collect():
        ctx.scheduler.cancel(job["_id"])


@internal_mutation(args={})
def explode(ctx, args):
    raise ConvexError("BOOM")


@query(args={})
def default(ctx, args):
    return ctx.meta.get_function_metadata()


@http_action
async def http_metadata(ctx, request):
    return httpx.Response(200, json=ctx.meta.get_function_metadata())


def make_sim(**options) -> ConvexSim:
    registry = Registry()
    for path, fn in {"p:page": page, "p:get_note": get_note, "o:echo": echo, "o:add_note": add_note,
                     "o:null_for_optional": null_for_optional,
                     "o:insert_then_bad_return": insert_then_bad_return, "j:start": start,
                     "j:work": work, "j:stop": stop, "j:explode": explode, "m:default": default,
                     "http:metadata": http_metadata}.items():
        registry.register(path, fn)
    router = HttpRouter()
    router.route(path="/metadata", method="GET", handler=http_metadata)
    registry.modules["http"] = type("HttpModule", (), {"http": router})
    return ConvexSim(SCHEMA, registry, seed=0, **options)


@pytest.fixture
def sim() -> ConvexSim:
    sim = make_sim()
    sim.run(lambda ctx: [ctx.db.insert("rows", {"group": g, "n": n, "keep": n % 2 == 0})
                         for g in ("a", "b") for n in range(6)])
    return sim


def pages(sim, group="a", **opts):
    args = {k: opts.pop(k) for k in ("keep_only", "order") if k in opts}
    return sim.query("p:page", {"group": group, **args, "opts": {"cursor": None, **opts}})


# --- 1. a cursor belongs to its query ---------------------------------------------------------


def test_a_cursor_from_another_range_is_an_invalid_cursor(sim):
    """crates/database/src/query/mod.rs ``DeveloperQuery::new_bounded``: the cursor's
    ``query_fingerprint`` (common/src/query.rs ``Query::fingerprint``, a hash of the whole
    query and the index's fields) must equal the query's, else ``invalid_cursor()``: a
    ConvexError whose data says ``paginationError: "InvalidCursor"``."""
    first = pages(sim, "a", num_items=2)
    assert first["page"] == [0, 1]
    with pytest.raises(ConvexError) as refused:
        pages(sim, "b", num_items=2, cursor=first["continue_cursor"])
    assert refused.value.data == INVALID_CURSOR
    assert str(refused.value) == ("InvalidCursor: Tried to run a query starting from a cursor, but "
                                  "it looks like this cursor is from a different query.")
    assert pages(sim, "a", num_items=2, cursor=first["continue_cursor"])["page"] == [2, 3]


@pytest.mark.parametrize("other", [{"keep_only": True}, {"order": "desc"}])
def test_a_cursor_with_another_filter_or_order_is_an_invalid_cursor(sim, other):
    """The fingerprint covers the filters and the order too (``QueryOperator::Filter`` and
    ``IndexRange.order`` are part of the hashed query)."""
    first = pages(sim, "a", num_items=2)
    with pytest.raises(ConvexError) as refused:
        pages(sim, "a", num_items=2, cursor=first["continue_cursor"], **other)
    assert refused.value.data == INVALID_CURSOR
    with pytest.raises(ConvexError):   # the end cursor (a page's split cursor) is checked too
        pages(sim, "a", num_items=2, end_cursor=first["continue_cursor"], **other)


# --- 2. db.get of a missing document is a read ---------------------------------------------------


def test_get_of_a_document_committed_later_conflicts_and_retries(sim):
    """A ``db.get`` reads the ``by_id`` point whether or not a document is there
    (common/src/query.rs ``Query::get``: an index range ``Eq(_id)`` on ``by_id``), so a
    writer creating that document after the reader's snapshot invalidates the reader:
    its mutation is retried and sees the document."""
    writer = sim.db.begin("writer")
    new_id = writer.insert("notes", {"text": "late"})
    seen = []

    def reader(ctx):
        seen.append(ctx.db.get(new_id))
        if writer.commit_ts is None:
            writer.commit()   # between the reader's snapshot and its commit
        ctx.db.insert("done", {"job": "reader"})

    sim.run(reader)
    assert seen[0] is None and seen[1]["text"] == "late" and len(seen) == 2


def test_a_subscription_to_a_missing_document_reruns_when_it_appears(sim):
    writer = sim.db.begin("writer")
    new_id = writer.insert("notes", {"text": "late"})
    sub = sim.subscribe("p:get_note", {"id": new_id})
    assert sub.value is None
    writer.commit()
    assert sub.value["text"] == "late"


# --- 3. a canceled job does not run -----------------------------------------------------------------


def test_a_job_canceled_while_it_runs_is_not_run_on_retry():
    """crates/application/src/scheduled_jobs/mod.rs ``ScheduledJobExecutor::handle_mutation``:
    every attempt begins with ``new_transaction_for_job_state``, which reads the job in the
    transaction that runs it and stops unless it is still as scheduled (pending). A cancel
    committed while the job ran makes it conflict; its retry sees ``canceled`` and stops."""
    sim = make_sim()

    def canceled_jobs_did_not_run(ctx):
        states = [j["state"]["kind"] for j in ctx.db.system.query("_scheduled_functions").collect()]
        return not ("canceled" in states and ctx.db.query("done").collect())

    result = sim.explore([Op("j:start", {}), Op("j:stop", {})], invariant=canceled_jobs_did_not_run)
    result.assert_ok()
    assert result.distinct_outcomes >= 2   # the job ran in some schedules, was canceled in others


# --- 4. v.optional does not accept null ------------------------------------------------------------


def test_optional_fields_refuse_null():
    """crates/common/src/schemas/validator.rs ``Validator::check_value_internal``: a present
    object field is checked against its validator; ``optional`` only allows it to be absent
    (convex-js validator.ts ``VOptional``: ``isOptional: "optional"`` on the inner type)."""
    sim = make_sim()
    assert sim.mutation("o:echo", {}) == "absent"
    with pytest.raises(ArgumentValidationError, match=r"Path: \.text.*v\.string\(\)"):
        sim.mutation("o:echo", {"text": None})
    with pytest.raises(ValidationError, match="does not match the schema"):
        sim.mutation("o:add_note", {"fields": {"text": None}})
    with pytest.raises(ReturnsValidationError):
        sim.query("o:null_for_optional")
    note = sim.mutation("o:add_note", {"fields": {"tag": None}})   # v.optional(v.union(..., v.null()))
    with pytest.raises(ValidationError, match="does not match the schema"):
        sim.run(lambda ctx: ctx.db.patch(note, {"text": None}))


# --- 5. a job scheduled through a handle belongs to the caller ---------------------------------------


@mutation(args={"label": v.string()})
def mark(ctx, args):
    return ctx.db.insert("marks", {"label": args["label"]})


@mutation(args={"delay": v.float64()})
def later_through_handle(ctx, args):
    return ctx.scheduler.run_after(args["delay"], FunctionHandle("tally/lib:mark"), {"label": "x"})


@action(args={"job": v.string()})
async def cancel_from_action(ctx, args):
    await ctx.scheduler.cancel(args["job"])


def component_sim() -> ConvexSim:
    tally = define_component("tally", schema=define_schema({"marks": define_table({"label": v.string()})}),
                             modules=Registry({"lib:mark": mark, "lib:cancel": cancel_from_action}))
    app = define_app()
    app.use(tally, name="tally")
    return ConvexSim(None, Registry({"a:later": later_through_handle}), app=app)


def test_a_job_scheduled_through_a_handle_is_the_callers():
    """crates/isolate/src/environment/udf/async_syscall.rs ``schedule``: the job is written by
    ``VirtualSchedulerModel::new(tx, scheduling_component)``, the *caller's* component, whatever
    component the handle's function lives in; so the caller sees and may cancel it."""
    sim = component_sim()
    jobs = lambda ctx: [j["_id"] for j in ctx.db.system.query("_scheduled_functions").collect()]  # noqa: E731
    canceled = sim.mutation("a:later", {"delay": 1000.0})
    ran = sim.mutation("a:later", {"delay": 1000.0})
    assert sim.run(jobs) == [canceled, ran]
    assert sim.component("tally").run(jobs) == []
    assert sim.component("tally").run(lambda ctx: ctx.db.system.get(ran)) is None
    sim.run(lambda ctx: ctx.scheduler.cancel(canceled))
    sim.advance_time(1000)
    marks = sim.component("tally").run(lambda ctx: ctx.db.query("marks").collect())
    assert [m["label"] for m in marks] == ["x"]   # it still runs in the component
    assert [j["state"]["kind"] for j in sim.scheduled()] == ["canceled", "success"]


def test_an_action_cannot_cancel_another_components_job():
    """As a mutation cannot (scheduler.rs ``cancel`` checks the job belongs to the caller's
    component, ``VirtualSchedulerModel``): from an action, the component's job is not found."""
    sim = component_sim()
    job = sim.mutation("a:later", {"delay": 1000.0})
    with pytest.raises(SchedulerError, match=f'no scheduled function "{job}"'):
        sim.component("tally").action("lib:cancel", {"job": job})
    assert [j["state"]["kind"] for j in sim.scheduled()] == ["pending"]


# --- 6. names of default exports and HTTP actions ---------------------------------------------------


def test_a_path_without_an_export_name_means_the_default_export():
    """crates/convex/sync_types/src/udf_path.rs: ``UdfPath::canonicalize`` fills a missing
    function name with ``default``; ``CanonicalizedUdfPath::strip`` drops it again, which is
    the name ``1.0/getFunctionMetadata`` returns (udf/async_syscall.rs ``function_metadata``)."""
    sim = make_sim()
    assert sim.query("m") == sim.query("m:default")
    assert sim.query("m")["name"] == "m"


def test_an_http_action_is_named_http():
    """crates/application/src/application_function_runner/http_routing.rs: every HTTP action
    runs as ``http.js:default`` (model/src/modules ``HTTP_MODULE_PATH``), so its stripped name
    is ``http``."""
    meta = make_sim().fetch("/metadata").json()
    assert meta["name"] == "http" and meta["type"] == "action"


# --- 7. behaviours that are right, pinned ---------------------------------------------------------------


def test_a_mutation_whose_return_value_fails_validation_is_rolled_back():
    """udf/mod.rs: the return value is validated before the transaction commits; a failure is
    the function's error, and its writes are discarded."""
    sim = make_sim()
    with pytest.raises(ReturnsValidationError):
        sim.mutation("o:insert_then_bad_return")
    assert sim.run(lambda ctx: ctx.db.query("notes").collect()) == []


def test_fractional_num_items_is_refused(sim):
    """udf/async_syscall.rs ``query_page``: ``numItems`` must be a whole number of at least 1
    (0 is refused too: tests/test_fidelity_pagination.py)."""
    with pytest.raises(QueryError, match="num_items must be an int > 0"):
        pages(sim, num_items=1.5)


def test_take_zero_reads_no_index_range(sim):
    """convex-js query_impl.ts ``take``: ``take(0)`` returns ``[]`` without starting the query
    stream, so no index range is read."""
    def used(ctx, keep_only):
        q = ctx.db.query("rows").with_index("by_group", lambda r: r.eq("group", "a"))
        if keep_only:
            q = q.filter(lambda f: f.eq(f.field("keep"), True))
        assert q.take(0) == []
        return ctx.meta.get_transaction_metrics()["database_queries"]["used"]

    assert sim.run(lambda ctx: used(ctx, False)) == 0
    assert sim.run(lambda ctx: used(ctx, True)) == 0


def test_vector_search_limit_out_of_range_is_refused():
    """Convex limits: a vector search's limit is 1 to 256 (the dimension check is pinned in
    tests/test_search.py ``test_vector_search``)."""
    from convex_sim.database import Database
    from convex_sim.queries import vector_search

    txn = Database(SCHEMA, seed=0).begin("t")
    for limit in (0, 257):
        with pytest.raises(QueryError, match="limit must be an int from 1 to 256"):
            vector_search(txn, "docs", "by_embedding", {"vector": [1.0, 0.0, 0.0], "limit": limit})


def test_a_failed_job_gets_its_error_and_completed_time():
    """model/src/scheduled_jobs ``SchedulerModel::complete``: ``Failed(error)`` with
    ``completed_ts`` set, shown as ``completedTime``."""
    sim = make_sim()
    sim.run(lambda ctx: ctx.scheduler.run_after(5, "j:explode", {}))
    sim.finish_all_scheduled_functions(allow_failures=True)
    (job,) = sim.scheduled()
    assert job["state"]["kind"] == "failed" and "BOOM" in job["state"]["error"]
    assert job["completed_time"] >= job["scheduled_time"]


# --- the same through a TypeScript app -----------------------------------------------------------

TS_FILES = {
    "convex/schema.ts": """
        import { defineSchema, defineTable } from "convex/server";
        import { v } from "convex/values";
        export default defineSchema({
          rows: defineTable({ group: v.string(), n: v.number() }).index("by_group", ["group"]),
          notes: defineTable({ text: v.optional(v.string()) }),
        });
    """,
    "convex/convex.config.ts": """
        import { defineApp } from "convex/server";
        import tally from "../tally/convex.config";
        const app = defineApp();
        app.use(tally, { name: "tallyA" });
        app.use(tally, { name: "tallyB" });
        export default app;
    """,
    "tally/convex.config.ts": """
        import { defineComponent } from "convex/server";
        export default defineComponent("tally");
    """,
    "tally/schema.ts": """
        import { defineSchema, defineTable } from "convex/server";
        import { v } from "convex/values";
        export default defineSchema({ marks: defineTable({ label: v.string() }) });
    """,
    "tally/lib.ts": """
        import { mutationGeneric as mutation, queryGeneric as query } from "convex/server";
        import { ConvexError, v } from "convex/values";
        export const mark = mutation({
          args: { label: v.string(), fail: v.boolean() },
          handler: async (ctx, { label, fail }) => {
            await ctx.db.insert("marks", { label });
            if (fail) throw new ConvexError("TALLY_FAILED");
          },
        });
        export const count = query({ args: {}, handler: async (ctx) => (await ctx.db.query("marks").collect()).length });
    """,
    "convex/app.ts": """
        import { componentsGeneric, paginationOptsValidator } from "convex/server";
        import { v } from "convex/values";
        import { mutation, query } from "./_generated/server";
        const components = componentsGeneric() as any;

        export const page = query({
          args: { group: v.string(), keepBig: v.boolean(), paginationOpts: paginationOptsValidator },
          handler: async (ctx, { group, keepBig, paginationOpts }) => {
            const q = ctx.db.query("rows").withIndex("by_group", (r) => r.eq("group", group));
            return await (keepBig ? q.filter((f) => f.gt(f.field("n"), 2)) : q).paginate(paginationOpts);
          },
        });

        export const echo = mutation({
          args: { text: v.optional(v.string()) },
          handler: async (_ctx, { text }) => text ?? "absent",
        });

        export const addNote = mutation({
          args: { fields: v.any() },
          handler: async (ctx, { fields }) => await ctx.db.insert("notes", fields),
        });

        export const markBoth = mutation({
          args: { failB: v.boolean() },
          handler: async (ctx, { failB }) => {
            await ctx.db.insert("notes", { text: "app" });
            await Promise.all([
              ctx.runMutation(components.tallyA.lib.mark, { label: "a", fail: false }),
              ctx.runMutation(components.tallyB.lib.mark, { label: "b", fail: failB }),
            ]);
          },
        });

        export const counts = query({
          args: {},
          handler: async (ctx) => ({
            notes: (await ctx.db.query("notes").collect()).length,
            a: await ctx.runQuery(components.tallyA.lib.count, {}),
            b: await ctx.runQuery(components.tallyB.lib.count, {}),
          }),
        });
    """,
    "convex/named.ts": """
        import { query } from "./_generated/server";
        export default query({ args: {}, handler: async (ctx) => await ctx.meta.getFunctionMetadata() });
    """,
    "convex/http.ts": """
        import { httpRouter } from "convex/server";
        import { httpAction } from "./_generated/server";
        const http = httpRouter();
        http.route({
          path: "/metadata",
          method: "GET",
          handler: httpAction(async (ctx) => new Response(JSON.stringify(await ctx.meta.getFunctionMetadata()))),
        });
        export default http;
    """,
}


@pytest.fixture(scope="module")
def ts_project(tmp_path_factory, ts_bank_project):
    from tests.conftest import _make_project
    return _make_project(tmp_path_factory.mktemp("round2"), ts_bank_project, TS_FILES)


@pytest.fixture
def ts_app(ts_project) -> ConvexSim:
    sim = ConvexSim.from_project(ts_project, seed=0)
    sim.run(lambda ctx: [ctx.db.insert("rows", {"group": g, "n": float(n)}) for g in "ab" for n in range(6)])
    return sim


def test_invalid_cursor_from_typescript(ts_app):
    """``1.0/queryPage`` (convex-js query_impl.ts ``paginate``) with a cursor of another range or
    filter: Convex's InvalidCursor ConvexError."""
    def page(group, cursor, keep_big=False):
        return ts_app.query("app:page", {"group": group, "keepBig": keep_big,
                                         "paginationOpts": {"numItems": 2, "cursor": cursor}})

    first = page("a", None)
    assert [r["n"] for r in page("a", first["continueCursor"])["page"]] == [2.0, 3.0]
    for group, keep_big in (("b", False), ("a", True)):
        with pytest.raises(ConvexError) as refused:
            page(group, first["continueCursor"], keep_big)
        assert refused.value.data == INVALID_CURSOR


def test_optional_refuses_null_from_typescript(ts_app):
    assert ts_app.mutation("app:echo", {}) == "absent"
    with pytest.raises(ArgumentValidationError, match=r"Path: \.text"):
        ts_app.mutation("app:echo", {"text": None})
    with pytest.raises(ValidationError, match="does not match the schema"):
        ts_app.mutation("app:addNote", {"fields": {"text": None}})


def test_default_export_and_http_action_names_from_typescript(ts_app):
    """The same names through ``1.0/getFunctionMetadata``: ``named`` for ``named:default``,
    ``http`` in an HTTP action."""
    assert ts_app.query("named") == ts_app.query("named:default")
    assert ts_app.query("named")["name"] == "named"
    assert ts_app.fetch("/metadata").json()["name"] == "http"


def test_a_failed_branch_of_parallel_component_calls_rolls_back_everything(ts_app):
    """``Promise.all`` of two component mutations, one throwing: the error reaches the caller,
    which does not catch it, so the whole transaction is discarded, the other component's
    writes and the app's included (udf/mod.rs: a mutation that throws commits nothing)."""
    with pytest.raises(ConvexError):
        ts_app.mutation("app:markBoth", {"failB": True})
    assert ts_app.query("app:counts") == {"notes": 0.0, "a": 0.0, "b": 0.0}
    ts_app.mutation("app:markBoth", {"failB": False})
    assert ts_app.query("app:counts") == {"notes": 1.0, "a": 1.0, "b": 1.0}


META_TS = """
    import { log, query, mutation } from "./_generated/server";
    import { log as auditLog } from "convex/server";

    export const deployment = query({ args: {}, handler: async (ctx) =>
      await ctx.meta.getDeploymentMetadata() });
    export const audited = mutation({ args: {}, handler: async () => {
      await auditLog.audit({ action: "export", rows: 3 });
      return "done";
    } });
"""


def test_deployment_metadata_and_audit_log_from_typescript(make_project):
    """``1.0/getDeploymentMetadata`` (convex-js ``server/impl/meta_impl.js``) and ``1.0/auditLog`` (``server/audit_logging.js``, the
    ``log.audit`` of ``convex/server``) are real syscalls: answered, never unsupported."""
    project = make_project({"convex/meta.ts": META_TS.replace("log, query", "query")})
    sim = ConvexSim.from_project(project)
    deployment = sim.query("meta:deployment", {})
    assert set(deployment) >= {"name", "region"} and isinstance(deployment["name"], str)
    assert sim.mutation("meta:audited", {}) == "done"
    assert any('[AUDIT] meta:audited: {"action": "export", "rows": 3' in line
               for call in sim.calls for line in getattr(call, "logs", ()))
