"""``"use node"`` actions of the TypeScript wallets scenario, run in a real Node.js process."""

import hashlib
import shutil

import httpx
import pytest
import respx

from convex_sim import ConvexError, ConvexSim, Op, UserTimeoutError
from convex_sim.js import JsError, node_runner
from convex_sim.js import project as project_module
from convex_sim.js.bundler import BundleError, bundle_project
from convex_sim.js.node_runner import NodeProcessError, NodeUnavailableError, exported_actions
from scenarios.ts_node import PROJECT, no_negative_credits
from tests.conftest import prepared_project


@pytest.fixture(scope="module")
def node_project():
    """The scenario, installed; skipped where Node.js is missing (its actions need it)."""
    project = prepared_project(PROJECT)
    if shutil.which("node") is None:
        pytest.skip("node not found: install Node.js 18 or newer to run \"use node\" actions")
    return project


@pytest.fixture
def wallets(node_project):
    sim = ConvexSim.from_project(node_project, seed=0, env={"REGION": "eu-west"})
    sim.mutation("wallets:open", {"owner": "ada", "credits": 100})
    return sim


def test_the_node_action_runs_and_its_mutation_commits(wallets):
    out = wallets.action("payments:charge", {"owner": "ada", "amount": 30})
    assert wallets.query("wallets:credits", {"owner": "ada"}) == 70
    [receipt] = wallets.query("wallets:receipts", {"owner": "ada"})
    assert receipt["reference"] == out["reference"] and len(receipt["digest"]) == 64
    assert out["at"] == 1704067200250.0 and receipt["at"] == out["at"]   # after the 250 ms wait
    [call] = [c for c in wallets.calls if c.path == "payments:charge"]
    assert any("payments:charge: charged ada 30" in line for line in call.logs)
    wallets.advance_time(1000)                                           # the scheduled audit
    assert wallets.run(lambda ctx: [a["note"] for a in ctx.db.query("audits").collect()]) == ["charged ada"]


def test_node_actions_are_registered_with_their_validators(wallets):
    fn = wallets.project.registry.resolve("payments:refuse")
    assert fn.kind == "action" and fn.visibility == "internal"
    with pytest.raises(Exception, match=r"payments:charge.*Path: \.amount"):
        wallets.action("payments:charge", {"owner": "ada", "amount": "ten"})


def test_the_explorer_interleaves_the_steps_of_a_node_action(wallets):
    charge = {"owner": "ada", "amount": 60}
    result = wallets.explore([Op("payments:charge", charge)] * 2, invariant=no_negative_credits)
    assert not result.ok and result.distinct_outcomes > 1
    failure = next(f for f in result.failures if f.kind == "invariant")
    assert "ada overdrawn: -20" in str(failure)
    assert wallets.query("wallets:credits", {"owner": "ada"}) == 100     # the sim is untouched
    assert wallets.project.registry.resolve("payments:charge").engine._executions == {}  # none left
    mixed = wallets.explore([Op("payments:charge", {"owner": "ada", "amount": 30}),
                             Op("wallets:open", {"owner": "bo", "credits": 5})],
                            invariant=no_negative_credits)
    assert mixed.ok and mixed.schedules_run > 1


def test_same_seed_same_random_values_clock_and_uuids(node_project):
    def entropy(seed):
        return ConvexSim.from_project(node_project, seed=seed).action("payments:entropy", {})

    first, second = entropy(7), entropy(7)
    assert first == second
    assert first["now"] == 1704067200000.0 and first["date"] == "2024-01-01T00:00:00.000Z"
    assert entropy(8)["random"] != first["random"]
    # the same generator as the embedded engine: the same draws for the same seed
    node = ConvexSim.from_project(node_project, seed=3).action("payments:draw", {})
    embedded = ConvexSim.from_project(node_project, seed=3).action("wallets:draw", {})
    assert node == embedded


def test_node_actions_wait_for_real_io_of_their_own(wallets, node_project):
    out = wallets.action("payments:fingerprint", {})
    assert out["sha256"] == hashlib.sha256((node_project / "package.json").read_bytes()).hexdigest()
    assert out["key"] == hashlib.pbkdf2_hmac("sha256", b"secret", b"salt", 1000, 16).hex()


