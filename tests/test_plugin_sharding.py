"""--convex-shard i/n: every exploration of a test run runs one shard; pytest-xdist changes no verdict."""

import json
import re

import pytest

BANK_TESTS = """
import json, os
from convex_sim import Op

ARGS = {"src": "ada", "dst": "bob", "amount": 60}

def no_overdraft(ctx):
    for a in ctx.db.query("accounts").collect():
        assert a["balance"] >= 0, f"{a['owner']} has balance {a['balance']}"

def explore(convex, name, ops, **checks):
    convex.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    convex.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    result = convex.explore(ops, **checks)
    with open(os.path.join(os.environ["SCHEDULES_DIR"], name + ".json"), "w") as out:
        json.dump(result.schedules, out)
    result.assert_ok()

def test_transfer_is_correct(convex):
    explore(convex, "transfer", [Op("bank:transfer", ARGS)] * 3, invariant=no_overdraft)

def test_transfer_via_action_overdraws(convex):
    explore(convex, "overdraft", [Op("bank:transfer_via_action", ARGS)] * 2, invariant=no_overdraft)

def test_transfer_via_action_is_not_serializable(convex):
    explore(convex, "serializable", [Op("bank:transfer_via_action", ARGS)] * 2)

def test_credits_commute(convex):
    explore(convex, "credits", [Op("bank:credit", {"owner": "ada", "amount": 5})] * 3)
"""


def run(pytester, tmp_path, label, *args, subprocess=False):
    """Run the bank tests; return ({test: outcome}, {exploration: schedules})."""
    out = tmp_path / label
    out.mkdir()
    pytester.makeini("[pytest]\nconvex_sim_app = scenarios.bank\n")
    pytester.makepyfile(test_bank=BANK_TESTS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCHEDULES_DIR", str(out))
        runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
        result = runner("-p", "no:hypothesispytest", "-p", "no:cacheprovider", "-rA", *args)
    verdicts = dict((name, outcome) for outcome, name in
                    re.findall(r"^(PASSED|FAILED) test_bank\.py::(\w+)", result.stdout.str(), re.M))
    assert len(verdicts) == 4, result.stdout.str()
    if "-n" in args and args[args.index("-n") + 1] != "0":
        result.stdout.fnmatch_lines(["*created: 2/2 workers*"])   # really in parallel
    return verdicts, {p.stem: json.loads(p.read_text()) for p in out.iterdir()}


def test_the_shards_of_a_run_split_every_exploration_and_find_the_same_failures(pytester, tmp_path):
    whole, whole_schedules = run(pytester, tmp_path, "whole")
    assert sorted(k for k, v in whole.items() if v == "FAILED") == [
        "test_transfer_via_action_is_not_serializable", "test_transfer_via_action_overdraws"]
    failed, schedules = set(), {name: [] for name in whole_schedules}
    for i in range(4):
        verdicts, ran = run(pytester, tmp_path, f"shard{i}", "--convex-shard", f"{i}/4")
        failed |= {k for k, v in verdicts.items() if v == "FAILED"}
        for name, run_here in ran.items():
            schedules[name] += run_here
    assert failed == {k for k, v in whole.items() if v == "FAILED"}
    for name, expected in whole_schedules.items():
        assert sorted(schedules[name]) == sorted(expected), name   # disjoint, and all of them


def test_xdist_workers_give_the_verdicts_of_one_process(pytester, tmp_path):
    pytest.importorskip("xdist")
    for shard in ([], ["--convex-shard", "1/3"]):
        label = "".join(shard).replace("/", "of")
        serial = run(pytester, tmp_path, f"n0{label}", "-n", "0", *shard, subprocess=True)
        parallel = run(pytester, tmp_path, f"n2{label}", "-n", "2", *shard, subprocess=True)
        assert parallel == serial


def test_bad_shard_option_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x():\n    pass\n")
    for bad in ("4/4", "1", "a/b", "-1/2"):
        result = pytester.runpytest("-p", "no:hypothesispytest", f"--convex-shard={bad}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert "--convex-shard expects i/n" in result.stderr.str()


def test_the_shard_is_in_the_report_header(pytester):
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:hypothesispytest", "--convex-shard", "2/5")
    result.stdout.fnmatch_lines(["convex-sim: seed 0 *; explorations: shard 2/5"])
