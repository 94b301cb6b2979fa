"""The TypeScript runtime's sandbox: determinism, console capture, timers, errors, pytest."""

import asyncio
import subprocess
import sys
import textwrap
import time

import pytest

from convex_sim import ConvexSim, NondeterminismError
from convex_sim.js import BundleError
from convex_sim.js.bundler import bundle_project, module_paths


def test_math_random_is_seeded_per_call_and_date_is_the_virtual_clock(ts_bank_project):
    one, two = ConvexSim.from_project(ts_bank_project, seed=3), ConvexSim.from_project(ts_bank_project, seed=3)
    first = [one.mutation("outbound:roll", {}) for _ in range(3)]
    assert first == [two.mutation("outbound:roll", {}) for _ in range(3)]
    randoms = [r["random"] for r in first]
    assert len(set(randoms)) == 3 and all(0 <= r < 1 for r in randoms)
    assert first[0]["now"] == one.clock
    one.advance_time(1500)
    assert one.mutation("outbound:roll", {})["now"] == one.clock
    other = ConvexSim.from_project(ts_bank_project, seed=4).mutation("outbound:roll", {})
    assert other["random"] != first[0]["random"]


def test_a_loaded_project_makes_simulators_without_rereading_its_folder(ts_bank_project, monkeypatch):
    """``from_project(load_project(path))`` gives the same simulator as ``from_project(path)``,
    and does not look at the folder again (as convexTest takes modules globbed once)."""
    from convex_sim.js import bundler, load_project

    project = load_project(ts_bank_project)
    by_path = ConvexSim.from_project(ts_bank_project, seed=5)
    monkeypatch.setattr(bundler, "_fingerprint", lambda paths: pytest.fail("the folder was read again"))
    loaded = ConvexSim.from_project(project, seed=5)
    assert loaded.project is project is by_path.project
    calls = [("bank:open", {"owner": "a", "amount": 5}), ("outbound:roll", {})]
    assert [loaded.mutation(*c) for c in calls] == [by_path.mutation(*c) for c in calls]


def test_same_seed_same_run_in_another_process(ts_bank_project):
    script = textwrap.dedent(f"""
        from convex_sim import ConvexSim
        sim = ConvexSim.from_project({str(ts_bank_project)!r}, seed=11)
        print([sim.mutation("outbound:roll", {{}})["random"] for _ in range(2)],
              sim.mutation("bank:open", {{"owner": "a", "amount": 1}}))
    """)
    runs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(n), "PATH": ""}).stdout for n in (1, 2)}
    assert len(runs) == 1 and "[0." in runs.pop()


def test_pytest_marker_and_ini_load_the_project_and_report_ts_errors(pytester, ts_bank_project):
    pytester.makepyfile(test_app=f"""
        import pytest

        @pytest.mark.convex_project({str(ts_bank_project)!r})
        def test_marked(convex):
            convex.mutation("bank:open", {{"owner": "ada", "amount": 5}})
            assert convex.query("bank:balance", {{"owner": "ada"}}) == 5

        def test_from_ini(convex):
            convex.mutation("errors:boom", {{}})
    """)
    pytester.makeini(f"[pytest]\nconvex_sim_project = {ts_bank_project}\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*convex-sim*", "*mutation errors:boom({}) !! JsError*boom from ts*",
                                 "*convex/errors.ts:7*"])