def test_process_env_is_the_simulators(node_project):
    assert ConvexSim.from_project(node_project, env={"REGION": "us"}).action(
        "payments:entropy", {})["region"] == "us"
    assert ConvexSim.from_project(node_project).action("payments:entropy", {})["region"] is None


def test_fetch_goes_through_httpx(wallets):
    with respx.mock:
        route = respx.get("https://rates.example.com/v1/eur").mock(
            return_value=httpx.Response(200, json={"rate": 1.1}))
        assert wallets.action("payments:quote", {"currency": "eur"}) == {"status": 200.0, "rate": 1.1}
    assert route.calls[0].request.headers["accept"] == "application/json"


def test_app_errors_map_like_embedded_ones(wallets):
    with pytest.raises(ConvexError) as caught:
        wallets.action("payments:charge", {"owner": "ada", "amount": 500})
    assert caught.value.data == {"code": "INSUFFICIENT_CREDITS", "credits": 100.0, "amount": 500.0}
    with pytest.raises(ConvexError) as caught:
        wallets.action("payments:refuse", {"why": "test"})
    assert caught.value.data == {"code": "REFUSED", "why": "test"}
    with pytest.raises(JsError) as error:
        wallets.action("payments:crash", {})
    assert error.value.js_name == "TypeError" and "payments:crash" in str(error.value)
    assert "convex/payments.ts:" in error.value.stack and "node_modules" not in error.value.stack


def test_a_crash_of_node_is_reported_and_the_next_call_restarts_it(wallets):
    with pytest.raises(NodeProcessError, match=r"payments:die.*exited with code 3(.|\n)*giving up"):
        wallets.action("payments:die", {})
    assert wallets.action("payments:charge", {"owner": "ada", "amount": 1})["at"] > 0


def test_a_runaway_node_action_times_out(node_project):
    sim = ConvexSim.from_project(node_project, env={"REGION": "eu-west"},
                                 user_code_limits={"action_seconds": 0.5})
    with pytest.raises(UserTimeoutError, match=r"payments:spin: .*maximum duration: 0\.5s"):
        sim.action("payments:spin", {"ms": 5000})
    assert sim.action("payments:spin", {"ms": 1}) is None


def test_without_node_the_rest_of_the_project_runs(node_project, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "node" else real_which(name, *a, **k))
    monkeypatch.setattr(node_runner, "_ENGINES", {})
    monkeypatch.setattr(project_module, "_PROJECTS", {})
    sim = ConvexSim.from_project(node_project)
    sim.mutation("wallets:open", {"owner": "bo", "credits": 3})
    assert sim.query("wallets:credits", {"owner": "bo"}) == 3
    assert sim.action("wallets:draw", {})["now"] > 0
    with pytest.raises(NodeUnavailableError, match=r'payments:charge is a "use node" action.*install Node\.js 18'):
        sim.action("payments:charge", {"owner": "bo", "amount": 1})


def test_export_names_are_read_from_the_bundle_where_node_cannot_load_it(node_project):
    bundle = bundle_project(node_project)
    paths = {e["path"] for e in exported_actions(bundle.node_file.read_text("utf-8"))}
    assert {"payments:charge", "payments:refuse", "payments:draw"} <= paths


def test_a_use_node_module_may_export_actions_only(node_project, tmp_path):
    shutil.copytree(node_project / "convex", tmp_path / "convex")
    shutil.copy(node_project / "package.json", tmp_path / "package.json")
    (tmp_path / "node_modules").symlink_to(node_project / "node_modules")
    (tmp_path / "convex" / "mixed.ts").write_text(
        '"use node";\nimport { query } from "./_generated/server";\n'
        "export const peek = query({ args: {}, handler: async () => 1 });\n")
    with pytest.raises(BundleError, match=r"`peek` defined in `mixed.js` is a Query function\. "
                                          r"Only actions can be defined in Node\.js"):
        ConvexSim.from_project(tmp_path)
