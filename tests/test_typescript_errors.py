"""Errors from TypeScript functions point at the app's own `.ts` line, and pytest shows none of
convex-sim's frames: syscall failures, wrong-context calls, un-awaited calls, JS exceptions."""

import shutil
import textwrap

import pytest

from convex_sim import ConvexError, ConvexSim, ConvexSimError
from convex_sim.errors import (
    InvalidIdError,
    LimitExceededError,
    ValidationError,
    WriteInReadOnlyError,
    WrongContextError,
)
from convex_sim.js import JsError
from convex_sim.steps import UnawaitedCallError

SCHEMA_TS = """
    import { defineSchema, defineTable } from "convex/server";
    import { v } from "convex/values";
    export default defineSchema({
      events: defineTable({ kind: v.string(), detail: v.string() }),
      items: defineTable({ name: v.string(), stock: v.number() }),
    });
"""

INVENTORY_TS = """
    import { action, mutation, query } from "./_generated/server";
    import { api } from "./_generated/api";
    import { ConvexError, v } from "convex/values";

    async function addItem(ctx: any, name: string) {
      return await ctx.db.insert("items", { name, stock: 1 });
    }

    export const restock = mutation({ args: { amount: v.number() }, handler: async (ctx, args) => {
      return args.amount;
    } });

    export const badEvent = mutation({ args: {}, handler: async (ctx) => {
      await ctx.db.insert("events", { kind: "restock", detail: 42 }); // @insert
    } });

    export const badPatch = mutation({ args: {}, handler: async (ctx) => {
      const id = await addItem(ctx, "bolt");
      await ctx.db.patch(id, { stock: "many" }); // @patch
    } });

    export const badReplace = mutation({ args: {}, handler: async (ctx) => {
      const id = await addItem(ctx, "bolt");
      await ctx.db.replace(id, { name: "bolt" }); // @replace
    } });

    export const patchMissing = mutation({ args: { id: v.id("items") }, handler: async (ctx, args) => {
      await ctx.db.patch(args.id, { stock: 2 }); // @missing
    } });

    export const deleteMissing = mutation({ args: { id: v.id("items") }, handler: async (ctx, args) => {
      await ctx.db.delete(args.id); // @deletemissing
    } });

    export const getWrongTable = query({ args: { id: v.id("items") }, handler: async (ctx, args) => {
      return await ctx.db.get("events", args.id); // @wrongtable
    } });

    export const fill = mutation({ args: {}, handler: async (ctx) => {
      for (const name of ["a", "b", "c"]) {
        await addItem(ctx, name); // @limit
      }
    } });

    export const callBadArgs = mutation({ args: {}, handler: async (ctx) => {
      await ctx.runMutation(api.inventory.restock, { amount: "ten" }); // @args
    } });

    export const throws = mutation({ args: {}, handler: async () => {
      throw new Error("boom"); // @throw
    } });

    export const soldOut = mutation({ args: {}, handler: async () => {
      throw new ConvexError({ code: "SOLD_OUT" }); // @convexerror
    } });

    export const forgets = action({ args: {}, handler: async (ctx) => {
      ctx.runMutation(api.inventory.restock, { amount: 1 }); // @unawaited
      return "done";
    } });

    export const stock = query({ args: {}, handler: async (ctx) => {
      await ctx.db.insert("items", { name: "x", stock: 1 }); // @queryinsert
    } });

    export const queryDeletes = query({ args: { id: v.id("items") }, handler: async (ctx, args) => {
      await ctx.db.delete(args.id); // @querydelete
    } });

    export const queryRunsMutation = query({ args: {}, handler: async (ctx) => {
      return await ctx.runMutation(api.inventory.restock, { amount: 1 }); // @querymutation
    } });

    export const querySchedules = query({ args: {}, handler: async (ctx) => {
      await ctx.scheduler.runAfter(0, api.inventory.restock, { amount: 1 }); // @queryscheduler
    } });

    export const mutationRunsAction = mutation({ args: {}, handler: async (ctx) => {
      await ctx.runAction(api.inventory.forgets, {}); // @mutationaction
    } });

    export const multiLine = query({ args: {}, handler: async (ctx) => {
      const amount = 1;
      return await ctx.runMutation( // @multiline
        api.inventory.restock,
        { amount },
      );
    } });

    export const notCtx = query({ args: {}, handler: async (ctx) => {
      const doc = await ctx.db.query("items").first();
      const tool: any = {};
      return tool.insert(doc); // @notctx
    } });

    export const catches = query({ args: {}, handler: async (ctx) => {
      try {
        await ctx.db.insert("items", { name: "x", stock: 1 });
      } catch (e) {
        return "caught " + (e as Error).name;
      }
    } });

    export const unawaitedWrites = mutation({ args: { id: v.id("items") }, handler: async (ctx, args) => {
      ctx.db.patch(args.id, { stock: 5 });
      ctx.scheduler.runAfter(0, api.inventory.restock, { amount: 1 });
      ctx.db.insert("events", { kind: "late", detail: "not awaited" });
      const read = ctx.db.get(args.id);
      return read instanceof Promise ? "a promise" : "not a promise";
    } });
"""


