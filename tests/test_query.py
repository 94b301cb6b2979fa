import pytest

from convex_sim.database import WriteConflict
from convex_sim.errors import (
    ConvexError,
    IndexRangeError,
    LimitExceededError,
    QueryError,
    UnknownIndexError,
)
from convex_sim.queries import Query


def add_messages(db, channel, ns):
    txn = db.begin("seed")
    ids = [txn.insert("messages", {"channel": channel, "body": f"m{n}", "n": float(n)}) for n in ns]
    txn.commit()
    return ids


def q(db, name="test:q"):
    txn = db.begin(name)
    return txn, lambda: Query(txn, "messages")


def ns(rows):
    return [r["n"] for r in rows]


def test_index_ranges(db):
    add_messages(db, "a", range(10))
    add_messages(db, "b", range(3))
    _, query = q(db)
    assert ns(query().with_index("by_channel_n", lambda r: r.eq("channel", "a").gt("n", 2).lte("n", 5)).collect()) == [3, 4, 5]
    assert ns(query().with_index("by_channel_n", lambda r: r.eq("channel", "a").gte("n", 8)).collect()) == [8, 9]
    assert ns(query().with_index("by_channel_n", lambda r: r.eq("channel", "a").lt("n", 2)).collect()) == [0, 1]
    assert ns(query().with_index("by_channel_n", lambda r: r.eq("channel", "b")).order("desc").collect()) == [2, 1, 0]
    assert ns(query().with_index("by_channel_n", lambda r: r.eq("channel", "a").eq("n", 7)).collect()) == [7]
    # A Python int for a float64 field means JavaScript's number.
    assert ns(query().with_index("by_channel_n", lambda r: r.eq("channel", "a").eq("n", 7.0)).collect()) == [7]


@pytest.mark.parametrize(
    ("range_fn", "message"),
    [
        (lambda r: r.eq("n", 1), 'expected "channel", got "n"'),
        (lambda r: r.eq("channel", "a").eq("body", "x"), "doesn't index this field"),
        (lambda r: r.gt("channel", "a").eq("n", 1), 'expected "channel", got "n"'),
        (lambda r: r.eq("channel", "a").gt("n", 1).gt("n", 2), "Already defined lower bound"),
        (lambda r: r.eq("channel", "a").eq("channel", "b"), "Already defined equality bound"),
        (lambda r: r.eq("channel", "a").gt("n", 1).lt("body", 2), "only be applied to a single index field"),
        (lambda r: r.eq("channel", "a").lt("n", 1).lte("n", 2), "Already defined upper bound"),
        (lambda r: r.eq("channel", "a").gt("channel", "0"), "Already defined inequality bound"),
    ],
)
def test_index_range_rule_errors(db, range_fn, message):
    _, query = q(db, "chat:list")
    with pytest.raises(IndexRangeError, match=message) as info:
        query().with_index("by_channel_n", range_fn)
    assert "chat:list" in str(info.value)


def test_undeclared_index(db):
    _, query = q(db)
    with pytest.raises(UnknownIndexError, match='use index "by_body" for table "messages" because it is not declared'):
        query().with_index("by_body")
    with pytest.raises(UnknownIndexError, match=r'query on "messages": with_index expects an index name \(str\), got \[.by_body.\]'):
        query().with_index(["by_body"])


def test_filters(db):
    add_messages(db, "a", range(10))
    _, query = q(db)

    def run(pred):
        return ns(query().filter(pred).collect())

    assert run(lambda f: f.and_(f.gte(f.field("n"), 3), f.lt(f.field("n"), 6))) == [3, 4, 5]
    assert run(lambda f: f.or_(f.eq(f.field("n"), 1), f.eq(f.field("body"), "m9"))) == [1, 9]
    assert run(lambda f: f.not_(f.neq(f.field("n"), 4))) == [4]
    assert run(lambda f: f.eq(f.mod(f.field("n"), 3.0), 0.0)) == [0, 3, 6, 9]
    assert run(lambda f: f.eq(f.add(f.field("n"), 1.0), f.mul(2.0, f.field("n")))) == [1]
    assert run(lambda f: f.gt(f.neg(f.field("n")), -2.0)) == [0, 1]
    assert run(lambda f: f.eq(f.field("missing"), None)) == []
    with pytest.raises(QueryError, match=r"q\.eq"):
        query().filter(lambda f: f.field("n") == 3)
    with pytest.raises(QueryError, match="and_"):
        query().filter(lambda f: f.gt(f.field("n"), 1) and f.lt(f.field("n"), 3))


