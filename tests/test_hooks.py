"""Plugins through pluggy: a third-party checker found by entry point, commit observers,
trace importers."""


import pytest

from convex_sim import ConvexSim, Op
from convex_sim.hooks import checkers, hookimpl, import_trace, plugin_manager
from scenarios.bank.schema import schema

PLUGIN = '''
from convex_sim.hooks import hookimpl

CALLS = []


def no_negative_balance(ctx):
    CALLS.append(ctx)
    for account in ctx.db.query("accounts").collect():
        assert account["balance"] >= 0, f"plugin: {account['owner']} at {account['balance']}"


@hookimpl
def convex_sim_register_checker(sim):
    return no_negative_balance
'''

TEST = '''
import myplugin
from convex_sim import ConvexSim, Op
from scenarios.bank.schema import schema

TRANSFER = {"src": "ada", "dst": "bob", "amount": 60}


def bank():
    sim = ConvexSim(schema, modules="scenarios.bank")
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    return sim


def test_the_plugin_checker_runs_after_every_commit_of_every_schedule():
    result = bank().explore([Op("bank:transfer", TRANSFER)] * 2, reduction=False)
    assert result.ok and result.schedules_run > 1
    # the checker runs after each commit, and every schedule commits at least once
    assert len(myplugin.CALLS) >= result.schedules_run


def test_the_plugin_checker_finds_the_overdraft_without_an_invariant():
    result = bank().explore([Op("bank:transfer_via_action", TRANSFER)] * 2,
                            check_serializable=False)
    assert not result.ok
    assert "plugin: ada at -20" in str(result.failures[0])
'''


def test_a_third_party_plugin_registers_a_checker_through_its_entry_point(pytester):
    pytester.makepyfile(myplugin=PLUGIN, test_inner=TEST)
    info = pytester.mkdir("myplugin-1.0.dist-info")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[convex_sim]\nmoney = myplugin\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_without_the_entry_point_the_checker_is_absent(pytester):
    pytester.makepyfile(myplugin=PLUGIN, test_inner=TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)


class _Recorder:
    def __init__(self):
        self.commits = []

    @hookimpl
    def convex_sim_on_commit(self, sim, commit):
        self.commits.append((sim, commit.ts))

    @hookimpl
    def convex_sim_trace_importer(self, path):
        return [{"event": "header", "from": path}] if path.endswith(".har") else None


@pytest.fixture
def recorder():
    plugin = _Recorder()
    plugin_manager().register(plugin)
    yield plugin
    plugin_manager().unregister(plugin)


def test_on_commit_sees_every_commit_including_explored_ones(recorder):
    sim = ConvexSim(schema, modules="scenarios.bank")
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    assert recorder.commits == [(sim, sim.db.latest_ts)]
    result = sim.explore([Op("bank:open_account", {"owner": "bob", "balance": 1})])
    assert result.schedules_run == 1 and len(recorder.commits) > 1


def test_a_sim_made_without_commit_hooks_pays_nothing():
    sim = ConvexSim(schema)
    assert sim.db.commit_listeners == []
    assert checkers(sim) == []


def test_trace_importers(recorder):
    assert import_trace("calls.har") == [{"event": "header", "from": "calls.har"}]
    with pytest.raises(ValueError, match="no convex-sim plugin can import"):
        import_trace("calls.unknown")
