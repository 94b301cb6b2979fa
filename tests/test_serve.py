"""``convex-sim serve``: Convex's own HTTP clients, unchanged, against a served simulator
(docs/serve.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap

import httpx
import pytest
from convex import ConvexError as ClientConvexError
from convex import ConvexInt64
from convex.http_client import ConvexExecutionError, ConvexHttpClient

from convex_sim import ConvexSim
from convex_sim.auth import TestIssuer
from convex_sim.cli import main
from convex_sim.serve import Server

ISSUER = TestIssuer(domain="https://issuer.test", application_id="app")


@pytest.fixture
def bank():
    """The Python bank scenario, served; yields (client, sim)."""
    from scenarios.bank.schema import schema

    sim = ConvexSim(schema, modules="scenarios.bank", seed=0)
    with Server(sim) as server:
        yield ConvexHttpClient(server.url), sim


@pytest.fixture
def ts_server(ts_bank_project):
    """The TypeScript bank scenario, served, trusting ISSUER's tokens."""
    sim = ConvexSim.from_project(ts_bank_project, seed=0, auth_providers=[ISSUER.provider])
    with Server(sim) as server:
        yield server


def test_python_client_mutation_query_action(bank):
    client, sim = bank
    client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(100)})
    client.mutation("bank:open_account", {"owner": "bob", "balance": ConvexInt64(0)})
    client.action("bank:transfer_via_action", {"src": "ada", "dst": "bob", "amount": ConvexInt64(30)})
    assert client.query("bank:balance", {"owner": "bob"}) == ConvexInt64(30)
    assert sim.query("bank:balance", {"owner": "ada"}) == 70   # the same simulator


def test_python_client_sees_convex_error_data(bank):
    client, _ = bank
    client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(1)})
    with pytest.raises(ClientConvexError) as caught:
        client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(1)})
    assert caught.value.data == {"code": "ACCOUNT_EXISTS", "owner": "ada"}


def test_unknown_and_internal_functions_are_refused(bank):
    client, _ = bank
    with pytest.raises(ConvexExecutionError, match="Could not find public function for 'bank:nope'"):
        client.query("bank:nope")
    with pytest.raises(ConvexExecutionError, match="Could not find public function for 'bank:debit'"):
        client.mutation("bank:debit", {"owner": "ada", "amount": ConvexInt64(1)})


def test_malformed_bodies_are_400_with_a_message(bank):
    client, _ = bank
    for body in (b"{not json", b'{"path": "bank:total", "args": [1, 2]}', b'{"args": {}}'):
        response = httpx.post(f"{client.address}/api/query", content=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "BadJsonBody"
        assert response.json()["message"]


def test_a_bad_token_is_401(bank):
    client, _ = bank
    client.set_auth("not-a-jwt")
    response = httpx.post(f"{client.address}/api/query", json={"path": "bank:total", "args": {}},
                          headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.json()["code"] == "Unauthenticated"


def test_typescript_app_through_the_python_client(ts_server):
    client = ConvexHttpClient(ts_server.url)
    client.mutation("bank:open", {"owner": "ada", "amount": 100})
    client.mutation("bank:open", {"owner": "bob", "amount": 0})
    client.action("bank:transferViaAction", {"src": "ada", "dst": "bob", "amount": 40})
    assert client.query("bank:balance", {"owner": "bob"}) == 40
    with pytest.raises(ClientConvexError) as caught:
        client.mutation("errors:refuse")
    assert caught.value.data == {"code": "REFUSED", "detail": {"retry": False, "after": 30}}
    with pytest.raises(ConvexExecutionError, match="Could not find public function for 'bank:debit'"):
        client.mutation("bank:debit", {"owner": "ada", "amount": 1})


def test_a_token_becomes_the_callers_identity(ts_server):
    client = ConvexHttpClient(ts_server.url)
    assert client.query("tasks:whoami") is None
    client.set_auth(ISSUER.token("ada", name="Ada"))
    me = client.query("tasks:whoami")
    assert (me["subject"], me["name"], me["issuer"]) == ("ada", "Ada", "https://issuer.test")


def test_http_actions_are_served_under_http(ts_server):
    response = httpx.get(f"{ts_server.site_url}/hello/ann", params={"name": "ann"})
    assert (response.status_code, response.text) == (200, "hello ann from /hello/ann")
    assert httpx.get(f"{ts_server.site_url}/nowhere").status_code == 404


def test_node_convex_http_client(ts_server, ts_bank_project, tmp_path):
    """ConvexHttpClient from the project's own convex npm package, under Node."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: install Node.js 18+ to run ConvexHttpClient.")
    (tmp_path / "node_modules").symlink_to(ts_bank_project / "node_modules")
    script = tmp_path / "client.mjs"
    script.write_text(textwrap.dedent("""
        import { ConvexHttpClient } from "convex/browser";
        import { anyApi } from "convex/server";
        const client = new ConvexHttpClient(process.argv[2], { logger: false });
        await client.mutation(anyApi.bank.open, { owner: "ada", amount: 5 });
        let refused = null;
        try { await client.mutation(anyApi.errors.refuse, {}); } catch (e) { refused = e.data; }
        const balance = await client.query(anyApi.bank.balance, { owner: "ada" });
        console.log(JSON.stringify({ balance, refused }));
    """))
    done = subprocess.run(["node", str(script), ts_server.url], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"balance": 5, "refused": {"code": "REFUSED",
                                                                 "detail": {"retry": False, "after": 30}}}


@pytest.mark.convex_app("scenarios.bank")
def test_convex_server_fixture_serves_the_convex_fixture(convex_server, convex):
    client = ConvexHttpClient(convex_server.url)
    client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(7)})
    assert convex.query("bank:balance", {"owner": "ada"}) == 7


def test_cli_refuses_a_missing_project(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing")]) == 2
    assert "convex-sim serve:" in capsys.readouterr().err


def test_cli_refuses_a_bad_port(ts_bank_project, capsys):
    assert main(["serve", str(ts_bank_project), "--port", "-1"]) == 2


def test_cli_serves_until_ctrl_c_then_exits_0(ts_bank_project):
    import signal
    import sys

    process = subprocess.Popen([sys.executable, "-m", "convex_sim", "serve", str(ts_bank_project),
                                "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split(" at ")[1].split(";")[0]
        reply = httpx.post(f"{url}/api/query", json={"path": "bank:total", "args": {}, "format": "json"})
        assert reply.json() == {"status": "success", "value": 0.0, "logLines": []}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_run_and_function_endpoints_call_by_the_functions_own_kind(bank):
    client, _ = bank
    client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(9)})
    by_url = httpx.post(f"{client.address}/api/run/bank/balance", json={"args": {"owner": "ada"},
                                                                        "format": "json"})
    assert by_url.json()["value"] == 9
    any_kind = httpx.post(f"{client.address}/api/function", json={
        "path": "bank:balance", "args": {"owner": "ada"}, "format": "convex_encoded_json"})
    assert any_kind.json()["value"] == {"$integer": "CQAAAAAAAAA="}
    wrong = httpx.post(f"{client.address}/api/mutation", json={"path": "bank:balance", "args": {}})
    assert wrong.json()["errorMessage"] == "Trying to execute bank:balance as Mutation, but it is defined as Query."
