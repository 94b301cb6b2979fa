"""Scheduler and virtual clock: run_after/run_at/cancel, job states, chains, crons."""

import datetime

import pytest

from convex_sim import (
    ConvexError,
    ConvexSim,
    Crons,
    SchedulerError,
    action,
    define_schema,
    define_table,
    internal_mutation,
    mutation,
    query,
    v,
)
from convex_sim.functions import Registry
from convex_sim.scheduler import next_cron_time

SCHEMA = define_schema({"log": define_table({"entry": v.string()})})
START = 1_704_067_200_000.0  # 2024-01-01T00:00:00Z, a Monday


@internal_mutation(args={"entry": v.string()})
def write(ctx, args):
    ctx.db.insert("log", {"entry": args["entry"]})


@mutation(args={"items": v.array(v.object({"entry": v.string(), "delay": v.float64()}))})
def schedule_many(ctx, args):
    return [ctx.scheduler.run_after(i["delay"], "jobs:write", {"entry": i["entry"]}) for i in args["items"]]


@mutation(args={})
def schedule_then_fail(ctx, args):
    ctx.scheduler.run_after(0, "jobs:write", {"entry": "never"})
    raise ConvexError("rolled back")


@mutation(args={"id": v.id("_scheduled_functions")})
def cancel(ctx, args):
    ctx.scheduler.cancel(args["id"])


@internal_mutation(args={})
def explode(ctx, args):
    raise ConvexError({"code": "BOOM"})


@internal_mutation(args={"n": v.int64()})
def forever(ctx, args):
    ctx.scheduler.run_after(1000, "jobs:forever", {"n": args["n"] + 1})


@internal_mutation(args={"n": v.int64()})
def countdown(ctx, args):
    ctx.db.insert("log", {"entry": f"count {args['n']}"})
    if args["n"] > 0:
        ctx.scheduler.run_after(60_000, "jobs:countdown", {"n": args["n"] - 1})


@action(args={})
async def schedule_from_action_then_fail(ctx, args):
    await ctx.scheduler.run_after(10, "jobs:write", {"entry": "from action"})
    raise ConvexError("the action failed after scheduling")


@mutation(args={"at": v.float64()})
def schedule_at(ctx, args):
    when = datetime.datetime.fromtimestamp(args["at"] / 1000, datetime.UTC)
    return ctx.scheduler.run_at(when, "jobs:write", {"entry": "at"})


@query(args={})
def entries(ctx, args):
    return [e["entry"] for e in ctx.db.query("log").collect()]


@query(args={})
def jobs(ctx, args):
    return [(j["name"], j["state"]["kind"]) for j in ctx.db.system.query("_scheduled_functions").collect()]


@query(args={})
def query_that_schedules(ctx, args):
    ctx.scheduler.run_after(0, "jobs:write", {"entry": "x"})


@mutation(args={})
def bad_delay(ctx, args):
    ctx.scheduler.run_after(-5, "jobs:write", {"entry": "x"})


def make_sim(crons=None):
    registry = Registry()
    for name, fn in dict(globals()).items():
        if hasattr(fn, "kind") and hasattr(fn, "handler"):
            registry.register(f"jobs:{name}", fn)
    if crons is not None:
        registry.modules["crons"] = type("CronsModule", (), {"crons": crons})
    return ConvexSim(SCHEMA, registry, seed=1)


def test_due_order_and_ties_by_scheduling_order():
    sim = make_sim()
    sim.mutation("jobs:schedule_many", {"items": [
        {"entry": "c", "delay": 300}, {"entry": "a", "delay": 100},
        {"entry": "b1", "delay": 200}, {"entry": "b2", "delay": 200}]})
    assert sim.query("jobs:entries", {}) == []
    sim.advance_time(150)
    assert sim.query("jobs:entries", {}) == ["a"]
    assert sim.clock == START + 150
    sim.advance_time(1_000)
    assert sim.query("jobs:entries", {}) == ["a", "b1", "b2", "c"]
    assert [s["state"] for s in sim.scheduled()] == [{"kind": "success"}] * 4
    assert all(s["completed_time"] >= s["scheduled_time"] for s in sim.scheduled())


def test_jobs_see_their_due_time():
    sim = make_sim()
    sim.mutation("jobs:schedule_many", {"items": [{"entry": "x", "delay": 5_000}]})
    sim.advance_time(60_000)
    (row,) = sim.run(lambda ctx: ctx.db.query("log").collect())
    assert row["_creationTime"] == START + 5_000


def test_scheduling_is_transactional():
    sim = make_sim()
    with pytest.raises(ConvexError):
        sim.mutation("jobs:schedule_then_fail", {})
    assert sim.scheduled() == []
    sim.advance_time(10_000)
    assert sim.query("jobs:entries", {}) == []


def test_scheduling_from_an_action_is_immediate_even_if_it_fails():
    sim = make_sim()
    with pytest.raises(ConvexError):
        sim.action("jobs:schedule_from_action_then_fail", {})
    assert [j["name"] for j in sim.scheduled()] == ["jobs:write"]
    sim.advance_time(10)
    assert sim.query("jobs:entries", {}) == ["from action"]


def test_cancel():
    sim = make_sim()
    _keep, drop = sim.mutation("jobs:schedule_many", {"items": [
        {"entry": "keep", "delay": 10}, {"entry": "drop", "delay": 10}]})
    sim.mutation("jobs:cancel", {"id": drop})
    sim.advance_time(100)
    assert sim.query("jobs:entries", {}) == ["keep"]
    assert sim.query("jobs:jobs", {}) == [["jobs:write", "success"], ["jobs:write", "canceled"]]


