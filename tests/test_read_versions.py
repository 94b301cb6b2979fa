"""Read versions: every read records the version it saw, and the checker derives its
wr and rw edges from those, not from the snapshot timestamp the engine claims."""

from dataclasses import replace
from pathlib import Path

import pytest

from convex_sim import ConvexSim
from convex_sim.checker import (
    ABSENT,
    HistoryError,
    HistoryRecorder,
    check_history,
    dump_history,
    load_history,
)
from convex_sim.database import TOP
from convex_sim.database.store import _Table
from convex_sim.values import sort_key
from scenarios.bank.schema import schema as bank_schema
from tests.conftest import seed_accounts


def write(db, doc_id: str, balance: int) -> int:
    """Commit a patch of ``doc_id``'s balance; return its commit timestamp."""
    txn = db.begin("write")
    txn.patch(doc_id, {"balance": balance})
    return txn.commit()


def owner(name: str) -> tuple[tuple, tuple]:
    """The by_owner range of one owner."""
    key = (sort_key(name),)
    return key, (*key, TOP)


def snapshot_only(records):
    """The records without their captured versions: what a checker reading snapshots sees."""
    return [replace(r, versions=()) for r in records]


def test_a_point_read_captures_the_version_it_saw(db):
    ids = seed_accounts(db, ada=100, bob=0)               # commit 1
    gone = db.begin("delete")
    gone.delete(ids["bob"])
    reader = db.begin("read")                             # snapshot 1
    assert write(db, ids["ada"], 90) == 2 and gone.commit() == 3
    assert reader.get(ids["ada"])["balance"] == 100
    later = db.begin("read")                              # snapshot 3
    assert later.get(ids["bob"]) is None
    unborn = db.begin("insert")
    new_id = unborn.insert("accounts", {"owner": "cy", "balance": 0})   # never committed
    assert later.get(new_id) is None
    assert reader.read_versions == [((ids["ada"], 1),)]
    assert later.read_versions == [((ids["bob"], 3),), ((new_id, ABSENT),)]   # a deletion, no version


def test_reading_its_own_write_captures_no_version(db):
    ids = seed_accounts(db, ada=100)
    txn = db.begin("update")
    txn.patch(ids["ada"], {"balance": 1})
    txn.get(ids["ada"])
    assert txn.read_versions == [((ids["ada"], 1),), ()]   # the patch read version 1; then its own


def test_a_range_read_captures_the_documents_it_returned(db):
    ids = seed_accounts(db, ada=100, bob=0)               # commit 1
    write(db, ids["bob"], 5)                              # commit 2
    txn = db.begin("scan")
    assert [d["owner"] for d in txn.scan("accounts", "by_owner")] == ["ada", "bob"]
    assert txn.read("accounts", "by_owner", (), (TOP,), "asc", "", 1)[0]["owner"] == "ada"
    assert txn.read("accounts", "by_owner", (), (TOP,), "desc", "", 1)[0]["owner"] == "bob"
    stream = txn.scan("accounts", "by_owner", *owner("bob"))
    next(stream)
    assert txn.read_versions == [[(ids["ada"], 1), (ids["bob"], 2)], [(ids["ada"], 1)], [(ids["bob"], 2)],
                                 [(ids["bob"], 2)]]


def test_a_range_read_over_its_own_writes_captures_only_stored_versions(db):
    ids = seed_accounts(db, ada=100)
    txn = db.begin("scan")
    mine = txn.insert("accounts", {"owner": "ada", "balance": 1})
    docs = list(txn.scan("accounts", "by_owner", *owner("ada")))
    assert {d["_id"] for d in docs} == {ids["ada"], mine}
    assert txn.read_versions[-1] == [(ids["ada"], 1)]


def test_the_recorder_keeps_the_captured_versions_beside_the_reads(db):
    ids = seed_accounts(db, ada=100)
    recorder = HistoryRecorder(db)
    write(db, ids["ada"], 90)
    record = recorder.transactions[-1]
    assert len(record.reads) == len(record.versions) == 1
    assert record.versions == (((ids["ada"], 1),),)


def stale_point_reads(monkeypatch) -> None:
    """A broken store: a document's first version is visible at every snapshot."""
    monkeypatch.setattr(_Table, "visible", lambda self, doc_id, ts: (self.versions.get(doc_id) or [None])[0])


def stale_range_reads(monkeypatch, at: int) -> None:
    """A broken store: index ranges resolve their documents at timestamp ``at``, whatever the snapshot."""
    at_key = _Table.at_key
    monkeypatch.setattr(_Table, "at_key", lambda self, key, position, ts: at_key(self, key, position, at))


