"""RecordingClient around the official ``convex`` client, with a simulator standing in for
the deployment behind the client's compiled layer (no deployment is reachable here)."""

import json

import pytest

from convex_sim import ConvexError, ConvexSim
from convex_sim.auth import TestIssuer
from convex_sim.trace import RecordingClient, TraceReader, sim_for_trace
from scenarios.bank.schema import schema

convex = pytest.importorskip("convex")
from convex.values import ConvexInt64  # noqa: E402


def to_sim(value):
    if isinstance(value, ConvexInt64):
        return value.value
    if isinstance(value, dict):
        return {k: to_sim(x) for k, x in value.items()}
    if isinstance(value, list):
        return [to_sim(x) for x in value]
    return value


def to_client(value):
    if type(value) is int:
        return ConvexInt64(value)
    if isinstance(value, dict):
        return {k: to_client(x) for k, x in value.items()}
    if isinstance(value, list):
        return [to_client(x) for x in value]
    return value


class Deployment:
    """Stands in for ``_convex.PyConvexClient``: the official client's compiled layer."""

    def __init__(self, sim):
        self.sim, self.handle = sim, sim

    def set_auth(self, token):
        self.handle = self.sim.with_token(token) if token else self.sim

    def _run(self, kind, name, args):
        try:
            return {"type": "value", "value": to_client(getattr(self.handle, kind)(name, to_sim(args)))}
        except ConvexError as exc:
            return {"type": "convexerror", "message": str(exc), "data": to_client(exc.data)}

    def query(self, name, args):
        return self._run("query", name, args)

    def mutation(self, name, args):
        return self._run("mutation", name, args)

    def action(self, name, args):
        return self._run("action", name, args)


def official_client(sim):
    client = object.__new__(convex.ConvexClient)   # its constructor would open a WebSocket
    client.client = Deployment(sim)
    return client


def traffic(client, token):
    client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(100)})
    client.mutation("bank:open_account", {"owner": "bob", "balance": ConvexInt64(0)})
    client.set_auth(token)
    client.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": ConvexInt64(30)})
    with pytest.raises(convex.ConvexError) as caught:
        client.mutation("bank:transfer", {"src": "bob", "dst": "ada", "amount": ConvexInt64(99)})
    assert caught.value.data == {"code": "INSUFFICIENT_FUNDS"}
    balance = client.query("bank:balance", {"owner": "bob"})
    assert isinstance(balance, ConvexInt64) and balance.value == 30


def test_recording_client_writes_a_trace_that_replays_identically(tmp_path):
    issuer = TestIssuer(domain="https://issuer.test", application_id="app")
    deployment = ConvexSim(schema, modules="scenarios.bank", seed=0, auth_providers=[issuer.provider])
    path = tmp_path / "prod.jsonl"
    with RecordingClient(official_client(deployment), path, app="scenarios.bank") as client:
        traffic(client, issuer.token("ada", name="Ada"))
    header = json.loads(path.read_text().splitlines()[0])
    assert header["source"] == "convex-py" and header["fetches"] == "live"
    calls = [event for _, event in TraceReader(path).events()]
    assert [c["path"] for c in calls] == ["bank:open_account"] * 2 + ["bank:transfer"] * 2 + ["bank:balance"]
    assert calls[0]["args"] == {"owner": "ada", "balance": {"$integer": "ZAAAAAAAAAA="}}
    assert calls[2]["identity"]["subject"] == "ada" and calls[2]["identity"]["name"] == "Ada"
    assert calls[3]["error"] == {"type": "ConvexError", "data": {"code": "INSUFFICIENT_FUNDS"}}
    assert calls[4]["result"] == {"$integer": "HgAAAAAAAAA="}
    assert all(c["start"] <= c["end"] for c in calls)
    report = sim_for_trace(path, app="scenarios.bank").replay(path)
    assert report.ok, str(report)


def test_a_deployment_that_answered_differently_diverges(tmp_path):
    deployment = ConvexSim(schema, modules="scenarios.bank", seed=0)
    path = tmp_path / "prod.jsonl"
    with RecordingClient(official_client(deployment), path) as client:
        client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(100)})
        deployment.run(lambda ctx: ctx.db.patch(ctx.db.query("accounts").first()["_id"], {"balance": 7}))
        assert client.query("bank:balance", {"owner": "ada"}).value == 7
    report = sim_for_trace(path, app="scenarios.bank").replay(path)
    assert not report.ok and report.first.line == 3
    assert report.first.diff == ['result: expected {"$integer": "BwAAAAAAAAA="}, got {"$integer": "ZAAAAAAAAAA="}']
