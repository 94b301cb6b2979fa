"""Explored frontends: the real ``ConvexClient`` of the project, its network steered by the
explorer (convex_sim/serve/frontend.py, scenarios/ts_counter_page)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convex_sim import ConvexSim, Op
from convex_sim.explore import make_explorer, replay
from convex_sim.serve.frontend import Frontend, FrontendError
from tests.conftest import prepared_project

PAGE = Path(__file__).resolve().parent.parent / "scenarios" / "ts_counter_page"


@pytest.fixture(scope="module")
def project() -> Path:
    return prepared_project(PAGE)


@pytest.fixture
def sim(project: Path) -> ConvexSim:
    return ConvexSim.from_project(project, seed=0)


def test_an_optimistic_update_that_guesses_before_the_first_result_is_found(sim):
    result = sim.explore([Frontend("src/counterPage.js")], max_schedules=500)
    assert result.exhausted and not result.ok
    [failure] = result.failures
    assert failure.kind == "subscription"
    assert "counter:get() = nan, which no point in time had" in failure.reason
    # the minimal schedule: the click comes before the page received any result
    kinds = [step.kind for step in failure.steps]
    assert kinds.index("event") < kinds.index("deliver")
    assert "after step 3 the page showed" in failure.reason   # lanes: A ↑, B ↓, C page
    # replayable: the same schedule fails the same way
    again = failure.replay()
    assert again.failure == failure.reason


def test_the_fixed_page_passes_every_delivery_order(sim):
    result = sim.explore([Frontend("src/counterPageFixed.js")], max_schedules=500)
    assert result.exhausted and result.ok, result.failures
    assert result.schedules_run > 3   # the click and the deliveries were interleaved


def test_the_checker_judges_what_the_page_showed_against_every_point_in_time(sim):
    # another user's click commits too: the page's views must each be one point in time
    result = sim.explore([Frontend("src/counterPageFixed.js"), Op("counter:increment")], max_schedules=2000)
    assert result.exhausted and result.ok, result.failures
    assert result.distinct_outcomes == 2   # the other user's click returns 1 or 2
    buggy = sim.explore([Frontend("src/counterPage.js"), Op("counter:increment")], max_schedules=2000)
    assert {f.kind for f in buggy.failures} == {"subscription"}


def test_a_dropped_connection_resends_the_mutation_which_runs_once(sim):
    explorer = make_explorer(sim, [Frontend("src/counterPageFixed.js", drops=1)])
    # A = ↑, B = ↓, C = page, D = drop: click, Connect, ModifyQuerySet, the mutation (begin,
    # commit), the connection drops before its reply, the client reconnects and sends it again
    run = replay(explorer, "CAAAADDAAABBC")
    assert run.failure is None, run
    text = str(run)
    assert "connection dropped (3 message(s) lost)" in text
    assert "Mutation counter:increment again: answered from its first run" in text
    assert sim.query("counter:get", {}) == 0   # the simulator is put back after the replay
    result = sim.explore([Frontend("src/counterPageFixed.js", drops=1)], max_schedules=3000)
    assert result.exhausted and result.ok, result.failures
    assert any("D" in schedule for schedule in result.schedules)


def test_reduction_keeps_the_failures_and_outcomes(sim):
    # the query commutes with the page's own steps, except those that commit
    ops = [Frontend("src/counterPage.js"), Op("counter:get")]
    reduced = sim.explore(ops, max_schedules=5000)
    full = sim.explore(ops, max_schedules=5000, reduction=False)
    assert reduced.exhausted and full.exhausted
    assert reduced.schedules_run < full.schedules_run
    assert reduced.distinct_outcomes == full.distinct_outcomes
    assert [f.kind for f in reduced.failures] == [f.kind for f in full.failures]


def test_random_and_pct_strategies_drive_frontends_deterministically(sim):
    ops = [Frontend("src/counterPage.js"), Op("counter:increment")]
    for strategy in ("random", "pct"):
        first = sim.explore(ops, strategy=strategy, max_schedules=40, seed=3)
        second = sim.explore(ops, strategy=strategy, max_schedules=40, seed=3)
        assert first.schedules == second.schedules
        assert [f.schedule for f in first.failures] == [f.schedule for f in second.failures]
        assert {f.kind for f in first.failures} == {"subscription"}


def test_a_missing_script_is_a_clear_error(sim):
    with pytest.raises(FrontendError, match=r"no file src/nope\.js in the project"):
        sim.explore([Frontend("src/nope.js")], max_schedules=1)


def test_a_script_that_does_not_bundle_names_the_file_and_line(sim, project, tmp_path):
    broken = project / "src" / "broken_for_test.js"
    broken.write_text("export default async function (client, ui) {\n  await ui.event(\n}\n")
    try:
        with pytest.raises(FrontendError, match=r"(?s)Bundling the frontend src/broken_for_test\.js failed.*"
                                                r"broken_for_test\.js:3"):
            sim.explore([Frontend("src/broken_for_test.js")], max_schedules=1)
    finally:
        broken.unlink()


def test_an_error_thrown_by_the_page_fails_the_schedule(sim, project):
    page = project / "src" / "throws_for_test.js"
    page.write_text("export default async function (client, ui) {\n"
                    "  await ui.event('click');\n  throw new Error('the page broke');\n}\n")
    try:
        result = sim.explore([Frontend("src/throws_for_test.js")], max_schedules=50)
    finally:
        page.unlink()
    assert not result.ok
    assert result.failures[0].kind == "error JsError"
    assert "the page broke" in result.failures[0].reason


def test_frontend_options_are_checked():
    with pytest.raises(FrontendError, match="drops must be an int >= 0"):
        Frontend("src/counterPage.js", drops=-1)


def test_hypothesis_finds_and_shrinks_the_frontend_bug(sim):
    from hypothesis import HealthCheck, find, settings

    from convex_sim.hypothesis import schedules

    ops = [Frontend("src/counterPage.js"), Op("counter:increment")]

    def fails(choices: list[int]) -> bool:
        return sim.run_schedule(ops, choices).failure is not None

    smallest = find(schedules(max_steps=12), fails,
                    settings=settings(max_examples=300, database=None, derandomize=True,
                                      suppress_health_check=list(HealthCheck)))
    run = sim.run_schedule(ops, smallest)
    assert "which no point in time had" in run.failure
    assert sim.run_schedule(ops, []).failure is None   # by default the network goes first
    assert smallest == [2]   # the click first: the shortest schedule that breaks the page


def test_its_conformance_file_finds_the_bug_and_passes_the_fixed_page(project, tmp_path, capsys):
    from convex_sim.cli import main

    config = project / "conformance.toml"
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok   ") == 3 and "1 failure(s)" in out
    # the same scenarios, the bug no longer declared: the check fails (exit 1)
    undeclared = tmp_path / "page.toml"
    undeclared.write_text(config.read_text().replace('expect = "fail"\n', "").replace(
        'expect_failure = "subscription"\n', "").replace('project = "."', f'project = "{project}"'))
    assert main(["check", str(undeclared)]) == 1


def test_a_frontend_entry_is_checked_in_the_conformance_file(project, tmp_path):
    from convex_sim.check import CheckConfigError, load_config

    bad = tmp_path / "bad.toml"
    bad.write_text(f'[app]\nproject = "{project}"\n\n[[scenario]]\nfrontends = [{{ script = "src/counterPage.js", '
                   'drops = -1 }]\n')
    with pytest.raises(CheckConfigError, match=r"bad\.toml, line 5: .*drops"):
        load_config(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[app]\nproject = "{project}"\n\n[[scenario]]\nname = "nothing"\n')
    with pytest.raises(CheckConfigError, match=r"ops: expected a non-empty array, got \[\] \(a scenario needs ops, or frontends\)"):
        load_config(empty)


def test_check_views_takes_views_ahead_of_time_and_refuses_mixed_times():
    """The subscription-consistency checker of real clients' views, on a Python app."""
    import json as _json

    from convex_sim.subscriptions import View, check_views
    from convex_sim.subscriptions.transitions import canonical_text
    from scenarios.bank.schema import schema

    sim = ConvexSim(schema, "scenarios.bank")
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    t0 = sim.db.latest_ts
    sim.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 30})
    t1 = sim.db.latest_ts

    def key(owner: str) -> tuple[str, str]:
        return ("bank:balance", _json.dumps({"owner": owner}))

    def view(step: int, ada: int, bob: int) -> View:
        return View(step, {key("ada"): canonical_text(ada), key("bob"): canonical_text(bob)})

    times = [t0, t1]
    assert check_views([view(1, 100, 0), view(2, 70, 30)], times, sim.runtime) is None
    # a view the schedule reaches later is fine (an optimistic update guessing right)
    assert check_views([view(1, 70, 30), view(2, 100, 0)], times, sim.runtime) is None
    # ada after the transfer beside bob before it: no single point in time had both
    problem = check_views([view(1, 100, 0), view(5, 70, 0)], times, sim.runtime)
    assert problem is not None and problem.view.step == 5
    assert "after step 5 the page showed bank:balance" in str(problem)
    assert "which no point in time had" in str(problem)
