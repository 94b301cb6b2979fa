import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convex_sim import define_schema, define_table, v
from convex_sim.database import TOP, Database, run_transaction
from convex_sim.errors import (
    ContentionError,
    InvalidIdError,
    InvalidValueError,
    LimitExceededError,
    UnknownTableError,
    ValidationError,
    WriteConflict,
    WriteInReadOnlyError,
)
from convex_sim.values import UNDEFINED, sort_key
from tests.conftest import BANK, seed_accounts


def owner_range(name):
    key = (sort_key(name),)
    return key, (*key, TOP)


def test_ids_encode_their_table_and_are_deterministic():
    a, b = Database(BANK, seed=7), Database(BANK, seed=7)
    ids_a, ids_b = seed_accounts(a, x=1, y=2), seed_accounts(b, x=1, y=2)
    assert ids_a == ids_b
    assert a.table_of_id(ids_a["x"]) == "accounts"
    assert ids_a != seed_accounts(Database(BANK, seed=8), x=1, y=2)
    assert len(ids_a["x"]) == 32


def test_creation_time_strictly_increases_within_a_table(db):
    txn = db.begin()
    ids = [txn.insert("accounts", {"owner": str(i), "balance": 0}) for i in range(50)]
    txn.commit()
    times = [db.begin().get(i)["_creationTime"] for i in ids]
    assert times == sorted(times) and len(set(times)) == 50
    assert times[0] == db.clock.now_ms


def test_read_your_writes_including_index_queries(db):
    ids = seed_accounts(db, alice=10)
    txn = db.begin("t")
    new = txn.insert("accounts", {"owner": "alice", "balance": 99})
    txn.patch(ids["alice"], {"balance": 11})
    rows = list(txn.scan("accounts", "by_owner", *owner_range("alice")))
    assert sorted(r["balance"] for r in rows) == [11, 99]
    assert txn.get(new)["balance"] == 99
    txn.delete(new)
    assert txn.get(new) is None
    assert [r["balance"] for r in txn.scan("accounts", "by_owner", *owner_range("alice"))] == [11]


def test_snapshot_isolation(db):
    ids = seed_accounts(db, alice=10)
    reader = db.begin("reader")
    writer = db.begin("writer")
    writer.patch(ids["alice"], {"balance": 20})
    writer.insert("accounts", {"owner": "alice", "balance": 5})
    writer.commit()
    assert reader.get(ids["alice"])["balance"] == 10
    assert [r["balance"] for r in reader.scan("accounts", "by_owner", *owner_range("alice"))] == [10]
    assert db.begin().get(ids["alice"])["balance"] == 20


def test_conflict_on_same_range_and_none_on_disjoint_ranges(db):
    seed_accounts(db, alice=10, bob=10)
    t1, t2, t3 = db.begin("t1"), db.begin("t2"), db.begin("t3")
    for txn, who in ((t1, "alice"), (t2, "alice"), (t3, "bob")):
        (row,) = txn.scan("accounts", "by_owner", *owner_range(who))
        txn.patch(row["_id"], {"balance": row["balance"] - 1})
    t1.commit()
    t3.commit()  # bob's range is disjoint from alice's write: no conflict
    with pytest.raises(WriteConflict) as info:
        t2.commit()
    assert info.value.conflict.read.index == "by_owner"
    assert info.value.conflict.write.table == "accounts"


def test_insert_into_a_read_range_conflicts_phantoms_included(db):
    seed_accounts(db, alice=10)
    reader = db.begin("count")
    assert len(list(reader.scan("accounts", "by_owner", *owner_range("alice")))) == 1
    reader.insert("accounts", {"owner": "audit", "balance": 0})
    other = db.begin("other")
    other.insert("accounts", {"owner": "alice", "balance": 1})
    other.commit()
    with pytest.raises(WriteConflict):
        reader.commit()


def test_read_only_transactions_never_conflict(db):
    ids = seed_accounts(db, alice=10)
    reader = db.begin()
    reader.get(ids["alice"])
    w = db.begin()
    w.patch(ids["alice"], {"balance": 0})
    w.commit()
    assert reader.commit() == reader.begin_ts


def test_retry_then_success(db):
    ids = seed_accounts(db, alice=10)
    attempts = []

    def debit(txn):
        attempts.append(txn.begin_ts)
        balance = txn.get(ids["alice"])["balance"]
        if len(attempts) == 1:  # a concurrent commit lands while we run
            other = db.begin("concurrent")
            other.patch(ids["alice"], {"balance": 100})
            other.commit()
        txn.patch(ids["alice"], {"balance": balance - 1})
        return balance

    seen, ts = run_transaction(db, debit, "bank:debit")
    assert len(attempts) == 2 and attempts[1] > attempts[0]
    assert seen == 100 and db.begin().get(ids["alice"])["balance"] == 99
    assert ts == db.latest_ts