NODE_TS = """
    "use node";
    import { action } from "./_generated/server";
    import { api } from "./_generated/api";

    export const forgets = action({ args: {}, handler: async (ctx) => {
      ctx.runMutation(api.inventory.restock, { amount: 1 }); // @nodeunawaited
      return "done";
    } });

    export const badArgs = action({ args: {}, handler: async (ctx) => {
      await ctx.runMutation(api.inventory.restock, { amount: "ten" }); // @nodeargs
    } });
"""


def where(marker: str, source: str = INVENTORY_TS, file: str = "convex/inventory.ts") -> str:
    """``convex/inventory.ts:LINE:`` of the line holding ``// @marker``."""
    lines = textwrap.dedent(source).splitlines()
    (number,) = [i for i, line in enumerate(lines, start=1) if line.endswith(f"// @{marker}")]
    return f"{file}:{number}:"


def notes(exc: BaseException) -> str:
    return "\n".join([str(exc), *getattr(exc, "__notes__", ())])


@pytest.fixture
def inventory(make_project):
    return make_project({"convex/schema.ts": SCHEMA_TS, "convex/inventory.ts": INVENTORY_TS})


@pytest.fixture
def sim(inventory):
    return ConvexSim.from_project(inventory, seed=0)


def _item(sim):
    return sim.run(lambda ctx: ctx.db.insert("items", {"name": "nut", "stock": 3.0}))


@pytest.mark.parametrize(("function", "marker", "error", "words"), [
    ("badEvent", "insert", ValidationError, ['"events"', "Path: .detail", "v.string()"]),
    ("badPatch", "patch", ValidationError, ["Path: .stock"]),
    ("badReplace", "replace", ValidationError, ["stock"]),
    ("fill", "limit", LimitExceededError, ["documents written"]),
    ("callBadArgs", "args", ValidationError, ["inventory:restock", "Path: .amount"]),
])
def test_a_failed_syscall_names_the_ts_line_of_the_call(sim, function, marker, error, words):
    if function == "fill":
        sim = ConvexSim.from_project(sim.project, seed=0, transaction_limits={"documents_written": 2})
    with pytest.raises(error) as caught:
        sim.mutation(f"inventory:{function}", {})
    text = notes(caught.value)
    assert all(word in text for word in words), text
    assert f"at {where(marker)}" in text and f"({function})" in text, text
    if function == "fill":   # the helper's line first, then the handler's call of it
        assert text.index("addItem") < text.index(where("limit"))


def test_a_missing_id_names_the_ts_line(sim):
    gone = _item(sim)
    sim.run(lambda ctx: ctx.db.delete(gone))
    for function, marker in (("patchMissing", "missing"), ("deleteMissing", "deletemissing")):
        with pytest.raises(InvalidIdError) as caught:
            sim.mutation(f"inventory:{function}", {"id": gone})
        assert "nonexistent document" in str(caught.value)
        assert f"at {where(marker)}" in notes(caught.value), notes(caught.value)


def test_an_id_of_another_table_names_the_ts_line(sim):
    with pytest.raises(InvalidIdError) as caught:
        sim.query("inventory:getWrongTable", {"id": _item(sim)})
    assert f"at {where('wrongtable')}" in notes(caught.value), notes(caught.value)


def test_a_js_exception_and_a_convex_error_keep_their_ts_line(sim):
    with pytest.raises(JsError) as caught:
        sim.mutation("inventory:throws", {})
    assert where("throw") in str(caught.value)
    with pytest.raises(ConvexError) as error:
        sim.mutation("inventory:soldOut", {})
    assert error.value.data == {"code": "SOLD_OUT"}
    assert f"at {where('convexerror')}" in notes(error.value), notes(error.value)


def test_an_unawaited_action_call_names_the_call_and_its_line(sim):
    with pytest.raises(UnawaitedCallError) as caught:
        sim.action("inventory:forgets", {})
    text = notes(caught.value)
    assert 'ctx.runMutation("inventory:restock")' in text
    assert f"at {where('unawaited')}" in text, text