def test_failed_job_records_its_error():
    sim = make_sim()
    sim.run(lambda ctx: ctx.scheduler.run_after(0, "jobs:explode", {}))
    sim.finish_in_progress_scheduled_functions(allow_failures=True)
    (job,) = sim.scheduled()
    assert job["state"]["kind"] == "failed"
    assert "BOOM" in job["state"]["error"]


def test_finish_all_follows_chains_and_detects_endless_ones():
    sim = make_sim()
    sim.run(lambda ctx: ctx.scheduler.run_after(0, "jobs:countdown", {"n": 3}))
    assert sim.finish_all_scheduled_functions() == 4
    assert sim.query("jobs:entries", {}) == ["count 3", "count 2", "count 1", "count 0"]
    assert sim.clock == START + 3 * 60_000

    endless = make_sim()
    endless.run(lambda ctx: ctx.scheduler.run_after(0, "jobs:forever", {"n": 0}))
    with pytest.raises(SchedulerError, match=r"10 jobs ran .*jobs:forever -> jobs:forever"):
        endless.finish_all_scheduled_functions(max_iterations=10)


def test_run_at_with_a_datetime_and_errors():
    sim = make_sim()
    sim.mutation("jobs:schedule_at", {"at": START + 42_000})
    sim.advance_time(41_999)
    assert sim.query("jobs:entries", {}) == []
    sim.advance_time(1)
    assert sim.query("jobs:entries", {}) == ["at"]
    with pytest.raises(SchedulerError, match="finite delay >= 0"):
        sim.mutation("jobs:bad_delay", {})
    with pytest.raises(SchedulerError, match="queries cannot schedule"):
        sim.query("jobs:query_that_schedules", {})


def test_advance_time_rejects_bad_input():
    sim = make_sim()
    for bad in (-1, float("nan"), float("inf"), "10"):
        with pytest.raises(ValueError, match="advance_time"):
            sim.advance_time(bad)


def test_crons_across_a_simulated_week():
    crons = Crons()
    crons.interval("every 6h", {"hours": 6}, "jobs:write", {"entry": "interval"})
    crons.hourly("hourly", {"minute_utc": 30}, "jobs:write", {"entry": "hourly"})
    crons.daily("daily", {"hour_utc": 9, "minute_utc": 0}, "jobs:write", {"entry": "daily"})
    crons.weekly("weekly", {"day_of_week": "wednesday", "hour_utc": 12, "minute_utc": 0},
                 "jobs:write", {"entry": "weekly"})
    crons.monthly("monthly", {"day": 3, "hour_utc": 0, "minute_utc": 0}, "jobs:write", {"entry": "monthly"})
    crons.cron("weekdays 17:45", "45 17 * * mon-fri", "jobs:write", {"entry": "cron"})
    sim = make_sim(crons)
    for _ in range(7):
        sim.advance_time(24 * 3600 * 1000)
    got = sim.query("jobs:entries", {})
    assert got.count("interval") == 28
    assert got.count("hourly") == 7 * 24
    assert got.count("daily") == 7
    assert got.count("weekly") == 1
    assert got.count("monthly") == 1
    assert got.count("cron") == 5  # Mon 1st .. Fri 5th
    weekly = sim.run(lambda ctx: next(d for d in ctx.db.query("log").collect() if d["entry"] == "weekly"))
    assert int(weekly["_creationTime"]) == START + (2 * 24 + 12) * 3600 * 1000  # Wed 3rd 12:00
    # A cron run is not a scheduled function: convex-backend's cron executor
    # (crates/model/src/cron_jobs) runs it and logs it apart from _scheduled_functions.
    assert sim.scheduled() == []


def test_cron_expressions():
    assert next_cron_time("0 * * * *", START) == START + 3600_000
    assert next_cron_time("*/15 * * * *", START + 1) == START + 15 * 60_000
    assert next_cron_time("0 0 1 * *", START) == START + 31 * 86_400_000  # Feb 1st
    with pytest.raises(SchedulerError, match="5 fields"):
        Crons().cron("bad", "* * *", "jobs:write")
    with pytest.raises(SchedulerError, match="outside"):
        Crons().cron("bad", "61 * * * *", "jobs:write")
    with pytest.raises(SchedulerError, match="declared twice"):
        c = Crons()
        c.hourly("x", {"minute_utc": 0}, "jobs:write")
        c.hourly("x", {"minute_utc": 0}, "jobs:write")


def test_scheduler_and_storage_are_built_on_first_use():
    """A fresh simulator builds no scheduler or file storage; the first ctx.scheduler (or
    sim.scheduler) does, and it works as if it had always been there."""
    sim = make_sim()
    assert "scheduler" not in vars(sim) and "storage" not in vars(sim)
    sim.mutation("jobs:schedule_many", {"items": [{"entry": "late", "delay": 10.0}]})
    assert "scheduler" in vars(sim) and "storage" not in vars(sim)
    sim.advance_time(10)
    assert sim.query("jobs:entries") == ["late"]
    assert sim.query("jobs:jobs") == [["jobs:write", "success"]]
    with_crons = Crons()
    with_crons.interval("tick", {"minutes": 1}, "jobs:write", {"entry": "tick"})
    assert "scheduler" in vars(make_sim(with_crons))   # cron jobs count from the start