def test_filter_operator_limit(db):
    _, query = q(db)
    with pytest.raises(LimitExceededError, match="filter operators"):
        query().filter(lambda f: f.and_(*[f.eq(f.field("n"), float(i)) for i in range(300)]))


def test_take_first_unique_and_single_use(db):
    add_messages(db, "a", range(5))
    _, query = q(db)
    assert ns(query().take(2)) == [0, 1]
    assert query().first()["n"] == 0
    assert query().with_index("by_channel_n", lambda r: r.eq("channel", "a").eq("n", 3)).unique()["n"] == 3
    assert query().with_index("by_channel", lambda r: r.eq("channel", "zzz")).unique() is None
    with pytest.raises(QueryError, match="more than one"):
        query().unique()
    once = query()
    once.collect()
    with pytest.raises(QueryError, match="consumed only once"):
        once.collect()
    with pytest.raises(QueryError, match="only once"):
        query().order("asc").order("desc")


def test_take_reads_only_up_to_the_last_row_consumed(db):
    add_messages(db, "a", range(10))
    txn, query = q(db)
    assert ns(query().with_index("by_channel_n", lambda r: r.eq("channel", "a")).take(3)) == [0, 1, 2]
    txn.insert("messages", {"channel": "log", "body": "", "n": 0.0})
    # A concurrent insert beyond the consumed part of the range: no conflict.
    other = db.begin("other")
    other.insert("messages", {"channel": "a", "body": "late", "n": 50.0})
    other.commit()
    txn.commit()

    txn2, query2 = q(db)
    ns(query2().with_index("by_channel_n", lambda r: r.eq("channel", "a")).take(3))
    txn2.insert("messages", {"channel": "log", "body": "", "n": 1.0})
    inside = db.begin("inside")
    inside.insert("messages", {"channel": "a", "body": "early", "n": 0.5})
    inside.commit()
    with pytest.raises(WriteConflict):
        txn2.commit()


def test_iteration_streams(db):
    add_messages(db, "a", range(4))
    _, query = q(db)
    seen = []
    for row in query():
        seen.append(row["n"])
        if row["n"] == 1:
            break
    assert seen == [0, 1]


def test_results_are_copies(db):
    add_messages(db, "a", [1])
    _, query = q(db)
    row = query().first()
    row["n"] = 999.0
    assert query().first()["n"] == 1


def paginate_all(db, page_size, between=None):
    pages, cursor, done = [], None, False
    while not done:
        _, query = q(db)
        result = query().with_index("by_channel_n", lambda r: r.eq("channel", "a")).paginate(
            {"num_items": page_size, "cursor": cursor})
        pages.append(ns(result["page"]))
        cursor, done = result["continue_cursor"], result["is_done"]
        if between:
            between(len(pages))
    return pages


def test_pagination_pages_and_end(db):
    add_messages(db, "a", range(5))
    assert paginate_all(db, 2) == [[0, 1], [2, 3], [4]]


def test_pagination_stable_across_inserts_and_deletes_around_the_cursor(db):
    ids = add_messages(db, "a", [10, 20, 30, 40, 50])

    def churn(page_no):
        if page_no == 1:  # after page [10, 20]: insert before and after the cursor, delete ahead
            add_messages(db, "a", [5, 25])
            txn = db.begin()
            txn.delete(ids[2])  # 30
            txn.commit()

    pages = paginate_all(db, 2, between=churn)
    assert pages[0] == [10, 20]
    assert pages[1:] == [[25, 40], [50]]  # 5 is behind the cursor, 30 is gone, nothing repeated


def test_paginate_errors(db):
    add_messages(db, "a", [1, 2])
    _, query = q(db)
    with pytest.raises(QueryError, match="num_items must be an int > 0"):
        query().paginate({"num_items": 0, "cursor": None})
    with pytest.raises(QueryError, match="unknown option"):
        query().paginate({"num_items": 1, "cursur": None})
    with pytest.raises(QueryError, match="not a cursor"):
        query().paginate({"num_items": 1, "cursor": "%%%"})
    page = query().paginate({"numItems": 1, "cursor": None})
    with pytest.raises(ConvexError, match="InvalidCursor"):   # another query's cursor
        query().with_index("by_channel").paginate({"num_items": 1, "cursor": page["continue_cursor"]})
