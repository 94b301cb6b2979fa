"""App code runs inside limits: user-code time, memory, stack depth. A runaway function raises a
clear error naming the function and the limit; it never hangs or crashes the test process, Ctrl-C
interrupts it, and the engine serves the next call as before.

Code that could crash the process runs in a child Python; code that could hang relies on a low
configured limit (or, for Ctrl-C, a child process with a generous timeout)."""

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from convex_sim import ConvexSim, LimitExceededError, OutOfMemoryError, UserTimeoutError
from convex_sim.js import JsError, JsStuckError
from convex_sim.limits import UserCodeLimits
from tests.conftest import _make_project

APP = """
import { query, mutation, action } from "./_generated/server";
import { v } from "convex/values";
import { api } from "./_generated/api";

export const ok = query({ args: {}, handler: async () => 42 });
export const spin = query({ args: {}, handler: async () => { while (true) {} } });
export const spinMutation = mutation({ args: {}, handler: async () => { while (true) {} } });
export const spinAction = action({ args: {}, handler: async () => { while (true) {} } });
export const spinAfterCall = action({ args: {}, handler: async (ctx) => {
  await ctx.runQuery((api as any).app.ok, {});
  while (true) {}
} });
export const catchSpin = query({ args: {}, handler: async () => {
  try { while (true) {} } catch (e) { return "caught"; }
} });
export const spinInside = mutation({ args: {}, handler: async (ctx) => {
  try { await ctx.runQuery((api as any).app.spin, {}); } catch (e) { return "caught"; }
  return "finished";
} });

function deep(n: number): number { return n === 0 ? 0 : 1 + deep(n - 1); }
export const recurse = query({ args: {}, handler: async () => deep(1e7) });
export const recurseCaught = query({ args: {}, handler: async () => {
  try { return deep(1e7); } catch (e: any) { return `${e.name}: ${e.message}`; }
} });
export const cyclic = query({ args: {}, handler: async () => { const a: any = {}; a.self = a; return a; } });
export const nested = query({ args: { n: v.number() }, handler: async (_ctx, { n }) => {
  let x: any = [];
  for (let i = 0; i < n; i++) x = [x];
  return x;
} });

export const hog = query({ args: {}, handler: async () => {
  const keep: Uint8Array[] = [];
  for (let i = 0; i < 1024; i++) keep.push(new Uint8Array(1 << 20).fill(1));
  return keep.length;
} });
export const hogStrings = mutation({ args: {}, handler: async () => {
  const keep: string[] = [];
  for (let i = 0; i < 1e8; i++) keep.push("x".repeat(1000) + i);
  return keep.length;
} });

export const seed = mutation({ args: {}, handler: async (ctx) => {
  for (let i = 0; i < 3; i++) await ctx.db.insert("items", { n: i });
} });
export const stuck = mutation({ args: {}, handler: async () => { await new Promise(() => {}); } });
export const fails = mutation({ args: {}, handler: async () => { throw new Error("no"); } });
export const failsMidStream = query({ args: {}, handler: async (ctx) => {
  for await (const item of ctx.db.query("items")) throw new Error(`stopped at ${item.n}`);
} });
export const throwObject = query({ args: {}, handler: async () => { throw { a: 1 }; } });
export const throwString = query({ args: {}, handler: async () => { throw "plain"; } });
"""

