"""Actions: concurrent ctx calls, time passing inside an action, actions that cannot finish."""

import asyncio
import time

import pytest

from convex_sim import (
    ActionStuckError,
    ConvexSim,
    LimitExceededError,
    Op,
    action,
    define_schema,
    define_table,
    mutation,
    query,
    v,
)
from convex_sim.functions import Registry

SCHEMA = define_schema({"log": define_table({"n": v.int64()})})


@mutation(args={"n": v.int64()})
def add(ctx, args):
    ctx.db.insert("log", {"n": args["n"]})
    return args["n"]


@mutation()
def add_count(ctx, args):
    n = len(ctx.db.query("log").collect())
    ctx.db.insert("log", {"n": n})
    return n


@query()
def count(ctx, args):
    return len(ctx.db.query("log").collect())


@action(args={"k": v.int64()})
async def add_many(ctx, args):
    return await asyncio.gather(*(ctx.run_mutation("log:add", {"n": i}) for i in range(args["k"])))


@action()
async def gather_mixed(ctx, args):
    async def add_then_count(n):
        await ctx.run_mutation("log:add", {"n": n})
        return await ctx.run_query("log:count", {})

    return await asyncio.gather(add_then_count(1), add_then_count(2), ctx.run_query("log:count", {}))


@action()
async def gather_failing(ctx, args):
    results = await asyncio.gather(ctx.run_mutation("log:add", {"n": 1}),
                                   ctx.run_mutation("log:add", {"n": "not an int"}),
                                   return_exceptions=True)
    return [r if isinstance(r, int) else type(r).__name__ for r in results]


@action()
async def schedule_then_poll(ctx, args):
    start = time.time()
    await ctx.scheduler.run_after(1000, "log:add", {"n": 7})
    polls = 0
    while await ctx.run_query("log:count", {}) == 0:
        await asyncio.sleep(0.25)
        polls += 1
    return {"polls": polls, "waited_s": time.time() - start}


@action()
async def awaits_nothing(ctx, args):
    await asyncio.get_running_loop().create_future()


@action()
async def sleeps_forever(ctx, args):
    while True:
        await asyncio.sleep(60)


def make_sim():
    registry = Registry()
    for name, fn in [("add", add), ("count", count), ("add_count", add_count), ("add_many", add_many),
                     ("gather_mixed", gather_mixed), ("gather_failing", gather_failing),
                     ("schedule_then_poll", schedule_then_poll), ("awaits_nothing", awaits_nothing),
                     ("sleeps_forever", sleeps_forever)]:
        registry.register(f"log:{name}", fn)
    return ConvexSim(SCHEMA, registry, seed=0)



def test_gather_of_run_mutation_returns_every_result(within):
    """``Promise.all([ctx.runMutation(...), ...])`` works in Convex: each ``runMutation`` is an
    async syscall (convex-backend npm-packages/convex/src/server/impl/actions_impl.ts,
    ``performAsyncSyscall("1.0/actions/mutation", ...)``) whose promises the action may hold
    concurrently. Its Python twin is ``asyncio.gather``."""
    sim = make_sim()
    assert within(10, lambda: sim.action("log:add_many", {"k": 5})) == [0, 1, 2, 3, 4]
    assert sim.query("log:count") == 5


def test_gather_of_nested_coroutines_and_mixed_calls(within):
    """Concurrent branches each awaiting several ctx calls, as ``Promise.all`` of async
    functions does (same source as above). Steps are served in the order they were awaited
    (add 1, add 2, count), so the plain count already sees both rows."""
    sim = make_sim()
    assert within(10, lambda: sim.action("log:gather_mixed")) == [2, 2, 2]


def test_gather_return_exceptions_keeps_the_other_results(within):
    """A failing call inside ``gather(..., return_exceptions=True)`` is that call's result only;
    in Convex a rejected ``runMutation`` promise rejects only that promise (actions_impl.ts)."""
    sim = make_sim()
    assert within(10, lambda: sim.action("log:gather_failing")) == [1, "ArgumentValidationError"]
    assert sim.query("log:count") == 1


def test_each_gathered_call_is_a_step_the_explorer_interleaves(within):
    """Each awaited call of an action is its own step (its own transaction in Convex: an
    action's ``runMutation`` commits independently, docs "Actions"), so the explorer may place
    another operation between two gathered mutations."""
    sim = make_sim()
    result = within(60, lambda: sim.explore([Op("log:add_many", {"k": 2}), Op("log:add_count")],
                                           strategy="exhaustive"))
    assert result.distinct_outcomes == 3, result  # add_count saw 0, 1 or 2 rows
    assert not result.ok  # seeing 1 matches no serial order of the two operations
    schedule = result.failures[0].schedule  # e.g. "AABBAA": B between A's two mutations
    assert schedule[0] == schedule[-1] == "A" and "B" in schedule, schedule


def test_sleep_moves_the_virtual_clock_and_due_scheduled_functions_run(within):
    """An action that schedules a mutation and polls for its effect sees it once the delay has
    passed, as in Convex, where scheduled functions run while an action waits (docs
    "Scheduled Functions"; timers in actions: convex-backend crates/isolate/src/environment/
    action/ runs setTimeout on real time). Here the wait moves the virtual clock."""
    sim = make_sim()
    start = sim.clock
    result = within(10, lambda: sim.action("log:schedule_then_poll"))
    assert result == {"polls": 4, "waited_s": 1.0}
    assert sim.clock - start == 1000.0
    assert sim.query("log:count") == 1


def test_an_action_awaiting_what_never_finishes_is_an_error_naming_it(within):
    """Nothing may wait forever: an action whose awaits can never complete fails at once,
    naming the function (Convex would time the action out, crates/isolate/src/termination.rs
    "Function execution timed out")."""
    sim = make_sim()
    with pytest.raises(ActionStuckError, match="log:awaits_nothing is stuck"):
        within(10, lambda: sim.action("log:awaits_nothing"))


def test_an_action_sleeping_past_the_action_time_limit_times_out(within):
    """Actions have a running-time limit (Convex docs "Limits": 10 minutes; convex-backend
    crates/common/src/knobs.rs NODE_ACTION_USER_TIMEOUT 600 s) and the error reads as
    termination.rs's "Function execution timed out (maximum duration: ...)"."""
    sim = make_sim()
    start = sim.clock
    with pytest.raises(LimitExceededError, match=r"log:sleeps_forever: Function execution timed out"):
        within(10, lambda: sim.action("log:sleeps_forever"))
    assert 540_000 <= sim.clock - start <= 600_000
