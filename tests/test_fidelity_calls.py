"""Nested calls and ctx.meta, checked against convex-backend's ``run_udf``
(crates/isolate/src/environment/udf/async_syscall.rs), ``Transaction::set_transaction_limits``
(crates/database/src/transaction.rs) and convex-js src/server/meta.ts."""

import contextlib

import httpx
import pytest

from convex_sim import (
    ConvexError,
    ConvexSim,
    HttpRouter,
    LimitExceededError,
    WrongFunctionKindError,
    action,
    define_schema,
    define_table,
    http_action,
    internal_query,
    mutation,
    query,
    v,
)
from convex_sim.functions import Registry

SCHEMA = define_schema({"items": define_table({"n": v.int64()})})


@query()
def count(ctx, args):
    return len(ctx.db.query("items").collect())


@mutation()
def stale_and_fresh(ctx, args):
    ctx.db.insert("items", {"n": 99})
    return {"fresh": ctx.run_query("c:count"),
            "stale": ctx.run_query("c:count", use_stale_snapshot=True)}


@query()
def stale_in_query(ctx, args):
    return ctx.run_query("c:count", use_stale_snapshot=True)


@mutation(args={"limit": v.int64()})
def limited(ctx, args):
    try:
        inner = ctx.run_query("c:count", transaction_limits={"documents_read": args["limit"]})
    except LimitExceededError as exc:
        inner = str(exc)
    return {"inner": inner, "after": len(ctx.db.query("items").collect())}


@mutation(args={"limit": v.int64()})
def read_then_limited(ctx, args):
    ctx.db.query("items").collect()
    try:
        return ctx.run_query("c:count", transaction_limits={"documents_read": args["limit"]})
    except LimitExceededError as exc:
        return str(exc)


@mutation()
def insert_three_then_fail(ctx, args):
    for n in range(3):
        ctx.db.insert("items", {"n": n})
    ctx.scheduler.run_after(0, "c:count_mutation", {})
    raise ConvexError("no")


@mutation()
def count_mutation(ctx, args):
    return len(ctx.db.query("items").collect())


@mutation()
def rollback_not_counted(ctx, args):
    with contextlib.suppress(ConvexError):
        ctx.run_mutation("c:insert_three_then_fail")
    metrics = ctx.meta.get_transaction_metrics()
    return {k: metrics[k]["used"] for k in ("documents_written", "functions_scheduled")}


@internal_query()
def metadata(ctx, args):
    before = ctx.meta.get_transaction_metrics()
    ctx.db.query("items").collect()
    return {"meta": ctx.meta.get_function_metadata(), "before": before,
            "after": ctx.meta.get_transaction_metrics()}


@mutation()
def mutation_metadata(ctx, args):
    return ctx.meta.get_function_metadata()


@action()
async def action_metadata(ctx, args):
    return ctx.meta.get_function_metadata()


@http_action
async def http_metadata(ctx, request):
    return httpx.Response(200, json=ctx.meta.get_function_metadata())


def make_sim(**options):
    registry = Registry()
    for name, fn in dict(globals()).items():
        if getattr(fn, "kind", None) in ("query", "mutation", "action") and name != "http_metadata":
            registry.register(f"c:{name}", fn)
    registry.register("c:http_metadata", http_metadata)
    router = HttpRouter()
    router.route(path="/meta", method="GET", handler=http_metadata)
    registry.modules["http"] = type("HttpModule", (), {"http": router})
    sim = ConvexSim(SCHEMA, registry, seed=0, **options)
    for n in range(3):
        sim.run(lambda ctx, n=n: ctx.db.insert("items", {"n": n}))
    return sim


def test_snapshot_query_from_a_mutation_does_not_see_its_writes():
    """``runUdf("snapshotQuery", ...)`` (convex-js registration_impl.ts) runs on
    ``initial_tx.clone_for_snapshot_query()``: the begin snapshot, without pending writes."""
    assert make_sim().mutation("c:stale_and_fresh") == {"fresh": 4, "stale": 3}