NODE_APP = """"use node";
import { action } from "./_generated/server";

export const ok = action({ args: {}, handler: async () => 7 });
export const spin = action({ args: {}, handler: async () => { while (true) {} } });
export const hog = action({ args: {}, handler: async () => {
  const keep: string[] = [];
  for (let i = 0; i < 1e9; i++) keep.push("x".repeat(100) + i);
  return keep.length;
} });
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory, ts_bank_project):
    """A project of runaway functions (``convex/app.ts``) and a "use node" module."""
    return _make_project(tmp_path_factory.mktemp("limits"), ts_bank_project,
                         {"convex/app.ts": APP, "convex/nodeapp.ts": NODE_APP})


def sim_with(project, **limits):
    return ConvexSim.from_project(project, user_code_limits=limits or None)


def isolated(project, calls, *, limits=None, timeout=120):
    """Run ``calls`` ((kind, path, args) each) in a child Python: what each returned or
    raised, and the child's exit code (a crash must not take the test process with it)."""
    script = textwrap.dedent(f"""
        import json, sys
        from convex_sim import ConvexSim
        sim = ConvexSim.from_project({str(project)!r}, user_code_limits={limits!r})
        out = []
        for kind, path, args in {calls!r}:
            try:
                out.append({{"ok": getattr(sim, kind)(path, args)}})
            except Exception as exc:
                out.append({{"error": type(exc).__name__, "message": str(exc),
                             "notes": getattr(exc, "__notes__", [])}})
        print(json.dumps(out, default=repr))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, f"the child exited with {proc.returncode}: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- user-code time -------------------------------------------------------------------------------

def test_user_code_limits_default_to_convex_figures():
    limits = UserCodeLimits()
    assert (limits.query_seconds, limits.mutation_seconds, limits.action_seconds) == (1.0, 1.0, 600.0)
    assert limits.memory_bytes == 64 << 20 and limits.node_memory_bytes == 512 << 20
    assert UserCodeLimits.of({"action_seconds": 2}).action_seconds == 2.0
    with pytest.raises(LimitExceededError, match="Unknown user-code limit 'seconds'"):
        UserCodeLimits.of({"seconds": 1})
    with pytest.raises(LimitExceededError, match="must be a number > 0"):
        UserCodeLimits.of({"query_seconds": 0})


def test_an_endless_loop_in_a_query_or_mutation_stops_at_the_time_limit(project):
    sim = sim_with(project, query_seconds=0.2, mutation_seconds=0.2)
    with pytest.raises(UserTimeoutError, match=r"app:spin: Function execution timed out "
                                               r"\(maximum duration: 0\.2s\)"):
        sim.query("app:spin", {})
    with pytest.raises(UserTimeoutError, match="app:spinMutation"):
        sim.mutation("app:spinMutation", {})
    assert sim.query("app:ok", {}) == 42                  # the engine serves the next call


def test_the_time_limit_cannot_be_caught_by_app_code(project):
    sim = sim_with(project, query_seconds=0.2, mutation_seconds=5)
    with pytest.raises(UserTimeoutError, match="app:catchSpin"):
        sim.query("app:catchSpin", {})
    # a nested call that times out ends the whole call stack, as in Convex
    with pytest.raises(UserTimeoutError, match="app:spin"):
        sim.mutation("app:spinInside", {})
    assert sim.query("app:ok", {}) == 42


def test_an_endless_loop_in_an_action_stops_at_the_action_limit(project):
    sim = sim_with(project, action_seconds=0.3)
    with pytest.raises(UserTimeoutError, match=r"app:spinAction: .*maximum duration: 0\.3s"):
        sim.action("app:spinAction", {})
    with pytest.raises(UserTimeoutError, match="app:spinAfterCall"):
        sim.action("app:spinAfterCall", {})
    assert sim.query("app:ok", {}) == 42


def test_time_in_syscalls_does_not_count_against_user_code(project, monkeypatch):
    """The limit is on the CPU time JavaScript runs: time the simulator spends answering a
    ctx call is not the app's."""
    from convex_sim.js import abi

    sim = sim_with(project, query_seconds=0.3, mutation_seconds=0.3)
    sim.mutation("app:seed", {})
    real = abi.Host.sync

    def slow_sync(self, op, payload):
        end = time.thread_time() + 0.15
        while time.thread_time() < end:   # busy: CPU time of this thread, as the limit counts
            pass
        return real(self, op, payload)

    monkeypatch.setattr(abi.Host, "sync", slow_sync)
    with pytest.raises(JsError, match="stopped at 0"):     # several slow syscalls, no timeout
        sim.query("app:failsMidStream", {})


def test_ctrl_c_interrupts_an_endless_loop(project):
    script = textwrap.dedent(f"""
        import signal
        # as at a terminal: a test run started in the background inherits SIGINT ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from convex_sim import ConvexSim
        sim = ConvexSim.from_project({str(project)!r})
        sim.query("app:ok", {{}})
        print("running", flush=True)
        sim.action("app:spinAction", {{}})      # 10 minutes of user-code time allowed
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "running"
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
            pytest.fail("Ctrl-C did not stop the endless loop")
    assert "KeyboardInterrupt" in err and child.returncode != 0


# -- stack and deep values ------------------------------------------------------------------------

def test_deep_recursion_is_a_catchable_range_error_not_a_crash(project):
    caught, uncaught, after = isolated(project, [("query", "app:recurseCaught", {}),
                                                 ("query", "app:recurse", {}),
                                                 ("query", "app:ok", {})])
    assert caught == {"ok": "RangeError: Maximum call stack size exceeded"}
    assert uncaught["error"] == "JsError"
    assert "app:recurse: Uncaught RangeError: Maximum call stack size exceeded" in uncaught["message"]
    assert after == {"ok": 42}


def test_cyclic_and_deeply_nested_return_values_give_clear_errors(project):
    cyclic, nested, shallow = isolated(project, [("query", "app:cyclic", {}),
                                                 ("query", "app:nested", {"n": 5000}),
                                                 ("query", "app:nested", {"n": 3})])
    for result, path in ((cyclic, "app:cyclic"), (nested, "app:nested")):
        assert result["error"] == "JsError" and result["message"].startswith(f"{path}: Uncaught RangeError")
        assert any("cyclic or too deeply nested value" in note for note in result["notes"])
    assert shallow == {"ok": [[[[]]]]}


# -- memory ---------------------------------------------------------------------------------------

def test_a_query_that_allocates_too_much_fails_and_the_engine_recovers(project):
    sim = sim_with(project)
    with pytest.raises(OutOfMemoryError, match=r"app:hog: JavaScript execution ran out of memory "
                                               r"\(maximum memory usage: 64 MiB\)"):
        sim.query("app:hog", {})
    assert sim.query("app:ok", {}) == 42
    small = sim_with(project, memory_bytes=8 << 20)
    with pytest.raises(OutOfMemoryError, match=r"app:hogStrings: .*8 MiB"):
        small.mutation("app:hogStrings", {})
    assert small.query("app:ok", {}) == 42


# -- nothing left behind --------------------------------------------------------------------------

def test_finished_failed_stuck_and_timed_out_executions_leave_nothing_behind(project):
    sim = sim_with(project, mutation_seconds=0.001)
    sim.mutation("app:seed", {})
    engine = sim.project.engine
    failures = {"app:stuck": JsStuckError, "app:fails": JsError, "app:spinMutation": UserTimeoutError}
    for i in range(3000):
        path = list(failures)[i % 3]
        with pytest.raises(failures[path]):
            sim.mutation(path, {})
        if i % 100 == 0:
            with pytest.raises(JsError, match="stopped at 0"):
                sim.query("app:failsMidStream", {})
    assert engine._executions == {} and engine._stack == []
    assert engine._ctx.eval("__cs.pendingCount()") == 0
    assert sim.query("app:ok", {}) == 42


# -- errors ---------------------------------------------------------------------------------------

def test_a_thrown_non_error_is_reported_as_v8_reports_it(project):
    sim = sim_with(project)
    with pytest.raises(JsError) as thrown:
        sim.query("app:throwObject", {})
    assert str(thrown.value) == "app:throwObject: Uncaught #<Object>"
    assert "The thrown value: { a: 1 }" in thrown.value.__notes__
    with pytest.raises(JsError) as thrown:
        sim.query("app:throwString", {})
    assert str(thrown.value) == "app:throwString: Uncaught plain"


# -- "use node" actions ----------------------------------------------------------------------------

@pytest.fixture
def node():
    if shutil.which("node") is None:
        pytest.skip("node not found: install Node.js 18 or newer to run \"use node\" actions")


def test_an_endless_loop_in_a_node_action_stops_at_the_action_limit(project, node):
    sim = sim_with(project, action_seconds=0.5)
    assert sim.action("nodeapp:ok", {}) == 7
    with pytest.raises(UserTimeoutError, match=r"nodeapp:spin: .*maximum duration: 0\.5s"):
        sim.action("nodeapp:spin", {})
    assert sim.action("nodeapp:ok", {}) == 7              # a new Node.js process serves it


def test_a_node_action_that_allocates_too_much_fails_and_the_next_call_works(project, node):
    sim = sim_with(project, node_memory_bytes=64 << 20)
    with pytest.raises(OutOfMemoryError, match=r"nodeapp:hog: .*ran out of memory .*64 MiB"):
        sim.action("nodeapp:hog", {})
    assert sim.action("nodeapp:ok", {}) == 7
