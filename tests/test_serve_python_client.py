"""The official Python ``convex.ConvexClient`` (a Rust client over the WebSocket sync protocol)
against ``convex-sim serve`` (docs/serve.md).

It connects to ``/api/sync`` (no version in the path) and holds the GIL while it waits for an
answer, so the server runs in a child process (``ServerProcess``), not on a thread of the test's
own interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest
from convex import ConvexClient, ConvexError, ConvexInt64
from convex.http_client import ConvexHttpClient

from convex_sim.serve import ServerProcess

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bank_process():
    """The Python bank scenario served by ``convex-sim serve --app`` in a child process."""
    with ServerProcess(app="scenarios.bank", cwd=ROOT) as server:
        yield server


def until(values, want, *, at_most: int = 20) -> list:
    """The values a subscription yields up to and including ``want``, repeats dropped: it
    yields the latest value after every transition, changed or not, so the value it showed
    before may come again first; at most ``at_most`` of them."""
    seen: list = []
    for count, value in enumerate(values, 1):
        if not seen or seen[-1] != value:
            seen.append(value)
        if value == want:
            return seen
        assert count < at_most, f"subscription never showed {want!r}; it showed {seen}"
    raise AssertionError(f"subscription ended before showing {want!r}; it showed {seen}")


def test_mutation_query_and_action_answer(bank_process):
    """The first mutation returns (it used to hang: /api/sync was not served), and each call
    sees the ones before it."""
    client = ConvexClient(bank_process.url)
    account = client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(100)})
    assert isinstance(account, str) and account
    client.mutation("bank:open_account", {"owner": "bob", "balance": ConvexInt64(0)})
    assert client.action("bank:transfer_via_action",
                         {"src": "ada", "dst": "bob", "amount": ConvexInt64(30)}) == ConvexInt64(30)
    assert client.query("bank:balance", {"owner": "ada"}) == ConvexInt64(70)
    assert client.query("bank:total") == ConvexInt64(100)


def test_convex_error_data_and_unknown_functions_reach_the_caller(bank_process):
    client = ConvexClient(bank_process.url)
    client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(1)})
    with pytest.raises(ConvexError) as caught:
        client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(1)})
    assert caught.value.data == {"code": "ACCOUNT_EXISTS", "owner": "ada"}
    with pytest.raises(Exception, match="Could not find public function for 'bank:debit'"):
        client.mutation("bank:debit", {"owner": "ada", "amount": ConvexInt64(1)})
    with pytest.raises(Exception, match="Could not find public function for 'bank:nope'"):
        client.query("bank:nope")


def test_subscription_sees_each_commit_that_changes_it(bank_process):
    """A subscription shows the value at once, then the effect of the client's own mutation,
    of an action, and of another client's mutation over HTTP."""
    client = ConvexClient(bank_process.url)
    client.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(100)})
    values = iter(client.subscribe("bank:balance", {"owner": "ada"}))
    assert next(values) == ConvexInt64(100)
    client.mutation("bank:open_account", {"owner": "bob", "balance": ConvexInt64(0)})
    client.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": ConvexInt64(10)})
    assert until(values, ConvexInt64(90)) in ([ConvexInt64(90)], [ConvexInt64(100), ConvexInt64(90)])
    client.action("bank:transfer_via_action", {"src": "ada", "dst": "bob", "amount": ConvexInt64(40)})
    assert until(values, ConvexInt64(50)) in ([ConvexInt64(50)], [ConvexInt64(90), ConvexInt64(50)])
    ConvexHttpClient(bank_process.url).mutation("bank:transfer",
                                                {"src": "ada", "dst": "bob", "amount": ConvexInt64(5)})
    assert until(values, ConvexInt64(45)) in ([ConvexInt64(45)], [ConvexInt64(50), ConvexInt64(45)])


def test_two_clients_see_the_same_commits(bank_process):
    """One client's mutation updates another client's subscription."""
    writer, reader = ConvexClient(bank_process.url), ConvexClient(bank_process.url)
    values = iter(reader.subscribe("bank:total"))
    assert next(values) == ConvexInt64(0)
    writer.mutation("bank:open_account", {"owner": "ada", "balance": ConvexInt64(7)})
    assert until(values, ConvexInt64(7)) in ([ConvexInt64(7)], [ConvexInt64(0), ConvexInt64(7)])
    assert reader.query("bank:total") == ConvexInt64(7)


def test_the_child_stops_cleanly(tmp_path):
    """ServerProcess stops the child as Ctrl-C does: exit code 0."""
    server = ServerProcess(app="scenarios.bank", cwd=ROOT).start()
    assert ConvexClient(server.url).query("bank:total") == ConvexInt64(0)
    assert server.stop() == 0
    assert server.stop() == 0   # stopping twice is harmless
