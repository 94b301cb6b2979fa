"""Recording a served session (``Server(sim, record=...)``, ``convex-sim serve --record``) as a
trace that ``convex-sim replay`` replays: the same results against the same app, a divergence
against a changed one (docs/serve.md, docs/trace-format.md)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from convex import ConvexClient, ConvexInt64
from convex.http_client import ConvexHttpClient
from websockets.sync.client import connect

from convex_sim import ConvexSim
from convex_sim.cli import main
from convex_sim.serve import Server, ServerProcess

ROOT = Path(__file__).resolve().parent.parent


def events(trace: Path) -> list[dict]:
    lines = trace.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["format"] == "convex-sim-trace"
    return [json.loads(line) for line in lines[1:]]


def changed_bank(folder: Path) -> str:
    """A copy of the bank app whose transfer keeps a fee of 1: package ``bank_with_fee``."""
    package = folder / "bank_with_fee"
    shutil.copytree(ROOT / "scenarios" / "bank", package, ignore=shutil.ignore_patterns("__pycache__"))
    source = (package / "bank.py").read_text(encoding="utf-8")
    credit = 'ctx.db.patch(dst["_id"], {"balance": dst["balance"] + args["amount"]})'
    assert credit in source
    (package / "bank.py").write_text(source.replace(credit, credit.replace('args["amount"]',
                                                                           'args["amount"] - 1')))
    return package.name


def replay(trace: Path, app: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "convex_sim", "replay", str(trace), "--app", app],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_a_served_session_is_recorded_and_replays(tmp_path, capsys):
    """HTTP and WebSocket calls are recorded in the order they ran, with their results; the
    queries the server re-ran for subscriptions are not; the file appears whole when the
    server stops; ``convex-sim replay`` matches every call."""
    from scenarios.bank.schema import schema

    trace = tmp_path / "session.jsonl"
    sim = ConvexSim(schema, modules="scenarios.bank", seed=0)
    with Server(sim, record=trace, heartbeat_s=None) as server:
        http = ConvexHttpClient(server.url)
        http.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(100)})
        http.mutation("bank:open_account", {"owner": "bob", "balance": ConvexInt64(0)})
        with connect(server.url.replace("http", "ws") + "/api/sync") as ws:
            ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
                {"type": "Add", "queryId": 0, "udfPath": "bank:balance", "args": [{"owner": "bob"}]}]}))
            assert json.loads(ws.recv(timeout=10))["type"] == "Transition"
            ws.send(json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "bank:transfer",
                                "args": [{"src": "ada", "dst": "bob", "amount": {"$integer": "HgAAAAAAAAA="}}]}))
            assert json.loads(ws.recv(timeout=10))["success"] is True
        http.action("bank:transfer_via_action", {"src": "ada", "dst": "bob", "amount": ConvexInt64(5)})
        assert http.query("bank:balance", {"owner": "bob"}) == ConvexInt64(35)
        assert not trace.exists()   # written whole, when the server stops
    recorded = [(e["kind"], e["path"]) for e in events(trace)]
    assert recorded == [("mutation", "bank:open_account"), ("mutation", "bank:open_account"),
                        ("mutation", "bank:transfer"), ("action", "bank:transfer_via_action"),
                        ("query", "bank:balance")]
    assert not (tmp_path / "session.jsonl.partial").exists()
    assert main(["replay", str(trace), "--app", "scenarios.bank"]) == 0
    assert "5 events replayed, no divergence" in capsys.readouterr().out


def test_cli_records_a_python_client_session_and_replay_finds_a_changed_app(tmp_path):
    """``convex-sim serve --app ... --record FILE`` with the Python ConvexClient, stopped as by
    Ctrl-C (exit 0): the trace replays with exit 0 against the app, and exit 1 against a copy
    that keeps a fee, naming the first call whose outcome differs. The client's one-shot query
    is a subscription over the WebSocket, not a call: it is not in the trace."""
    trace = tmp_path / "served.jsonl"
    with ServerProcess(app="scenarios.bank", record=trace, cwd=ROOT) as server:
        client = ConvexClient(server.url)
        client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(100)})
        client.mutation("bank:open_account", {"owner": "bob", "balance": ConvexInt64(0)})
        client.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": ConvexInt64(30)})
        client.mutation("bank:transfer", {"src": "bob", "dst": "ada", "amount": ConvexInt64(30)})
        assert client.query("bank:balance", {"owner": "ada"}) == ConvexInt64(100)
    assert server.returncode == 0, server.stderr()
    assert f"recorded 4 events to {trace}" in server.stdout
    assert [(e["kind"], e["path"]) for e in events(trace)] == [
        ("mutation", "bank:open_account"), ("mutation", "bank:open_account"),
        ("mutation", "bank:transfer"), ("mutation", "bank:transfer")]

    same = replay(trace, "scenarios.bank", ROOT)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "4 events replayed, no divergence" in same.stdout

    changed = replay(trace, changed_bank(tmp_path), tmp_path)   # bob got 29: he cannot send 30
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "line 5: mutation bank:transfer" in changed.stdout
    assert "INSUFFICIENT_FUNDS" in changed.stdout


def test_a_typescript_session_replays_against_its_project(ts_bank_project, tmp_path, capsys):
    trace = tmp_path / "ts.jsonl"
    with Server(ConvexSim.from_project(ts_bank_project, seed=0), record=trace) as server:
        client = ConvexHttpClient(server.url)
        client.mutation("bank:open", {"owner": "ada", "amount": 100})
        client.mutation("bank:open", {"owner": "bob", "amount": 0})
        client.action("bank:transferViaAction", {"src": "ada", "dst": "bob", "amount": 40})
        assert client.query("bank:balance", {"owner": "bob"}) == 40
    assert [e["kind"] for e in events(trace)] == ["mutation", "mutation", "action", "query"]
    assert main(["replay", str(trace), "--project", str(ts_bank_project)]) == 0
    assert "no divergence" in capsys.readouterr().out


def test_recording_refuses_a_simulator_already_recording(tmp_path):
    from scenarios.bank.schema import schema

    sim = ConvexSim(schema, modules="scenarios.bank", seed=0)
    with sim.record(tmp_path / "outer.jsonl"), pytest.raises(RuntimeError, match="already recording"):
        Server(sim, record=tmp_path / "inner.jsonl").start()


def test_sigterm_stops_the_cli_as_ctrl_c_does_and_the_trace_is_written(tmp_path):
    """uvicorn raises SIGTERM again once stopped; the trace is finished first, exit code 0."""
    trace = tmp_path / "term.jsonl"
    server = ServerProcess(app="scenarios.bank", record=trace, cwd=ROOT).start()
    ConvexHttpClient(server.url).mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(1)})
    assert server.stop(signal.SIGTERM) == 0, server.stderr()
    assert "recorded 1 event to" in server.stdout
    assert [e["path"] for e in events(trace)] == ["bank:open_account"]
