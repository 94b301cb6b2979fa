"""``convex-sim serve``'s sync protocol by hand, message by message, as convex-backend answers
it: heartbeats, reconnects, mutations sent again, client versions, loopback, and what the
server's own query re-runs leave in ``sim.calls`` (docs/serve.md)."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from convex_sim import ConvexSim
from convex_sim.cli import main
from convex_sim.serve import ServeError, Server
from convex_sim.serve.server import is_loopback
from convex_sim.serve.sync import decode_ts, encode_ts
from convex_sim.values import from_json


def bank() -> ConvexSim:
    from scenarios.bank.schema import schema

    return ConvexSim(schema, modules="scenarios.bank", seed=0)


def ws_url(server: Server, path: str = "/api/1.27.0/sync") -> str:
    return server.url.replace("http", "ws") + path


class Socket:
    """A raw sync connection: ``send`` a message, ``recv`` the next one (Pings skipped)."""

    def __init__(self, ws) -> None:
        self.ws = ws

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, *, pings: bool = False) -> dict:
        while True:
            message = json.loads(self.ws.recv(timeout=10))
            if pings or message["type"] != "Ping":
                return message

    def connect(self, session: str = "s", **fields) -> None:
        self.send({"type": "Connect", "sessionId": session, "connectionCount": 0, **fields})

    def add(self, query_id: int, path: str, args: dict, base: int = 0) -> dict:
        self.send({"type": "ModifyQuerySet", "baseVersion": base, "newVersion": base + 1,
                   "modifications": [{"type": "Add", "queryId": query_id, "udfPath": path,
                                      "args": [args]}]})
        return self.recv()

    def mutation(self, request_id: int, path: str, args: dict) -> tuple[dict, dict]:
        """Send a mutation; its response and the transition after it."""
        self.send({"type": "Mutation", "requestId": request_id, "udfPath": path, "args": [args]})
        return self.recv(), self.recv()


def values(transition: dict) -> dict[int, object]:
    return {m["queryId"]: from_json(m["value"]) for m in transition["modifications"]
            if m["type"] == "QueryUpdated"}


INT = {"$integer": encode_ts(0)}   # an int64 0, encoded (the same 8 bytes as a timestamp)


def int64(n: int) -> dict:
    return {"$integer": encode_ts(n)}


# -- Ping ------------------------------------------------------------------------------------


def test_an_idle_connection_gets_pings():
    """As the backend's sync worker: a Ping after heartbeat_s without a message."""
    with Server(bank(), heartbeat_s=0.1) as server, connect(ws_url(server)) as ws:
        socket = Socket(ws)
        socket.connect()
        assert socket.recv(pings=True) == {"type": "Ping"}
        assert socket.recv(pings=True) == {"type": "Ping"}   # and again while it stays idle


def test_no_pings_when_the_heartbeat_is_off():
    with Server(bank(), heartbeat_s=None) as server, connect(ws_url(server)) as ws:
        Socket(ws).connect()
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)


# -- timestamps, reconnects, mutations sent again -----------------------------------------------


def test_a_mutations_ts_is_reached_by_the_transition_after_it():
    with Server(bank(), heartbeat_s=None) as server, connect(ws_url(server)) as ws:
        socket = Socket(ws)
        socket.connect()
        first = socket.add(0, "bank:balance", {"owner": "ada"})
        response, transition = socket.mutation(0, "bank:open_account",
                                               {"owner": "ada", "balance": int64(100)})
        assert response["type"] == "MutationResponse" and response["success"]
        assert transition["startVersion"] == first["endVersion"]
        assert decode_ts(transition["endVersion"]["ts"]) >= decode_ts(response["ts"]) > \
            decode_ts(first["endVersion"]["ts"])
        assert values(transition) == {0: 100}
        refused, after = socket.mutation(1, "bank:open_account", {"owner": "ada", "balance": INT})
        assert (refused["success"], refused["ts"]) == (False, None)
        assert refused["errorData"] == {"code": "ACCOUNT_EXISTS", "owner": "ada"}
        assert after["type"] == "Transition"   # the Rust client completes a ConvexError on one


