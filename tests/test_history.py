"""History retirement: what no reader can see goes; what a reader can still see stays."""

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convex_sim import ConvexSim
from convex_sim.database import TOP, Database, HistoryRetiredError
from convex_sim.subscriptions import check_consistency
from convex_sim.values import sort_key
from scenarios.bank.schema import schema as bank_schema
from tests.conftest import BANK, seed_accounts

INDEXES = 3  # accounts: by_id, by_creation_time, by_owner


def bump(db, doc_id, by=1, **fields):
    txn = db.begin("bump")
    doc = txn.get(doc_id)
    txn.patch(doc_id, {"balance": doc["balance"] + by, **fields})
    return txn.commit()


def owners(txn, owner=None):
    lo, hi = ((sort_key(owner),), (sort_key(owner), TOP)) if owner is not None else ((), (TOP,))
    return [(d["owner"], d["balance"]) for d in txn.scan("accounts", "by_owner", lo, hi)]


def test_superseded_versions_index_entries_and_log_are_retired(db):
    ids = seed_accounts(db, ada=0, bob=0)
    for _ in range(500):
        bump(db, ids["ada"])
        bump(db, ids["bob"])
    stats = db.history.stats()
    assert stats["versions"] <= 2 + db.history.batch  # retired in batches as commits go
    assert stats["log"] <= 2 * db.history.batch
    db.collect_history()
    stats = db.history.stats()
    assert (stats["documents"], stats["versions"], stats["index_entries"]) == (2, 2, 2 * INDEXES)
    assert stats["floor"] == db.latest_ts
    assert owners(db.begin()) == [("ada", 500), ("bob", 500)]


def test_deleted_documents_leave_the_store_entirely(db):
    ids = seed_accounts(db, ada=0, bob=0)
    txn = db.begin()
    txn.delete(ids["ada"])
    txn.commit()
    db.collect_history()
    stats = db.history.stats()
    assert (stats["documents"], stats["versions"], stats["index_entries"]) == (1, 1, INDEXES)
    assert db.begin().get(ids["ada"]) is None
    assert db.table_of_id(ids["ada"]) == "accounts"  # still an ID of the table


def test_an_open_transaction_keeps_its_snapshot(db):
    ids = seed_accounts(db, ada=0)
    reader = db.begin("reader")
    for _ in range(200):
        bump(db, ids["ada"], owner="ada" if _ % 2 else "adb")
    db.collect_history()
    assert db.history.stats()["versions"] == 201
    assert reader.get(ids["ada"])["balance"] == 0
    assert owners(reader) == [("ada", 0)]
    assert owners(reader, "adb") == []
    reader.abort()
    db.collect_history()
    assert db.history.stats()["versions"] == 1
    assert db.history.stats()["index_entries"] == INDEXES


def test_an_abandoned_transaction_stops_pinning_when_it_is_garbage(db):
    ids = seed_accounts(db, ada=0)
    reader = db.begin("reader")
    for _ in range(10):
        bump(db, ids["ada"])
    del reader
    gc.collect()
    db.collect_history()
    assert db.history.stats()["versions"] == 1


def test_a_snapshot_keeps_what_rewind_needs_and_rewind_is_exact(db):
    ids = seed_accounts(db, ada=5, bob=7)
    snap = db.snapshot()
    before = owners(db.begin())
    for i in range(300):
        bump(db, ids["ada"], owner="carol" if i % 3 == 0 else "ada")
        txn = db.begin()
        txn.insert("accounts", {"owner": f"x{i}", "balance": i})
        txn.commit()
    db.collect_history()
    assert len(db.commits_after(snap.ts)) == 600
    db.rewind(snap)
    assert owners(db.begin()) == before
    db.collect_history()
    stats = db.history.stats()
    assert (stats["documents"], stats["versions"], stats["index_entries"]) == (2, 2, 2 * INDEXES)
    del snap
    bump(db, ids["ada"])
    db.collect_history()
    assert db.history.stats()["versions"] == 2 and db.history.stats()["log"] == 0


def test_reading_retired_history_is_a_clear_error(db):
    ids = seed_accounts(db, ada=0)
    old = db.latest_ts
    for _ in range(5):
        bump(db, ids["ada"])
    db.collect_history()
    with pytest.raises(HistoryRetiredError, match=f"state at ts {old}.*retired"):
        db.begin("late reader", at_ts=old)
    with pytest.raises(HistoryRetiredError):
        db.commits_after(old)
    with pytest.raises(HistoryRetiredError):
        db.pin(old)
    with pytest.raises(HistoryRetiredError):   # the commit right after it is gone too
        db.commits_after(db.latest_ts - 1)
    assert db.commits_after(db.latest_ts) == []


def test_a_subscribed_client_keeps_its_transitions_checkable():
    sim = ConvexSim(bank_schema, modules="scenarios.bank", seed=0)
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 1_000})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    client = sim.client()
    client.keep_transitions = None   # every transition kept, so all of the history stays pinned
    client.subscribe("bank:balance", {"owner": "bob"})
    for _ in range(150):
        sim.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 1})
    sim.db.collect_history()
    assert sim.db.history.stats()["versions"] > 150
    report = check_consistency(client)
    assert report.ok and report.transitions_checked == 151
    client.close()
    sim.db.collect_history()
    assert sim.db.history.stats()["versions"] == 2