def test_retry_exhaustion_raises_contention_error(db):
    ids = seed_accounts(db, alice=10)

    def always_conflicting(txn):
        txn.get(ids["alice"])
        other = db.begin("hot writer")
        other.patch(ids["alice"], {"balance": txn.begin_ts})
        other.commit()
        txn.patch(ids["alice"], {"balance": 0})

    with pytest.raises(ContentionError, match=r"bank:debit failed after 5 attempts.*hot writer"):
        run_transaction(db, always_conflicting, "bank:debit", max_retries=4)


def test_write_log_and_rewind(db):
    seed_accounts(db, alice=10)
    snap = db.snapshot()
    txn = db.begin()
    new = txn.insert("accounts", {"owner": "carol", "balance": 1})
    txn.commit()
    commit = db.log[-1]
    assert [(w.kind, w.id) for w in commit.writes] == [("insert", new)]
    db.rewind(snap)
    assert db.begin().get(new) is None
    assert db.latest_ts == snap.ts
    txn = db.begin()
    assert txn.insert("accounts", {"owner": "carol", "balance": 1}) == new  # allocator rewound too


def test_patch_semantics(db):
    txn = db.begin()
    doc_id = txn.insert("messages", {"channel": "c", "body": "b", "n": 1.0})
    txn.commit()
    schemaless = Database(None)
    t = schemaless.begin()
    sid = t.insert("notes", {"a": 1, "b": 2})
    t.patch(sid, {"a": None, "b": UNDEFINED, "c": 3})
    assert {k: x for k, x in t.get(sid).items() if not k.startswith("_")} == {"a": None, "c": 3}
    t2 = db.begin("p")
    with pytest.raises(InvalidValueError, match="cannot change the system field _id"):
        t2.patch(doc_id, {"_id": "other"})
    with pytest.raises(ValidationError, match=r"Path: \.n"):
        t2.patch(doc_id, {"n": "not a number"})


def test_write_errors_are_clear(db):
    ids = seed_accounts(db, alice=1)
    txn = db.begin("bank:op")
    with pytest.raises(UnknownTableError, match='table "nope" is not declared'):
        txn.insert("nope", {})
    with pytest.raises(InvalidIdError, match='is for table "accounts", not "messages"'):
        txn.get(ids["alice"], table="messages")
    with pytest.raises(InvalidIdError, match="not a valid document ID"):
        txn.get("garbage")
    with pytest.raises(InvalidValueError, match="reserved for system fields"):
        txn.insert("accounts", {"owner": "x", "balance": 1, "_secret": 1})
    txn.delete(ids["alice"])
    with pytest.raises(InvalidIdError, match="nonexistent document"):
        txn.patch(ids["alice"], {"balance": 2})
    ro = db.begin("bank:read", read_only=True)
    with pytest.raises(WriteInReadOnlyError, match="bank:read"):
        ro.insert("accounts", {"owner": "x", "balance": 1})


def test_document_limits(db):
    schemaless = Database(None)
    txn = schemaless.begin("big")
    with pytest.raises(InvalidValueError, match="1 MiB"):
        txn.insert("blobs", {"data": b"x" * (1 << 20)})
    with pytest.raises(InvalidValueError, match="limit is 8192"):
        txn.insert("blobs", {"xs": [0] * 8193})
    deep: dict = {}
    for _ in range(16):  # 16 wrappers around {}: 17 levels
        deep = {"d": deep}
    with pytest.raises(InvalidValueError, match="nests 17 levels"):
        txn.insert("blobs", deep)
    with pytest.raises(InvalidValueError, match="starts with '\\$'"):
        txn.insert("blobs", {"a": {"$b": 1}})


def test_transaction_limits_name_limit_figure_and_function():
    from convex_sim.limits import TransactionLimits

    db = Database(BANK)
    seed_accounts(db, a=1, b=2, c=3, d=4)
    db.limits = TransactionLimits.of({"documents_read": 3, "documentsWritten": 2})
    txn = db.begin("bank:audit")
    with pytest.raises(LimitExceededError, match=r"documents read .*limit: 3, reached: 4\) in bank:audit"):
        list(txn.scan("accounts", "by_creation_time"))
    txn = db.begin("bank:spam")
    with pytest.raises(LimitExceededError, match=r"documents written .*limit: 2, reached: 3\) in bank:spam"):
        for i in range(3):
            txn.insert("accounts", {"owner": str(i), "balance": 0})


@settings(max_examples=60)
@given(st.lists(st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=3),
                          st.booleans(), st.binary(max_size=2), st.lists(st.integers(0, 2), max_size=2)),
                max_size=15))
def test_index_order_equals_sort_by_order_key(vals):
    db = Database(define_schema({"t": define_table({"x": v.any()}).index("by_x", ["x"])}))
    txn = db.begin()
    for x in vals:
        txn.insert("t", {"x": x})
    txn.commit()
    scanned = [d["x"] for d in db.begin().scan("t", "by_x")]
    assert [sort_key(x) for x in scanned] == sorted(sort_key(x) for x in vals)
    desc = [d["x"] for d in db.begin().scan("t", "by_x", order="desc")]
    assert [sort_key(x) for x in desc] == sorted((sort_key(x) for x in vals), reverse=True)