def test_a_reconnecting_client_gets_a_fresh_consistent_state():
    """A client that reconnects (Connect with connectionCount, lastCloseReason and
    maxObservedTimestamp) starts from the initial version and gets every query at the
    latest timestamp, including what changed while it was away."""
    sim = bank()
    with Server(sim, heartbeat_s=None) as server:
        with connect(ws_url(server)) as ws:
            socket = Socket(ws)
            socket.connect(session="tab")
            socket.add(0, "bank:balance", {"owner": "ada"})
            response, _ = socket.mutation(0, "bank:open_account", {"owner": "ada", "balance": int64(100)})
        sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
        sim.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 30})
        with connect(ws_url(server)) as ws:
            socket = Socket(ws)
            socket.connect(session="tab", connectionCount=1, lastCloseReason="InactiveServer",
                           maxObservedTimestamp=response["ts"])
            fresh = socket.add(0, "bank:balance", {"owner": "ada"})
            assert fresh["startVersion"] == {"querySet": 0, "identity": 0, "ts": encode_ts(0)}
            assert decode_ts(fresh["endVersion"]["ts"]) == sim.db.latest_ts
            assert values(fresh) == {0: 70}
            # The mutation sent again (its response was lost with the old socket) is answered
            # from the first run, not run twice: no ACCOUNT_EXISTS, the same ts.
            again, _ = socket.mutation(0, "bank:open_account", {"owner": "ada", "balance": int64(100)})
            assert again == response
    opened = [c for c in sim.calls if c.path == "bank:open_account" and c.args["owner"] == "ada"]
    assert len(opened) == 1


def test_a_client_that_saw_a_later_timestamp_is_refused():
    """maxObservedTimestamp ahead of the server (it talked to another server): FatalError
    naming both timestamps, then close 1011, as the backend refuses it."""
    with Server(bank(), heartbeat_s=None) as server, connect(ws_url(server)) as ws:
        socket = Socket(ws)
        socket.connect(maxObservedTimestamp=encode_ts(99))
        fatal = socket.recv()
        assert fatal["type"] == "FatalError"
        assert "observed a timestamp 99 ahead of the backend latest known timestamp 0" in fatal["error"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1011


def test_a_query_set_version_out_of_step_is_a_fatal_error():
    with Server(bank(), heartbeat_s=None) as server, connect(ws_url(server)) as ws:
        socket = Socket(ws)
        socket.add(0, "bank:total", {})
        socket.send({"type": "ModifyQuerySet", "baseVersion": 5, "newVersion": 6, "modifications": []})
        fatal = socket.recv()
        assert fatal == {"type": "FatalError",
                         "error": "Base version 5 passed up doesn't match the current version 1"}


def test_queries_that_cannot_run_fail_in_the_transition():
    """An unknown or internal function, or bad arguments: QueryFailed with Convex's message;
    the connection stays open."""
    with Server(bank(), heartbeat_s=None) as server, connect(ws_url(server)) as ws:
        socket = Socket(ws)
        socket.send({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "bank:nope", "args": [{}]},
            {"type": "Add", "queryId": 1, "udfPath": "bank:debit", "args": [{}]},
            {"type": "Add", "queryId": 2, "udfPath": "bank:balance", "args": [{"owner": 3}]},
            {"type": "Add", "queryId": 3, "udfPath": "bank:total", "args": [{}]}]})
        got = {m["queryId"]: m for m in socket.recv()["modifications"]}
        assert got[0]["type"] == got[1]["type"] == got[2]["type"] == "QueryFailed"
        assert got[0]["errorMessage"].startswith("Could not find public function for 'bank:nope'")
        assert got[1]["errorMessage"].startswith("Could not find public function for 'bank:debit'")
        assert "Failed to validate arguments for bank:balance" in got[2]["errorMessage"]
        assert got[3] == {"type": "QueryUpdated", "queryId": 3, "value": INT, "logLines": [], "journal": None}


# -- client versions -------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "headers", "code", "says"), [
    ("/api/banana/sync", {}, "InvalidClientVersion", "'banana'"),
    ("/api/0.19.0/sync", {}, "ClientVersionUnsupported",
     "The Convex npm package at version 0.19.0 is no longer supported"),
    ("/api/sync", {"Convex-Client": "python-0.0.1"}, "ClientVersionUnsupported",
     "`pip install --upgrade convex`"),
    ("/api/sync", {"Convex-Client": "nodash"}, "InvalidClientVersion", "{client_name}-{semver}"),
], ids=["not-semver", "old-npm", "old-python", "bad-header"])
def test_a_wrong_client_version_is_refused_before_the_socket_opens(path, headers, code, says):
    """400 with Convex's {code, message}, as the backend's ExtractClientVersion answers."""
    with Server(bank(), heartbeat_s=None) as server:
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(server, path), additional_headers=headers)
        response = refused.value.response
        assert response.status_code == 400
        body = json.loads(response.body)
        assert body["code"] == code and says in body["message"]