SANDBOX_TS = """
    import { mutation, action, query } from "./_generated/server";
    import { api } from "./_generated/api";
    export const late = mutation({ args: {}, handler: async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
    } });
    export const waits = action({ args: {}, handler: async () => {
      const order: string[] = [];
      await Promise.all([
        new Promise((r) => setTimeout(() => { order.push("slow"); r(null); }, 20)),
        new Promise((r) => setTimeout(() => { order.push("fast"); r(null); }, 5)),
      ]);
      console.log("timers fired", order);
      return order;
    } });
    export const hangs = action({ args: {}, handler: async () => { await new Promise(() => {}); } });
    export const region = query({ args: {}, handler: async () => process.env.REGION ?? null });
    export const dates = query({ args: {}, handler: async () =>
      [String(new Date(0)), new Date(2024, 0, 2, 3).toISOString(), new Date(0).getHours()] });
    export const meta = mutation({ args: {}, handler: async (ctx) => {
      await ctx.db.insert("tasks", { title: "t" });
      const metrics = await ctx.meta.getTransactionMetrics();
      return { ts: ctx.meta.getSnapshotTs(), fn: await ctx.meta.getFunctionMetadata(),
               written: metrics.documentsWritten.used };
    } });
    export const modern = query({ args: {}, handler: async () => {
      const o = { a: [1, { b: 2 }] };
      const copy = structuredClone(o);
      copy.a[1].b = 3;
      return [[1, 2, 3].at(-1), Object.hasOwn(o, "a"), [1, 2, 3].findLast((x) => x < 3),
              [3, 1, 2].toSorted(), o.a[1].b, Object.groupBy([1, 2, 3], (x) => (x % 2 ? "odd" : "even"))];
    } });
    export const failing = mutation({ args: {}, handler: async (ctx) => {
      await ctx.db.insert("tasks", { title: "inner" });
      throw new Error("inner fails");
    } });
    export const outer = mutation({ args: {}, handler: async (ctx) => {
      await ctx.db.insert("tasks", { title: "outer" });
      let caught = "";
      try { await ctx.runMutation(api.sandbox.failing, {}); } catch (e) { caught = String(e.message); }
      const titles = (await ctx.db.query("tasks").collect()).map((t) => t.title);
      return { caught, titles };
    } });
    export const stale = mutation({ args: {}, handler: async (ctx) => {
      await ctx.db.insert("accounts", { owner: "new", balance: 5 });
      const fresh = await ctx.runQuery(api.bank.balance, { owner: "new" });
      const old = await ctx.runQuery(api.bank.balance, { owner: "new" }, { useStaleSnapshot: true });
      return [fresh, old];
    } });
"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, ts_bank_project):
    return _copy_project(tmp_path_factory.mktemp("sandbox"), ts_bank_project, "sandbox.ts", SANDBOX_TS)


def test_settimeout_in_a_mutation_is_refused_and_virtual_in_actions(sandbox):
    sim = ConvexSim.from_project(sandbox)
    with pytest.raises(NondeterminismError, match="sandbox:late: Can't use setTimeout in queries and mutations"):
        sim.mutation("sandbox:late", {})
    assert sim.action("sandbox:waits", {}) == ["fast", "slow"]
    assert sim.calls[-1].logs == ['[LOG] sandbox:waits: timers fired [ "fast", "slow" ]']
    with pytest.raises(Exception, match="sandbox:hangs did not finish"):
        sim.action("sandbox:hangs", {})


def test_meta_snapshot_ts_transaction_metrics_and_function_metadata(sandbox):
    sim = ConvexSim.from_project(sandbox)
    sim.mutation("tasks:create", {"title": "first"})
    got = sim.mutation("sandbox:meta", {})
    assert got["ts"] == sim.db.latest_ts - 1 and isinstance(got["ts"], int)   # a bigint snapshot
    assert got["fn"] == {"name": "sandbox:meta", "componentPath": "", "type": "mutation", "visibility": "public"}
    assert got["written"] == 1


def test_run_query_with_a_stale_snapshot_misses_the_transactions_own_writes(sandbox):
    assert ConvexSim.from_project(sandbox).mutation("sandbox:stale", {}) == [5, 0]


def test_a_failing_nested_mutation_rolls_back_only_its_own_writes(sandbox):
    sim = ConvexSim.from_project(sandbox)
    got = sim.mutation("sandbox:outer", {})
    assert "inner fails" in got["caught"] and got["titles"] == ["outer"]
    assert [t["title"] for t in sim.run(lambda ctx: ctx.db.query("tasks").collect())] == ["outer"]


def test_action_async_runs_a_ts_action_on_a_worker_thread(sandbox):
    sim = ConvexSim.from_project(sandbox)
    assert asyncio.run(sim.action_async("sandbox:waits", {})) == ["fast", "slow"]


def test_builtins_newer_than_the_engine_are_provided(sandbox):
    got = ConvexSim.from_project(sandbox).query("sandbox:modern", {})
    assert got == [3.0, True, 2.0, [1.0, 2.0, 3.0], 2.0, {"odd": [1.0, 3.0], "even": [2.0]}]


def test_process_env(sandbox):
    assert ConvexSim.from_project(sandbox).query("sandbox:region", {}) is None
    assert ConvexSim.from_project(sandbox, env={"REGION": "eu"}).query("sandbox:region", {}) == "eu"


def test_dates_are_utc_whatever_the_host_timezone(sandbox, monkeypatch):
    expected = ["Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)", "2024-01-02T03:00:00.000Z", 0.0]
    for zone in ("UTC", "Asia/Tokyo", "America/New_York"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert ConvexSim.from_project(sandbox).query("sandbox:dates", {}) == expected
    monkeypatch.undo()
    time.tzset()


def test_a_syntax_error_names_the_file_and_line(tmp_path, ts_bank_project):
    project = _copy_project(tmp_path, ts_bank_project, "broken.ts", """
        export const x = ;
    """)
    with pytest.raises(BundleError, match=r"convex/broken\.ts:2:\d+"):
        bundle_project(project)


def test_module_discovery_follows_the_convex_cli(tmp_path):
    convex = tmp_path / "convex"
    for name in ("a.ts", "dir/b.ts", "schema.ts", "auth.config.ts", "x.test.ts", "types.d.ts",
                 "_generated/api.js", ".hidden.ts", "notes.md", "#a.ts#", "with space.ts",
                 "c.mts", "empty.ts", "nested/convex.config.ts", "nested/inner.ts"):
        (convex / name).parent.mkdir(parents=True, exist_ok=True)
        (convex / name).write_text("" if name == "empty.ts" else "export const x = 1;\n")
    # empty.ts: no import or export; nested/: holds convex.config.ts, a component definition
    assert module_paths(convex) == ["a", "c", "dir/b"]


def test_no_esbuild_is_a_clear_error(tmp_path):
    (tmp_path / "convex").mkdir()
    with pytest.raises(BundleError, match="run `npm install`"):
        bundle_project(tmp_path)


def _copy_project(tmp_path, source, name, code):
    """A copy of the TS bank (node_modules linked) with one more module."""
    import shutil

    target = tmp_path / "app"
    shutil.copytree(source / "convex", target / "convex")
    shutil.copy(source / "package.json", target / "package.json")
    (target / "node_modules").symlink_to(source / "node_modules")
    (target / "convex" / name).write_text(textwrap.dedent(code))
    return target
