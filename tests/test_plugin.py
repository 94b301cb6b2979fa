"""The pytest plugin, exercised with pytester."""

import pytest

APP = {
    "__init__.py": "",
    "schema.py": """
from convex_sim import define_schema, define_table, v
schema = define_schema({"notes": define_table({"text": v.string()})})
""",
    "notes.py": """
from convex_sim import mutation, query, v
import random

@mutation(args={"text": v.string()})
def add(ctx, args):
    return ctx.db.insert("notes", {"text": args["text"]})

@query(args={})
def count(ctx, args):
    return len(ctx.db.query("notes").collect())

@mutation(args={})
def roll(ctx, args):
    return random.random()
""",
}


def run(pytester, *args):
    """Run pytest in-process without Hypothesis' plugin (it costs ~1.4 s per session)."""
    return pytester.runpytest("-p", "no:hypothesispytest", *args)


def make_app(pytester, name):
    pkg = pytester.mkpydir(name)
    for filename, text in APP.items():
        (pkg / filename).write_text(text)
    pytester.syspathinsert()


def test_ini_options_configure_the_fixture(pytester):
    make_app(pytester, "appini")
    pytester.makeini("[pytest]\nconvex_sim_app = appini\nconvex_sim_schema = appini.schema:schema\n")
    pytester.makepyfile("""
        def test_add(convex):
            convex.mutation("notes:add", {"text": "hi"})
            assert convex.query("notes:count", {}) == 1

        def test_fresh_per_test(convex):
            assert convex.query("notes:count", {}) == 0
    """)
    run(pytester).assert_outcomes(passed=2)


def test_marker_overrides_and_default_schema_location(pytester):
    make_app(pytester, "appmark")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.convex_app("appmark")
        def test_marked(convex):
            convex.mutation("notes:add", {"text": "hi"})
            assert convex.schema is not None
            assert convex.query("notes:count", {}) == 1
    """)
    run(pytester).assert_outcomes(passed=1)


def test_seed_option_fixed_and_random(pytester):
    make_app(pytester, "appseed")
    pytester.makeini("[pytest]\nconvex_sim_app = appseed\n")
    pytester.makepyfile("""
        def test_seed(convex, request):
            print("SEED", convex.seed, "ROLL", convex.mutation("notes:roll", {}))
    """)
    default = run(pytester, "-s")
    default.stdout.fnmatch_lines(["convex-sim: seed 0 *", "*SEED 0 ROLL *"])
    fixed = run(pytester, "-s", "--convex-seed", "42")
    fixed.stdout.fnmatch_lines(["*SEED 42 ROLL *"])
    again = run(pytester, "-s", "--convex-seed", "42")
    roll = [line for line in fixed.outlines if "SEED 42" in line]
    assert roll and roll == [line for line in again.outlines if "SEED 42" in line]
    assert roll != [line for line in default.outlines if "SEED 0" in line]
    randomized = run(pytester, "-s", "--convex-seed", "random")
    randomized.stdout.fnmatch_lines(["convex-sim: seed * (reproduce with --convex-seed *)"])
    bad = run(pytester, "--convex-seed", "abc")
    assert bad.ret != 0
    bad.stderr.fnmatch_lines(["*--convex-seed expects an integer or 'random'*"])


def test_failure_report_shows_seed_and_calls(pytester):
    make_app(pytester, "appfail")
    pytester.makeini("[pytest]\nconvex_sim_app = appfail\n")
    pytester.makepyfile("""
        import pytest
        from convex_sim import ArgumentValidationError

        def test_broken(convex):
            convex.mutation("notes:add", {"text": "first"})
            with pytest.raises(ArgumentValidationError):
                convex.mutation("notes:add", {"text": 5})
            assert convex.query("notes:count", {}) == 2
    """)
    result = run(pytester, "--convex-seed", "7")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*convex-sim*",
        "seed 7, 3 call(s)*",
        "*1. mutation notes:add({'text': 'first'}) -> '*'",
        "*2. mutation notes:add({'text': 5}) !! ArgumentValidationError*Path: .text*",
        "*3. query notes:count({}) -> 1",
        "reproduce: pytest 'test_failure_report_shows_seed_and_calls.py::test_broken' --convex-seed 7",
    ])


def test_passing_tests_get_no_section(pytester):
    make_app(pytester, "apppass")
    pytester.makeini("[pytest]\nconvex_sim_app = apppass\n")
    pytester.makepyfile("""
        def test_ok(convex):
            convex.query("notes:count", {})
    """)
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1)
    assert "reproduce:" not in result.stdout.str()


@pytest.mark.parametrize("spec", ["nosuchpkg.schema:schema", "appbad.schema:nothing"])
def test_bad_schema_spec_is_a_usage_error(pytester, spec):
    make_app(pytester, "appbad")
    pytester.makeini(f"[pytest]\nconvex_sim_app = appbad\nconvex_sim_schema = {spec}\n")
    pytester.makepyfile("def test_x(convex):\n    pass\n")
    result = run(pytester)
    assert result.ret != 0
    assert "convex_sim_schema" in result.stdout.str() + result.stderr.str()


BANK_TEST = """
from convex_sim import Op

def no_overdraft(ctx):
    for a in ctx.db.query("accounts").collect():
        assert a["balance"] >= 0, f"{a['owner']} has balance {a['balance']}"

def test_race(convex):
    convex.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    convex.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    args = {"src": "ada", "dst": "bob", "amount": 60}
    result = convex.explore([Op("bank:transfer_via_action", args)] * 2, invariant=no_overdraft,
                            check_serializable=False, strategy="random")
    print("SCHEDULES", result.schedules_run)
    result.assert_ok()
"""


def test_explore_budget_option_and_failure_report(pytester):
    pytester.makeini("[pytest]\nconvex_sim_app = scenarios.bank\n")
    pytester.makepyfile(BANK_TEST)
    result = run(pytester, "-s", "--convex-explore-budget", "25")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*SCHEDULES 25*",
        "E*Schedule '*' (6 steps*",
        "E*FAILED (after step 6): invariant failed: ada has balance -20",
        "E*seed 0; replay: sim.replay_schedule(*)",
        "*convex-sim*",
        "explore: random: 25 schedules*",
        "  schedule '*': its timeline is in the failure above",
    ])
    bad = run(pytester, "--convex-explore-budget", "0")
    assert bad.ret != 0


def test_check_history_option_fails_a_test_with_a_dependency_cycle(pytester):
    make_app(pytester, "apphist")
    pytester.makeini("[pytest]\nconvex_sim_app = apphist\n")
    pytester.makepyfile("""
        def test_fine(convex):
            for text in "abc":
                convex.mutation("notes:add", {"text": text})

        def test_lost_update(convex, monkeypatch):
            note = convex.mutation("notes:add", {"text": "x"})
            monkeypatch.setattr(type(convex.db), "find_conflict", lambda self, reads, since: None)
            first, second = convex.db.begin("edit one"), convex.db.begin("edit two")
            for txn in (first, second):
                txn.patch(note, {"text": txn.get(note)["text"] + "!"})
            first.commit()
            second.commit()
    """)
    off = run(pytester)
    off.assert_outcomes(passed=2)
    on = run(pytester, "--convex-check-history")
    on.assert_outcomes(passed=1, failed=1)
    on.stdout.fnmatch_lines(["*--convex-check-history: history: 3 transactions (3 committed)*1 anomaly",
                             "*G-single: a cycle with exactly one anti-dependency*",
                             "*T3 edit two  snapshot 1 → commit 3",
                             "*rw → T2: T3 read notes * at snapshot 1; T2's update (commit 2) replaced that version"])