def lost_update(db, read) -> HistoryRecorder:
    """Two increments of ada's balance in turn, the second reading through ``read``."""
    ids = seed_accounts(db, ada=100)                     # commit 1, before recording
    recorder = HistoryRecorder(db)
    write(db, ids["ada"], 101)                           # commit 2
    txn = db.begin("increment")                          # snapshot 2: it must see 101
    balance = read(txn, ids["ada"])
    txn.patch(ids["ada"], {"balance": balance + 1})
    assert txn.commit() == 3
    return recorder


def test_a_stale_point_read_is_a_lost_update(db, monkeypatch):
    def read(txn, doc_id):
        stale_point_reads(monkeypatch)
        return txn.get(doc_id)["balance"]

    recorder = lost_update(db, read)
    assert recorder.transactions[-1].versions[0] == ((recorder.transactions[0].writes[0].id, 1),)
    report = recorder.check()
    assert [a.name for a in report.anomalies] == ["G-single"], str(report)
    assert "older than its snapshot" in str(report)
    assert check_history(snapshot_only(recorder.transactions)).ok   # the snapshot hides it


def test_a_stale_range_read_is_a_lost_update(db, monkeypatch):
    def read(txn, doc_id):
        stale_range_reads(monkeypatch, 1)
        (doc,) = txn.scan("accounts", "by_owner", *owner("ada"))
        return doc["balance"]

    recorder = lost_update(db, read)
    report = recorder.check()
    assert [a.name for a in report.anomalies] == ["G-single"], str(report)
    assert check_history(snapshot_only(recorder.transactions)).ok


def test_captured_versions_survive_a_history_file(db, monkeypatch, tmp_path):
    def read(txn, doc_id):
        stale_point_reads(monkeypatch)
        return txn.get(doc_id)["balance"]

    recorder = lost_update(db, read)
    path = dump_history(recorder.transactions, tmp_path / "h.jsonl")
    assert '"versions":[[' in Path(path).read_text()
    loaded = load_history(path)
    assert loaded == recorder.transactions
    assert str(check_history(loaded)) == str(recorder.check())
    streamed = tmp_path / "streamed.jsonl"
    streaming = HistoryRecorder(db, path=streamed)
    write(db, loaded[0].writes[0].id, 7)
    streaming.stop()
    assert load_history(streamed)[0].versions


def test_an_old_history_file_without_versions_is_checked_at_snapshots(tmp_path):
    path = tmp_path / "old.jsonl"
    read = '{"table": "t", "index": "by_id", "lo": ["x"], "hi": ["x", {"$bound": "high"}]}'
    put = '{"table": "t", "id": "x", "keys": [["by_id", ["x"], ["x"]]]}'
    path.write_text('{"convex_sim_history": 1}\n'
                    f'{{"txn": 1, "begin": 0, "commit": 1, "reads": [{read}], "writes": [{put}]}}\n'
                    f'{{"txn": 2, "begin": 0, "commit": 2, "reads": [{read}], "writes": [{put}]}}\n')
    loaded = load_history(path)
    assert [t.versions for t in loaded] == [(), ()]
    assert [a.name for a in check_history(loaded).anomalies] == ["G-single"]   # a lost update, from snapshots


def test_an_honest_run_gives_the_same_graph_either_way():
    sim = ConvexSim(bank_schema, modules="scenarios.bank", seed=0)
    recorder = HistoryRecorder(sim.db)
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    for _ in range(3):
        sim.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 10})
    assert all(t.versions for t in recorder.transactions[2:])
    captured, snapshots = recorder.check(), check_history(snapshot_only(recorder.transactions))
    assert captured.ok and snapshots.ok and captured.edges == snapshots.edges > 5


def test_versions_must_pair_with_reads(db):
    ids = seed_accounts(db, ada=100)
    recorder = HistoryRecorder(db)
    write(db, ids["ada"], 1)
    broken = replace(recorder.transactions[0], versions=((), ()))
    with pytest.raises(HistoryError, match="versions for 2 reads but has 1 read"):
        check_history([broken])


def test_a_malformed_read_version_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"convex_sim_history": 1}\n{"txn": 1, "begin": 0, "commit": 0, "reads": [{"table": "t", '
                    '"index": "by_id", "lo": ["x"], "hi": ["x", {"$bound": "high"}], "versions": [["x", true]]}]}\n')
    with pytest.raises(HistoryError, match=r"line 2 reads\[0\] versions\[0\]: expected \[document ID, commit "
                                           r"timestamp\], got \['x', True\]"):
        load_history(path)
