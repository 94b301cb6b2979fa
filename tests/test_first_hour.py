"""Misuses a new user makes in the first hour: each is a clear error naming the function."""

import asyncio
import os
import stat
from pathlib import Path

import pytest

from convex_sim import (
    ArgumentValidationError,
    AuthError,
    ConvexError,
    ConvexSim,
    ConvexSimError,
    NondeterminismError,
    ScheduledFunctionFailed,
    WriteInReadOnlyError,
    WrongContextError,
    WrongFunctionKindError,
    action,
    define_schema,
    define_table,
    internal_mutation,
    mutation,
    query,
    v,
)
from convex_sim.clock import MAX_TIME_MS
from convex_sim.functions import Registry
from convex_sim.steps import UnawaitedCallError

TASKS = define_schema({"tasks": define_table({"title": v.string()})})


def _line_of(marker):
    """``test_first_hour.py:N``, N the line of this file that holds ``marker``."""
    lines = Path(__file__).read_text().splitlines()
    return f"test_first_hour.py:{next(i for i, text in enumerate(lines, 1) if text.endswith(marker))}"


def _sim(**functions):
    registry = Registry()
    for path, fn in functions.items():
        registry.register(path.replace("__", ":"), fn)
    return ConvexSim(TASKS, registry, seed=0)


@mutation(args={"title": v.string()})
def add(ctx, args):
    return ctx.db.insert("tasks", {"title": args["title"]})


@query(args={})
def count(ctx, args):
    return len(ctx.db.query("tasks").collect())


def test_an_unawaited_run_mutation_in_an_action_is_an_error_naming_the_line():
    @action(args={})
    async def forgetful(ctx, args):
        ctx.run_mutation("tasks:add", {"title": "lost"})  # no await
        return "done"

    sim = _sim(tasks__add=add, tasks__count=count, tasks__forgetful=forgetful)
    with pytest.raises(UnawaitedCallError) as error:
        sim.action("tasks:forgetful", {})
    message = str(error.value)
    assert message.startswith('tasks:forgetful returned without awaiting ctx.run_mutation("tasks:add") at ')
    assert _line_of("# no await") in message
    assert isinstance(error.value, ConvexSimError)
    assert sim.query("tasks:count", {}) == 0


def test_awaited_and_gathered_calls_are_not_dangling():
    @action(args={})
    async def careful(ctx, args):
        await ctx.run_mutation("tasks:add", {"title": "a"})
        await asyncio.gather(ctx.run_mutation("tasks:add", {"title": "b"}),
                             ctx.run_query("tasks:count", {}))
        await ctx.scheduler.run_after(0, "tasks:add", {"title": "c"})
        return await ctx.run_query("tasks:count", {})

    sim = _sim(tasks__add=add, tasks__count=count, tasks__careful=careful)
    assert sim.action("tasks:careful", {}) == 2


def test_an_unawaited_scheduler_call_is_named():
    @action(args={})
    async def forgets_to_schedule(ctx, args):
        ctx.scheduler.run_after(0, "tasks:add", {"title": "later"})  # forgotten

    sim = _sim(tasks__add=add, tasks__forgets=forgets_to_schedule)
    with pytest.raises(UnawaitedCallError, match=r'ctx\.scheduler\.run_after/run_at\("tasks:add"\) at .*' + _line_of("# forgotten")):
        sim.action("tasks:forgets", {})


def test_a_typescript_action_returning_with_a_pending_run_mutation_is_an_error(tmp_path, ts_bank_project):
    from test_typescript_runtime import _copy_project

    project = _copy_project(tmp_path, ts_bank_project, "forgetful.ts", """
        import { action } from "./_generated/server";
        import { api } from "./_generated/api";
        export const forget = action({ args: {}, handler: async (ctx) => {
          ctx.runMutation(api.bank.deposit, { owner: "ada", amount: 5 });
          return "done";
        }});
    """)
    sim = ConvexSim.from_project(project, seed=0)
    with pytest.raises(UnawaitedCallError, match=(
            r'^forgetful:forget returned without awaiting ctx\.runMutation\("bank:deposit"\), so it never ran')):
        sim.action("forgetful:forget", {})


@query(args={})
def bad_write(ctx, args):
    return ctx.db.insert("tasks", {"title": "x"})


@query(args={})
def mutates_from_a_query(ctx, args):
    return ctx.run_mutation("tasks:add", {"title": "x"})


@action(args={})
async def reads_db_in_an_action(ctx, args):
    return ctx.db.query("tasks").collect()


@mutation(args={})
def runs_an_action(ctx, args):
    return ctx.run_action("tasks:reads_db", {})


@pytest.mark.parametrize(("path", "message"), [
    ("tasks:bad_write",
     "queries are read-only: ctx.db.insert is not available in tasks:bad_write; use a mutation."),
    ("tasks:mutates", "ctx.run_mutation is not available in tasks:mutates (a query): queries are "
     "read-only; call it from a mutation or an action."),
    ("tasks:reads_db", "ctx.db is not available in tasks:reads_db (an action): actions have no "
     "ctx.db; read and write through `await ctx.run_query(...)` / `await ctx.run_mutation(...)`."),
    ("tasks:runs_action", "ctx.run_action is not available in tasks:runs_action (a mutation): only "
     "actions run actions; schedule it with ctx.scheduler.run_after(0, ...) from a mutation."),
])
def test_wrong_context_calls_are_documented_errors_naming_the_function(path, message):
    sim = _sim(tasks__add=add, tasks__bad_write=bad_write, tasks__mutates=mutates_from_a_query,
               tasks__reads_db=reads_db_in_an_action, tasks__runs_action=runs_an_action)
    call = sim.query if path in ("tasks:bad_write", "tasks:mutates") else \
        sim.action if path == "tasks:reads_db" else sim.mutation
    with pytest.raises(WrongContextError) as error:
        call(path, {})
    assert str(error.value) == message
    assert isinstance(error.value, AttributeError)
    if path == "tasks:bad_write":
        assert isinstance(error.value, WriteInReadOnlyError)