@pytest.mark.parametrize(("path", "headers"), [("/api/sync", {}), ("/api/1.27.0/sync", {}),
                                               ("/api/sync", {"Convex-Client": "python-0.8.1"}),
                                               ("/api/sync", {"Convex-Client": "my-client-0.0.1"})])
def test_current_clients_are_accepted(path, headers):
    with Server(bank(), heartbeat_s=None) as server, \
            connect(ws_url(server, path), additional_headers=headers) as ws:
        assert Socket(ws).add(0, "bank:total", {})["type"] == "Transition"


# -- loopback only ---------------------------------------------------------------------------


def test_loopback_addresses():
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "10.1.2.3", "::", "192.168.0.1"))


def test_a_non_loopback_host_is_refused_unless_allowed():
    with pytest.raises(ServeError, match="--allow-non-loopback"):
        Server(bank(), host="0.0.0.0")
    with Server(bank(), host="0.0.0.0", allow_non_loopback=True) as server:
        assert server.url.startswith("http://0.0.0.0:")


def test_the_cli_refuses_a_non_loopback_host(capsys):
    assert main(["serve", "--app", "scenarios.bank", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "--host 0.0.0.0 is not a loopback address" in err and "--allow-non-loopback" in err


# -- what the server's own re-runs leave in sim.calls -----------------------------------------


def test_transitions_do_not_record_calls_and_rerun_only_what_a_commit_touched():
    """Subscribed queries are re-run by the simulator's subscription manager: only those whose
    read set a commit touched, and not as calls; ``sim.calls`` holds what clients called."""
    sim = bank()
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 10})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 10})
    before = sim.calls.total
    with Server(sim, heartbeat_s=None) as server, connect(ws_url(server)) as ws:
        socket = Socket(ws)
        socket.add(0, "bank:balance", {"owner": "ada"})
        socket.add(1, "bank:balance", {"owner": "bob"}, base=1)
        reruns = sim.subscriptions.reruns
        _, transition = socket.mutation(0, "bank:transfer", {"src": "ada", "dst": "bob", "amount": int64(1)})
        assert values(transition) == {0: 9, 1: 11}
        assert sim.subscriptions.reruns == reruns + 2
        sim.mutation("bank:open_account", {"owner": "cy", "balance": 5})   # in neither read set
        assert sim.subscriptions.reruns == reruns + 2
    assert [(c.kind, c.path) for c in list(sim.calls)[-(sim.calls.total - before):]] == [
        ("mutation", "bank:transfer"), ("mutation", "bank:open_account")]


@pytest.mark.parametrize(("argv", "says"), [
    ([], "exactly one of them"),
    (["somewhere", "--app", "scenarios.bank"], "exactly one of them"),
    (["--app", "no_such_package_anywhere"], "no_such_package_anywhere"),
    (["--app", "scenarios.bank", "--schema", "scenarios.bank.schema:nothing"], "has no attribute 'nothing'"),
], ids=["neither", "both", "missing-app", "bad-schema"])
def test_the_cli_refuses_what_it_cannot_serve(argv, says, capsys):
    assert main(["serve", "--port", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convex-sim serve: ") and says in err


def test_a_write_made_on_the_simulator_itself_reaches_subscribed_clients():
    """The test's own ``sim.mutation(...)`` (the ``convex`` fixture beside ``convex_server``)
    is a commit like any other: subscribed connections get their transition. After the
    server stops, the simulator no longer tells it about commits."""
    sim = bank()
    with Server(sim, heartbeat_s=None) as server, connect(ws_url(server)) as ws:
        socket = Socket(ws)
        socket.add(0, "bank:total", {})
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 12})
        assert values(socket.recv()) == {0: 12}
    listeners = list(sim.db.commit_listeners)
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 1})   # no server, no error
    assert all(getattr(listener, "__self__", None) is not server._app.state.sync_hub
               for listener in listeners)