def test_a_counterexample_replays_after_later_commits(bank):
    from convex_sim import Op

    ops = [Op("bank:transfer_via_action", {"src": "ada", "dst": "bob", "amount": 60})] * 2
    result = bank.explore(ops, invariant=lambda ctx: bank_no_overdraft(ctx))
    (example,) = result.failures
    for _ in range(200):
        bank.mutation("bank:transfer", {"src": "bob", "dst": "ada", "amount": 0})
    bank.db.collect_history()
    run = example.replay()
    assert "has balance -" in run.failure
    assert bank.query("bank:balance", {"owner": "ada"}) == 100  # replay rewound to its start


def bank_no_overdraft(ctx):
    from scenarios.bank.bank import no_overdraft

    no_overdraft(ctx)


# -- a model check: every reader sees exactly its snapshot while history is retired around it --

OPS = st.lists(st.one_of(
    st.tuples(st.just("insert"), st.sampled_from("abc")),
    st.tuples(st.just("patch"), st.integers(0, 7), st.sampled_from("abc"), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.integers(0, 7)),
    st.tuples(st.just("reader")),
    st.tuples(st.just("close"), st.integers(0, 7)),
    st.tuples(st.just("snapshot")),
    st.tuples(st.just("rewind"), st.integers(0, 7)),
    st.tuples(st.just("drop"), st.integers(0, 7)),
), max_size=40)


@settings(max_examples=150, deadline=None)
@given(OPS, st.integers(1, 3))
def test_readers_see_their_snapshot_exactly_while_history_is_retired(ops, batch):
    db = Database(BANK, seed=0)
    db.history.batch = batch  # collect (almost) at every commit
    states: dict[int, dict[str, tuple[str, int]]] = {0: {}}   # the model: ts -> {id: (owner, balance)}
    readers, snaps = [], []

    def commit(change):
        model = dict(states[db.latest_ts])
        txn = db.begin()
        change(txn, model)
        states[txn.commit()] = model

    def insert(txn, model, owner):
        model[txn.insert("accounts", {"owner": owner, "balance": 0})] = (owner, 0)

    def patch(txn, model, doc, owner, balance):
        txn.patch(doc, {"owner": owner, "balance": balance})
        model[doc] = (owner, balance)

    def delete(txn, model, doc):
        txn.delete(doc)
        del model[doc]

    for op in ops:
        live = sorted(states[db.latest_ts])
        doc = live[op[1] % len(live)] if live and op[0] in ("patch", "delete") else None
        if op[0] == "insert":
            commit(lambda txn, model, o=op[1]: insert(txn, model, o))
        elif op[0] == "patch" and doc:
            commit(lambda txn, model, d=doc, o=op[2], b=op[3]: patch(txn, model, d, o, b))
        elif op[0] == "delete" and doc:
            commit(lambda txn, model, d=doc: delete(txn, model, d))
        elif op[0] == "reader":
            readers.append(db.begin("reader", read_only=True))
        elif op[0] == "close" and readers:
            readers.pop(op[1] % len(readers)).abort()
        elif op[0] == "snapshot":
            snaps.append(db.snapshot())
        elif op[0] == "rewind" and snaps:
            snap = snaps[op[1] % len(snaps)]
            for reader in [r for r in readers if r.begin_ts > snap.ts]:
                readers.remove(reader)
                reader.abort()
            snaps = [s for s in snaps if s.ts <= snap.ts]
            db.rewind(snap)
            states = {ts: state for ts, state in states.items() if ts <= snap.ts}
            del snap  # only the list holds snapshots
        elif op[0] == "drop" and snaps:
            snaps.pop(op[1] % len(snaps))
        every_id = {i for state in states.values() for i in state}
        for reader in readers:
            state = states[reader.begin_ts]
            assert sorted(owners(reader)) == sorted(state.values())
            for owner in "abc":
                assert sorted(owners(reader, owner)) == sorted(x for x in state.values() if x[0] == owner)
            for doc_id in sorted(every_id):
                doc = reader.get(doc_id)
                assert (doc["owner"], doc["balance"]) == state[doc_id] if doc else doc_id not in state
    for reader in readers:
        reader.abort()
    snaps.clear()
    gc.collect()
    db.collect_history()
    current = states[db.latest_ts]
    stats = db.history.stats()
    assert (stats["documents"], stats["versions"]) == (len(current), len(current))
    assert stats["index_entries"] == INDEXES * len(current)
    assert sorted(owners(db.begin())) == sorted(current.values())


def test_the_call_log_keeps_the_latest_calls(bank):
    from convex_sim.sim import CallLog

    bank.calls = CallLog(limit=3)
    state = bank.capture_state()
    for _ in range(5):
        bank.query("bank:balance", {"owner": "ada"})
    assert (bank.calls.total, len(bank.calls), bank.calls.dropped) == (5, 3, 2)
    assert all(record.path == "bank:balance" for record in bank.calls)
    bank.restore_state(state)
    assert (bank.calls.total, len(bank.calls)) == (0, 0)


def test_a_dropped_simulator_is_freed_at_once_without_the_garbage_collector():
    import weakref

    gc.disable()
    try:
        sim = ConvexSim(bank_schema, modules="scenarios.bank", seed=0)
        freed = weakref.ref(sim.db)
        del sim
        assert freed() is None  # no reference cycle: freed by reference counting
    finally:
        gc.enable()
