"""App-function coverage: functions reached (any language), branches (Python), per test."""

import pytest

from convex_sim import ConvexError, ConvexSim, Op
from convex_sim.coverage import AppCoverage
from scenarios.bank.schema import schema

TRANSFER = {"src": "ada", "dst": "bob", "amount": 60}


def _by_path(coverage):
    return {r.path: r for r in coverage.results()}


def test_functions_branches_and_contexts_of_a_python_app():
    coverage = AppCoverage(["scenarios.bank"])
    coverage.start()
    try:
        coverage.switch_context("open")
        sim = ConvexSim(schema, modules="scenarios.bank")
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
        sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
        coverage.switch_context("race")
        sim.explore([Op("bank:transfer_via_action", TRANSFER)] * 2, check_serializable=False)
    finally:
        coverage.stop()
    found = _by_path(coverage)
    assert found["bank:open_account"].contexts == ("open",)
    assert (found["bank:open_account"].branches, found["bank:open_account"].branches_taken) == (2, 1)
    assert len(found["bank:open_account"].missing) == 1          # the ACCOUNT_EXISTS branch
    assert found["bank:transfer_via_action"].contexts == ("race",)
    assert found["bank:debit"].ran and found["bank:credit"].ran   # inside explored schedules
    assert not found["bank:transfer"].ran and not found["bank:total"].ran
    report = coverage.report()
    assert "5 of 7 app functions reached" in report
    assert report.endswith("not reached by any test:\n  scenarios.bank bank:total (query)\n"
                           "  scenarios.bank bank:transfer (mutation)")


def test_typescript_functions_get_function_level_coverage(ts):
    coverage = AppCoverage()
    coverage.add_sim(ts)
    coverage.start()
    try:
        coverage.switch_context("ts")
        ts.mutation("bank:open", {"owner": "ada", "amount": 5})
        with pytest.raises(ConvexError):
            ts.mutation("bank:deposit", {"owner": "eve", "amount": 1})
    finally:
        coverage.stop()
    found = _by_path(coverage)
    assert found["bank:open"].ran and found["bank:deposit"].ran
    assert found["bank:open"].language == "typescript" and found["bank:open"].branches is None
    assert not found["bank:transferViaAction"].ran
    assert "bank:open: ran in 1 test; function-level only" in coverage.report()


def test_the_pytest_option_reports_across_tests(pytester):
    pytester.makepyfile(test_app='''
        from convex_sim import ConvexSim
        from scenarios.bank.schema import schema

        def bank():
            sim = ConvexSim(schema, modules="scenarios.bank")
            sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
            return sim

        def test_one():
            bank().query("bank:balance", {"owner": "ada"})

        def test_two():
            bank().query("bank:total", {})
    ''')
    result = pytester.runpytest_subprocess("--convex-coverage=scenarios.bank", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*convex-sim app coverage: 3 of 7 app functions reached",
        "*scenarios.bank bank:open_account: ran in 2 tests; branches 1/2 (missing *)",
        "*scenarios.bank bank:total: ran in 1 test; no branches",
        "not reached by any test:",
        "*bank:transfer (mutation)",
    ])


def test_the_pytest_option_without_a_value_leaves_the_next_argument_a_test_path(pytester):
    """``--convex-coverage tests/x.py``: the path is what to test (packages come with ``=``)."""
    pytester.makepyfile(test_only='''
        import pytest

        @pytest.mark.convex_app("scenarios.bank")
        def test_one(convex):
            convex.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    ''')
    pytester.makepyfile(test_other="def test_not_selected():\n    assert False\n")
    result = pytester.runpytest_subprocess("--convex-coverage", "test_only.py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*convex-sim app coverage: 1 of 7 app functions reached"])
