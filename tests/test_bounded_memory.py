"""Memory stays bounded under load: clients keep a window of transitions, subscriptions a
window of history, and a history recorder can stream to a file. Structural bounds only: no
timing, no large allocations."""

import gc
import json
import tracemalloc

from convex_sim import ConvexSim, Op
from convex_sim.checker import HistoryRecorder, load_history
from convex_sim.subscriptions import KEEP_HISTORY, KEEP_TRANSITIONS, Transition, check_consistency
from scenarios.bank.schema import schema as bank_schema

TRANSFER = {"src": "ada", "dst": "bob", "amount": 1}


def _bank() -> ConvexSim:
    sim = ConvexSim(bank_schema, modules="scenarios.bank", seed=0)
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 10**9})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    return sim


def _watch(sim: ConvexSim):
    """A client with two subscriptions that every transfer changes."""
    client = sim.client()
    subs = [client.subscribe("bank:balance", {"owner": o}) for o in ("ada", "bob")]
    return client, subs


def _transfers(sim: ConvexSim, n: int) -> None:
    for _ in range(n):
        sim.mutation("bank:transfer", TRANSFER)


def test_a_client_keeps_a_window_of_transitions_and_history_after_5000_commits():
    sim = _bank()
    client, subs = _watch(sim)
    _transfers(sim, 5_000)
    log = client.transitions
    assert len(log) == KEEP_TRANSITIONS == client.keep_transitions
    assert log.received == 5_002 and log.dropped == 5_002 - KEEP_TRANSITIONS   # a first one per subscribe
    assert log[-1].ts == sim.db.latest_ts
    for sub in subs:
        assert len(sub.history) == KEEP_HISTORY and sub.history[-1][0] == sim.db.latest_ts
    # the client's pin follows its window, so the store keeps about two windows of history
    assert sim.db.history.stats()["log"] <= 2 * KEEP_TRANSITIONS + 2 * sim.db.history.BATCH
    report = check_consistency(client)
    assert report.ok, report.problems
    assert report.transitions_checked == KEEP_TRANSITIONS
    assert report.transitions_skipped == log.dropped


def test_the_full_log_is_kept_when_asked_for():
    sim = _bank()
    client, subs = _watch(sim)
    client.keep_transitions = None
    client.keep_history = None
    _transfers(sim, 300)
    assert len(client.transitions) == 302 and client.transitions.dropped == 0
    assert all(len(sub.history) == 301 for sub in subs)
    report = check_consistency(client)
    assert report.ok and report.transitions_checked == 302 and report.transitions_skipped == 0
    client.keep_transitions = 10   # a smaller window trims at once
    assert len(client.transitions) == 10 and client.transitions.received == 302


def test_the_checker_judges_the_window_from_the_view_the_dropped_transitions_left():
    sim = _bank()
    client, (ada, _bob) = _watch(sim)
    client.keep_transitions = 5
    _transfers(sim, 20)
    assert check_consistency(client).ok   # the view before the window is rebuilt correctly
    ts = sim.db.latest_ts
    client.transitions.append(Transition(ts, {ada.id: 0}, {ada.id: "0"}, {ada.id: ts}))
    report = check_consistency(client)
    assert not report.ok and "shows 0 at ts" in report.problems[0]
    assert report.problems[0].startswith(f"transition {client.transitions.received}:")
    absolute = client.transitions.received - 1   # ``since`` counts every transition received
    assert check_consistency(client, since=absolute).transitions_checked == 1


def test_an_exploration_leaves_a_full_window_as_it_was():
    sim = _bank()
    client, subs = _watch(sim)
    client.keep_transitions = 8
    _transfers(sim, 20)
    before = (list(client.transitions), client.transitions.dropped, [list(s.history) for s in subs])
    result = sim.explore([Op("bank:transfer", TRANSFER)] * 2, reduction=False)
    assert result.ok
    assert (list(client.transitions), client.transitions.dropped, [list(s.history) for s in subs]) == before
    _transfers(sim, 3)
    assert len(client.transitions) == 8 and check_consistency(client).ok


def test_memory_per_commit_stays_flat_with_many_clients():
    sim = _bank()
    clients = [_watch(sim)[0] for _ in range(20)]
    _transfers(sim, 300)   # windows full
    gc.collect()
    tracemalloc.start()
    try:
        _transfers(sim, 300)
        gc.collect()
        first = tracemalloc.get_traced_memory()[0]
        _transfers(sim, 600)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - first
    finally:
        tracemalloc.stop()
    # every transition kept: 20 clients x 600 transitions (each with three dicts) > 4 MB
    assert grown < 1_500_000, grown
    assert all(len(c.transitions) == KEEP_TRANSITIONS for c in clients)


def test_a_recorder_streams_its_history_to_a_file_keeping_a_bounded_buffer(tmp_path):
    sim = _bank()
    path = tmp_path / "history.jsonl"
    streaming = HistoryRecorder(sim.db, path=path, buffer=50)
    in_memory = HistoryRecorder(sim.db)
    for _ in range(20):
        _transfers(sim, 25)
        assert len(streaming.transactions) <= 50
    streaming.stop()
    in_memory.stop()
    assert streaming.recorded == len(in_memory.transactions) == 500
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"convex_sim_history": 1} and len(lines) == 501
    assert [t.id for t in load_history(path)] == [t.id for t in in_memory.transactions]
    report = streaming.check()
    assert report.ok and report.transactions == 500
    assert str(report) == str(in_memory.check())
