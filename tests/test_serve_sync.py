"""``convex-sim serve``'s WebSocket sync protocol: the official ``ConvexClient`` (npm), under
Node, subscribes, runs mutations and sees its subscription update (docs/serve.md)."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from convex_sim import ConvexSim
from convex_sim.js.bundler import node_tools_missing
from convex_sim.serve import Server

CLIENT = textwrap.dedent("""
    import { ConvexClient } from "convex/browser";
    import { anyApi } from "convex/server";
    import WebSocket from "ws";
    const client = new ConvexClient(process.argv[2], {
      webSocketConstructor: WebSocket, skipConvexDeploymentUrlCheck: true, logger: false });
    const seen = [];
    let waiting = null;
    const until = (want) => new Promise((resolve) => {
      waiting = { want, resolve };
      if (seen.at(-1) === want) resolve();
    });
    client.onUpdate(anyApi.bank.balance, { owner: "bob" }, (value) => {
      seen.push(value);
      if (waiting && value === waiting.want) waiting.resolve();
    });
    await until(0);
    await client.mutation(anyApi.bank.open, { owner: "ada", amount: 100 });
    await client.mutation(anyApi.bank.open, { owner: "bob", amount: 5 });
    await until(5);
    await client.mutation(anyApi.bank.transfer, { src: "ada", dst: "bob", amount: 30 });
    await until(35);
    let refused = null;
    try {
      await client.mutation(anyApi.bank.transfer, { src: "ada", dst: "bob", amount: 1000 });
    } catch (e) { refused = e.data; }
    await fetch(process.argv[2] + "/api/mutation", { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ path: "bank:deposit", args: { owner: "bob", amount: 1 } }) });
    await until(36);
    const total = await client.query(anyApi.bank.total, {});
    await client.close();
    console.log(JSON.stringify({ seen, refused, total }));
""")


@pytest.fixture
def ts_server(ts_bank_project):
    """The TypeScript bank scenario, served."""
    with Server(ConvexSim.from_project(ts_bank_project, seed=0)) as server:
        yield server


def test_node_convex_client_sees_its_subscription_update(ts_server, ts_bank_project, tmp_path):
    """onUpdate sees the initial value, then each committed mutation's effect, including one
    made over HTTP by another client; a mutation's ConvexError reaches the caller."""
    missing = node_tools_missing()
    if missing:
        pytest.skip(missing)
    (tmp_path / "node_modules").symlink_to(ts_bank_project / "node_modules")
    script = tmp_path / "client.mjs"
    script.write_text(CLIENT)
    done = subprocess.run(["node", str(script), ts_server.url], capture_output=True, text=True,
                          timeout=30, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["seen"] == [0, 5, 35, 36]
    assert got["refused"] == {"code": "INSUFFICIENT_FUNDS", "balance": 70}
    assert got["total"] == 106



def test_authenticate_answers_queries_anew_as_the_user(ts_bank_project):
    """The protocol by hand: a query set, then a token: the query is answered again as that
    user (a new identity version); a token that does not validate is an AuthError."""
    from websockets.sync.client import connect

    from convex_sim.auth import TestIssuer

    issuer = TestIssuer(domain="https://issuer.test", application_id="app")
    sim = ConvexSim.from_project(ts_bank_project, seed=0, auth_providers=[issuer.provider])
    with Server(sim) as server, connect(server.url.replace("http", "ws") + "/api/1.0.0/sync") as ws:
        def send(message: dict) -> dict:
            ws.send(json.dumps(message))
            return json.loads(ws.recv(timeout=10))

        ws.send(json.dumps({"type": "Connect", "sessionId": "s", "connectionCount": 0}))
        first = send({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "tasks:whoami", "args": [{}]}]})
        assert first["endVersion"]["querySet"] == 1
        assert first["modifications"][0]["value"] is None
        second = send({"type": "Authenticate", "tokenType": "User", "baseVersion": 0,
                       "value": issuer.token("ada")})
        assert second["startVersion"] == first["endVersion"]
        assert second["endVersion"]["identity"] == 1
        assert second["modifications"][0]["value"]["subject"] == "ada"
        refused = send({"type": "Authenticate", "tokenType": "User", "baseVersion": 1, "value": "x"})
        assert (refused["type"], refused["baseVersion"]) == ("AuthError", 1)


@pytest.mark.parametrize("garbage", ["not json", "[1, 2]", '{"type": "Teleport"}',
                                     '{"type": "ModifyQuerySet", "modifications": [{"type": "Add"}]}'],
                         ids=["text", "array", "unknown-type", "missing-fields"])
def test_a_malformed_message_closes_that_connection_with_a_fatal_error(ts_bank_project, garbage):
    """The client gets the protocol's FatalError and its connection is closed; the server
    goes on serving the others."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    sim = ConvexSim.from_project(ts_bank_project, seed=0)
    with Server(sim) as server:
        url = server.url.replace("http", "ws") + "/api/1.0.0/sync"
        with connect(url) as good, connect(url) as bad:
            bad.send(garbage)
            fatal = json.loads(bad.recv(timeout=10))
            assert fatal["type"] == "FatalError" and "malformed" in fatal["error"]
            with pytest.raises(ConnectionClosed):
                bad.recv(timeout=10)
            good.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
                                  "modifications": [{"type": "Add", "queryId": 0,
                                                     "udfPath": "bank:balance", "args": [{"owner": "x"}]}]}))
            assert json.loads(good.recv(timeout=10))["type"] == "Transition"