@pytest.mark.parametrize(("function", "marker", "error", "words"), [
    ("stock", "queryinsert", WriteInReadOnlyError,
     ["queries are read-only: ctx.db.insert is not available in inventory:stock", "use a mutation"]),
    ("queryDeletes", "querydelete", WriteInReadOnlyError, ["ctx.db.delete is not available"]),
    ("queryRunsMutation", "querymutation", WrongContextError,
     ["ctx.runMutation is not available in inventory:queryRunsMutation (a query)"]),
    ("querySchedules", "queryscheduler", WrongContextError,
     ["ctx.scheduler is not available in inventory:querySchedules (a query)"]),
    ("mutationRunsAction", "mutationaction", WrongContextError,
     ["ctx.runAction is not available in inventory:mutationRunsAction (a mutation)"]),
])
def test_a_wrong_context_call_says_what_is_wrong_and_where(sim, function, marker, error, words):
    call = sim.mutation if function == "mutationRunsAction" else sim.query
    args = {"id": _item(sim)} if function == "queryDeletes" else {}
    with pytest.raises(error) as caught:
        call(f"inventory:{function}", args)
    text = notes(caught.value)
    assert all(word in text for word in words), text
    assert where(marker) in text, text
    assert "not a function" not in text


def test_a_call_over_several_lines_is_recognised_and_other_type_errors_stay_js_errors(sim):
    with pytest.raises(WrongContextError, match=r"ctx\.runMutation is not available") as caught:
        sim.query("inventory:multiLine", {})
    start = int(where("multiline").split(":")[1])   # the engine places it inside the call
    assert any(f"at convex/inventory.ts:{n}:" in notes(caught.value) for n in range(start, start + 3))
    with pytest.raises(JsError, match="not a function") as other:
        sim.query("inventory:notCtx", {})
    assert where("notctx") in str(other.value)


def test_app_code_still_sees_a_type_error_it_can_catch(sim):
    """In Convex a query's ``ctx.db`` has no ``insert`` (a TypeError the app may catch); only an
    uncaught one becomes convex-sim's clearer error."""
    assert sim.query("inventory:catches", {}) == "caught TypeError"


def test_unawaited_calls_in_a_mutation_run_to_completion_as_in_convex(sim):
    """convex-backend ``crates/isolate/src/environment/udf/mod.rs`` (``run_queries_and_
    mutations``' loop): after the function's promise settles the isolate keeps executing the
    pending async syscalls until none is left ("queries and mutations should run all syscalls
    to completion"); their results are discarded. So un-awaited writes and schedules are
    applied, and an un-awaited read is a Promise, as in JavaScript anywhere."""
    item = _item(sim)
    assert sim.mutation("inventory:unawaitedWrites", {"id": item}) == "a promise"
    assert sim.run(lambda ctx: ctx.db.get(item))["stock"] == 5
    assert [e["kind"] for e in sim.run(lambda ctx: ctx.db.query("events").collect())] == ["late"]
    jobs = sim.run(lambda ctx: ctx.db.system.query("_scheduled_functions").collect())
    assert [j["name"] for j in jobs] == ["inventory:restock"]


def test_use_node_actions_name_the_line_of_a_failed_or_unawaited_call(make_project):
    if shutil.which("node") is None:
        pytest.skip("node not found: install Node.js 18 or newer to run \"use node\" actions")
    sim = ConvexSim.from_project(make_project({"convex/schema.ts": SCHEMA_TS, "convex/inventory.ts": INVENTORY_TS,
                                               "convex/node.ts": NODE_TS}), seed=0)
    with pytest.raises(UnawaitedCallError) as dangling:
        sim.action("node:forgets", {})
    assert f"at {where('nodeunawaited', NODE_TS, 'convex/node.ts')}" in notes(dangling.value), notes(dangling.value)
    with pytest.raises(ValidationError) as invalid:
        sim.action("node:badArgs", {})
    assert f"at {where('nodeargs', NODE_TS, 'convex/node.ts')}" in notes(invalid.value), notes(invalid.value)


def test_pytest_shows_the_ts_line_and_no_simulator_frames(pytester, inventory):
    pytester.makepyfile(test_app=f"""
        import pytest

        pytestmark = pytest.mark.convex_project({str(inventory)!r})

        def test_schema_violation(convex):
            convex.mutation("inventory:badEvent", {{}})

        def test_js_exception(convex):
            convex.mutation("inventory:throws", {{}})

        def test_convex_error(convex):
            convex.mutation("inventory:soldOut", {{}})

        def test_query_writes(convex):
            convex.query("inventory:stock", {{}})
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=4)
    text = result.stdout.str()
    for marker in ("insert", "throw", "convexerror", "queryinsert"):
        assert where(marker) in text, marker
    for internal in ("convex_sim/js/engine.py", "Engine.result", "_checked_fields", "convex_sim/runtime.py",
                     "convex_sim/js/project.py", "convex_sim/database/"):
        assert internal not in text, internal


def test_errors_are_convex_sim_errors_where_they_are_misuse(sim):
    with pytest.raises(ConvexSimError):
        sim.query("inventory:stock", {})
