"""Serializability that understands time: a scheduled job is a transaction of its own, run
in the serial reference no earlier than its time and after the transaction that scheduled it.
Correct apps that schedule with a delay (expiries, reminders) explore clean with
serializability on; a real race is still caught, its invariant failure first."""

from __future__ import annotations

import pytest

from convex_sim import (
    ConvexError,
    ConvexSim,
    Op,
    define_schema,
    define_table,
    internal_mutation,
    mutation,
    v,
)
from convex_sim.functions import Registry
from scenarios.ts_inventory import no_oversell

HOLD_MS = 15 * 60 * 1000
SCHEMA = define_schema({"stock": define_table({"count": v.float64()}),
                        "holds": define_table({"status": v.string()})})


@mutation(args={})
def reserve(ctx, args):
    """Take one unit if there is one, and schedule the hold's expiry in 15 minutes."""
    stock = ctx.db.query("stock").first()
    if stock["count"] < 1:
        raise ConvexError("sold out")
    ctx.db.patch(stock["_id"], {"count": stock["count"] - 1})
    hold = ctx.db.insert("holds", {"status": "held"})
    ctx.scheduler.run_after(HOLD_MS, "shop:expire", {"hold": hold})
    return hold


@mutation(args={})
def reserve_now_and_log(ctx, args):
    """A hold whose bookkeeping job runs at once (a delay of 0)."""
    hold = reserve.handler(ctx, args)
    ctx.scheduler.run_after(0, "shop:expire", {"hold": hold})
    return hold


@internal_mutation(args={"hold": v.id("holds")})
def expire(ctx, args):
    hold = ctx.db.get(args["hold"])
    if hold["status"] == "held":
        ctx.db.patch(hold["_id"], {"status": "expired"})
        stock = ctx.db.query("stock").first()
        ctx.db.patch(stock["_id"], {"count": stock["count"] + 1})


def shop(units: float) -> ConvexSim:
    registry = Registry()
    for name, fn in {"reserve": reserve, "reserve_now_and_log": reserve_now_and_log,
                     "expire": expire}.items():
        registry.register(f"shop:{name}", fn)
    sim = ConvexSim(SCHEMA, registry, seed=0)
    sim.run(lambda ctx: ctx.db.insert("stock", {"count": units}))
    return sim


@pytest.mark.parametrize("units", [1.0, 2.0])
def test_two_holds_with_delayed_expiry_explore_clean_with_serializability_on(units):
    result = shop(units).explore([Op("shop:reserve", {})] * 2, check_serializable=True)
    assert result.ok, result
    assert result.schedules_run > 3


def test_three_holds_of_two_units_explore_clean():
    """Jobs that begin late and commit later still (a job may run late, never early)."""
    result = shop(2.0).explore([Op("shop:reserve", {})] * 3, check_serializable=True,
                               strategy="random", max_schedules=300)
    assert result.ok, result


def test_a_job_due_at_once_may_run_after_another_operation():
    result = shop(1.0).explore([Op("shop:reserve_now_and_log", {})] * 2, check_serializable=True)
    assert result.ok, result


@pytest.fixture
def inventory(mug_shop):
    return mug_shop(1)


def test_the_typescript_inventory_explores_clean_inside_the_hold_window(inventory):
    result = inventory.explore([Op("inventory:reserve", {"sku": "mug", "quantity": 1})] * 2,
                               invariant=no_oversell, check_serializable=True)
    assert result.ok, result


def test_its_racy_twin_is_caught_with_the_invariant_failure_first(inventory):
    result = inventory.explore([Op("inventory:reserveViaAction", {"sku": "mug", "quantity": 1})] * 2,
                               invariant=no_oversell, check_serializable=True)
    kinds = [f.kind for f in result.failures]
    assert kinds[0] == "invariant" and "mug oversold" in str(result.failures[0]), kinds
    assert "serializability" in kinds   # two actions, each check and take apart: not atomic