def test_hasattr_on_a_query_context_stays_false():
    seen = {}

    @query(args={})
    def probe(ctx, args):
        seen.update(insert=hasattr(ctx.db, "insert"), run_mutation=hasattr(ctx, "run_mutation"),
                    get=hasattr(ctx.db, "get"))

    _sim(tasks__probe=probe).query("tasks:probe", {})
    assert seen == {"insert": False, "run_mutation": False, "get": True}


@mutation(args={"title": v.string()})
def schedules_bad_args(ctx, args):
    ctx.scheduler.run_after(0, "tasks:add", {"title": 42})


@mutation(args={})
def explodes(ctx, args):
    raise ConvexError({"code": "BOOM"})


@mutation(args={"delay": v.float64()})
def schedules_explosion(ctx, args):
    ctx.scheduler.run_after(args["delay"], "tasks:explodes", {})


def test_scheduled_arguments_are_validated_when_scheduled():
    sim = _sim(tasks__add=add, tasks__schedule=schedules_bad_args)
    with pytest.raises(ArgumentValidationError) as error:
        sim.mutation("tasks:schedule", {"title": "t"})
    message = str(error.value)
    assert message.startswith("In tasks:schedule: scheduling tasks:add: Failed to validate arguments for tasks:add")
    assert "title" in message and "42" in message
    assert sim.scheduled() == []


@pytest.mark.parametrize(("finish", "delay"), [("finish_all_scheduled_functions", 10.0),
                                               ("finish_in_progress_scheduled_functions", 0.0)])
def test_finishing_scheduled_functions_reports_failed_jobs(finish, delay):
    sim = _sim(tasks__explodes=explodes, tasks__schedule=schedules_explosion)
    sim.mutation("tasks:schedule", {"delay": delay})
    with pytest.raises(ScheduledFunctionFailed) as error:
        getattr(sim, finish)()
    message = str(error.value)
    assert message.startswith("1 scheduled function(s) failed:\n  tasks:explodes (job ")
    assert "ConvexError: {'code': 'BOOM'}" in message and "allow_failures=True" in message
    assert [path for _id, path, _exc in error.value.failures] == ["tasks:explodes"]


def test_allow_failures_opts_out_and_the_row_still_says_failed():
    sim = _sim(tasks__explodes=explodes, tasks__schedule=schedules_explosion)
    sim.mutation("tasks:schedule", {"delay": 0.0})
    assert sim.finish_all_scheduled_functions(allow_failures=True) == 1
    assert [job["state"]["kind"] for job in sim.scheduled()] == ["failed"]


def test_advance_time_is_bounded_by_the_latest_date():
    sim = _sim()
    start = sim.clock
    with pytest.raises(ValueError, match=r"advance_time: 100000000000000000000 ms from 1704067200000 passes "
                                         r"the latest time a clock can show \(8640000000000000 ms"):
        sim.advance_time(10**20)
    assert sim.clock == start
    assert sim.advance_time(MAX_TIME_MS - start) == MAX_TIME_MS


def test_asyncio_sleep_in_a_query_is_named_as_an_event_loop_awaitable():
    @query(args={})
    async def sleepy(ctx, args):
        await asyncio.sleep(0)

    with pytest.raises(NondeterminismError) as error:
        _sim(tasks__sleepy=sleepy).query("tasks:sleepy", {})
    assert str(error.value).startswith(
        "tasks:sleepy awaited an event-loop awaitable (asyncio.sleep, a task, a future); queries "
        "and mutations may await only ctx calls")


def test_calling_an_internal_function_from_a_client_explains_without_npx():
    sim = _sim(tasks__secret=internal_mutation(args={})(lambda ctx, args: None))
    with pytest.raises(WrongFunctionKindError) as error:
        sim.client().mutation("tasks:secret", {})
    assert str(error.value) == (
        "Could not find public function for 'tasks:secret': it is internal (internal_mutation), so "
        "only other functions and the test handle can call it. Make it public, or call a public "
        "function that calls it.")


def test_render_html_writes_a_file_others_can_read(tmp_path):
    from convex_sim.explore import write_atomically

    old = os.umask(0o022)
    try:
        write_atomically(tmp_path / "report.html", "<p>race</p>")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o644


def test_auth_errors_show_iso_times():
    from convex_sim.auth import TestIssuer

    issuer = TestIssuer(domain="https://issuer.test", application_id="app")
    sim = ConvexSim(TASKS, Registry(), seed=0, auth_providers=[issuer.provider])
    token = issuer.token("u1", expires_in_s=60)
    sim.advance_time(120_000)
    with pytest.raises(AuthError) as error:
        sim.with_token(token).run(lambda ctx: None)
    assert str(error.value) == ("Token expired at 1704067260 (2024-01-01T00:01:00Z) "
                                "(virtual clock: 1704067320 (2024-01-01T00:02:00Z)).")


def test_an_action_that_fails_notes_the_calls_it_left_unawaited():
    @action(args={})
    async def fails_after_forgetting(ctx, args):
        ctx.run_mutation("tasks:add", {"title": "lost"})  # left behind
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom") as error:
        _sim(tasks__add=add, tasks__fails=fails_after_forgetting).action("tasks:fails", {})
    notes = "\n".join(error.value.__notes__)
    assert 'tasks:fails returned without awaiting ctx.run_mutation("tasks:add") at ' in notes
    assert _line_of("# left behind") in notes
