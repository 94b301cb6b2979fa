"""The rest of the test handle on a TypeScript app: subscriptions and clients, crons,
auth.config.ts with JWKS over httpx, process.env, and Python functions' ctx beside TS ones."""

import httpx
import respx

from convex_sim import ConvexSim
from convex_sim.auth import TestIssuer
from convex_sim.subscriptions import check_consistency
from scenarios.ts_bank import open_accounts


def test_subscriptions_follow_ts_mutations(ts):
    open_accounts(ts, ada=10, bob=0)
    sub = ts.subscribe("bank:balance", {"owner": "bob"})
    assert sub.value == 0
    ts.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 4})
    assert sub.value == 4
    ts.mutation("bank:open", {"owner": "cy", "amount": 1})      # does not touch bob's balance
    assert [v for _ts, v in sub.history] == [0, 4]


def test_a_client_sees_one_consistent_timestamp(ts):
    open_accounts(ts, ada=10, bob=0)
    client = ts.client()
    ada, total = client.subscribe("bank:balance", {"owner": "ada"}), client.subscribe("bank:total", {})
    client.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 3})
    assert (ada.value, total.value) == (7, 10)
    assert check_consistency(client).ok


def test_crons_ts_runs_on_the_virtual_clock(ts):
    ts.advance_time(60 * 60 * 1000)
    assert [m["body"] for m in ts.query("messages:list", {"channel": "jobs"})] == ["hourly"]
    ts.advance_time(2 * 60 * 60 * 1000)
    assert len(ts.query("messages:list", {"channel": "jobs"})) == 3


def test_auth_config_ts_is_the_default_provider_and_jwks_come_over_httpx(ts_bank_project):
    issuer = TestIssuer(domain="https://issuer.test", application_id="app")
    with respx.mock:
        respx.get("https://issuer.test/.well-known/jwks.json").mock(
            return_value=httpx.Response(200, json=issuer.jwks))
        sim = ConvexSim.from_project(ts_bank_project)
        task = sim.mutation("tasks:create", {"title": "t"})
        sim.with_token(issuer.token("u9")).mutation("tasks:assign", {"id": task})
    assert sim.run(lambda ctx: ctx.db.get(task))["assignee"] == "u9"


def test_scheduled_functions_listed_with_convex_field_names(ts):
    job = ts.mutation("jobs:scheduleLater", {"ms": 10, "body": "x"})
    (row,) = ts.scheduled()
    assert row["_id"] == job and row["name"] == "jobs:tick"
    ts.finish_all_scheduled_functions()
    assert ts.query("jobs:status", {"id": job})["state"] == {"kind": "success"}