def test_snapshot_query_only_in_mutations():
    """registration_impl.ts: "`useStaleSnapshot` is only supported in mutations, not queries." """
    with pytest.raises(WrongFunctionKindError, match="only supported in mutations"):
        make_sim().query("c:stale_in_query")


def test_a_nested_call_enforces_its_own_limit_and_does_not_leak_it():
    """``set_transaction_limits``: "this call may use up to N additional" rows; the caller's
    limits are its own again afterwards (it reads all three rows)."""
    sim = make_sim()
    result = sim.mutation("c:limited", {"limit": 2})
    assert "documents read" in result["inner"] and "limit: 2" in result["inner"]
    assert result["after"] == 3
    assert sim.mutation("c:limited", {"limit": 3}) == {"inner": 3, "after": 3}


def test_a_nested_limit_cannot_raise_the_transaction_limit():
    """``TransactionLimits::from_budget`` is "clamped by the transaction's existing limits":
    a budget of 100 documents under a simulator limit of 4 still stops at 4 in all."""
    sim = make_sim(transaction_limits={"documents_read": 4})
    assert "limit: 4, reached: 5" in sim.mutation("c:read_then_limited", {"limit": 100})


def test_per_sim_limits():
    """ConvexSim(transaction_limits=...) sets every transaction's limits (Convex's figures are
    the defaults; camelCase names as in convex-js ``TransactionLimits`` are accepted)."""
    sim = make_sim(transaction_limits={"documentsWritten": 2})
    with pytest.raises(LimitExceededError, match=r"documents written .*limit: 2, reached: 3"):
        sim.run(lambda ctx: [ctx.db.insert("items", {"n": n}) for n in range(3)])


def test_rolled_back_nested_writes_are_not_counted():
    """A nested mutation that throws is rolled back (``begin_subtransaction``): its writes and
    scheduled functions no longer count in the transaction's metrics."""
    assert make_sim().mutation("c:rollback_not_counted") == {"documents_written": 0,
                                                            "functions_scheduled": 0}


def test_function_metadata_in_every_kind_of_function():
    """convex-js meta_impl.ts: ``{name, componentPath}`` from ``1.0/getFunctionMetadata`` plus the
    function's ``type`` and ``visibility``; HTTP actions get action metadata."""
    sim = make_sim()
    got = sim.query("c:metadata")
    assert got["meta"] == {"name": "c:metadata", "component_path": "", "type": "query",
                           "visibility": "internal"}
    assert sim.mutation("c:mutation_metadata")["type"] == "mutation"
    assert sim.action("c:action_metadata") == {"name": "c:action_metadata", "component_path": "",
                                               "type": "action", "visibility": "public"}
    assert sim.fetch("/meta").json()["type"] == "action"


def test_transaction_metrics_count_what_was_read():
    """async_syscall.rs ``tx_metrics``: used and remaining (limit - used) for each limit."""
    got = make_sim().query("c:metadata")
    before, after = got["before"], got["after"]
    assert before["documents_read"] == {"used": 0, "remaining": 32_000}
    assert after["documents_read"] == {"used": 3, "remaining": 31_997}
    assert after["database_queries"]["used"] == before["database_queries"]["used"] + 1


def test_nested_calls_and_meta_from_typescript(ts):
    """The same through ``1.0/runUdf`` (``useStaleSnapshot``, ``transactionLimits``) and
    ``ctx.meta`` (scenarios/ts_bank/convex/fidelity.ts)."""
    for body in ("a", "b"):
        ts.mutation("messages:send", {"author": "ann", "body": body})
    assert ts.mutation("fidelity:staleCount", {}) == {"fresh": 3.0, "stale": 2.0}
    assert ts.mutation("fidelity:limitedCount", {"documentsRead": 1}) == "failed: true"
    assert ts.mutation("fidelity:limitedCount", {"documentsRead": 5}) == 3.0
    got = ts.query("fidelity:whoAmI", {})
    assert got["meta"] == {"name": "fidelity:whoAmI", "componentPath": "", "type": "query",
                           "visibility": "public"}
    assert got["after"]["used"] == got["before"]["used"] + 1
    assert ts.action("fidelity:whoAmIAction", {})["visibility"] == "internal"
