"""Full-text search (with_search_index) and vector search (ctx.vector_search)."""

import pytest

from convex_sim import (
    ConvexSim,
    QueryError,
    UnknownIndexError,
    action,
    define_schema,
    define_table,
    query,
    v,
)
from convex_sim.functions import Registry

SCHEMA = define_schema({
    "posts": define_table({"channel": v.string(), "body": v.string()})
    .search_index("search_body", search_field="body", filter_fields=["channel"]),
    "docs": define_table({"kind": v.string(), "embedding": v.array(v.float64())})
    .vector_index("by_embedding", vector_field="embedding", dimensions=3, filter_fields=["kind"]),
})


@query(args={"text": v.string(), "channel": v.optional(v.string())})
def search(ctx, args):
    def matching(q):
        q = q.search("body", args["text"])
        return q.eq("channel", args["channel"]) if "channel" in args else q

    return [p["body"] for p in ctx.db.query("posts").with_search_index("search_body", matching).take(10)]


@action(args={"vector": v.array(v.float64()), "kind": v.optional(v.string())})
async def nearest(ctx, args):
    options = {"vector": args["vector"], "limit": 2}
    if "kind" in args:
        options["filter"] = lambda q: q.eq("kind", args["kind"])
    return await ctx.vector_search("docs", "by_embedding", options)


@pytest.fixture
def sim():
    registry = Registry()
    registry.register("s:search", search)
    registry.register("s:nearest", nearest)
    sim = ConvexSim(SCHEMA, registry)
    sim.run(lambda ctx: [ctx.db.insert("posts", {"channel": c, "body": b}) for c, b in [
        ("general", "hello world"), ("general", "hello hello again"), ("random", "world peace"),
        ("general", "nothing to see"), ("random", "helicopter view")]])
    return sim


def test_relevance_order_prefix_on_the_last_term_and_filters(sim):
    assert sim.query("s:search", {"text": "hello"}) == ["hello hello again", "hello world"]
    assert sim.query("s:search", {"text": "world"}) == ["hello world", "world peace"]
    assert sim.query("s:search", {"text": "hel"}) == ["hello hello again", "hello world", "helicopter view"]
    assert sim.query("s:search", {"text": "world", "channel": "random"}) == ["world peace"]
    assert sim.query("s:search", {"text": "absent"}) == []


def test_search_rules(sim):
    with pytest.raises(QueryError, match="relevance order"):
        sim.run(lambda ctx: ctx.db.query("posts").with_search_index(
            "search_body", lambda q: q.search("body", "x")).order("desc"))
    with pytest.raises(QueryError, match='searches "body", not "channel"'):
        sim.run(lambda ctx: ctx.db.query("posts").with_search_index(
            "search_body", lambda q: q.search("channel", "x")).collect())
    with pytest.raises(UnknownIndexError, match='search index "nope"'):
        sim.run(lambda ctx: ctx.db.query("posts").with_search_index("nope", lambda q: q))
    with pytest.raises(Exception, match="search terms"):
        sim.query("s:search", {"text": " ".join(f"w{i}" for i in range(17))})


def test_search_subscriptions_rerun_on_writes_to_the_table(sim):
    sub = sim.subscribe("s:search", {"text": "new"})
    assert sub.value == []
    sim.run(lambda ctx: ctx.db.insert("posts", {"channel": "general", "body": "brand new"}))
    assert sub.value == ["brand new"]


def test_vector_search(sim):
    sim.run(lambda ctx: [ctx.db.insert("docs", {"kind": k, "embedding": e}) for k, e in [
        ("a", [1.0, 0.0, 0.0]), ("b", [0.9, 0.1, 0.0]), ("a", [0.0, 1.0, 0.0]), ("b", [0.0, 0.0, 1.0])]])
    ids = sim.run(lambda ctx: {tuple(d["embedding"]): d["_id"] for d in ctx.db.query("docs").collect()})
    best = sim.action("s:nearest", {"vector": [1.0, 0.0, 0.0]})
    assert [r["_id"] for r in best] == [ids[(1.0, 0.0, 0.0)], ids[(0.9, 0.1, 0.0)]]
    assert best[0]["_score"] == pytest.approx(1.0)
    only_a = sim.action("s:nearest", {"vector": [1.0, 0.0, 0.0], "kind": "a"})
    assert [r["_id"] for r in only_a] == [ids[(1.0, 0.0, 0.0)], ids[(0.0, 1.0, 0.0)]]
    with pytest.raises(QueryError, match="vector must be 3 numbers"):
        sim.action("s:nearest", {"vector": [1.0]})
