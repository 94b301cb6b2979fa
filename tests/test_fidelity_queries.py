"""Query behaviours checked against Convex's sources: ``undefined`` in equality, count,
pagination, index ranges."""

import pytest

from convex_sim import UNDEFINED, ConvexSim, QueryError, define_schema, define_table, v
from convex_sim.errors import WriteConflict
from convex_sim.queries import Query

SCHEMA = define_schema({
    "items": define_table({"tag": v.optional(v.union(v.string(), v.null())), "body": v.string(),
                           "n": v.int64()})
    .index("by_tag", ["tag"]).index("by_n", ["n"])
    .search_index("search_body", search_field="body", filter_fields=["tag"]),
})


@pytest.fixture
def sim():
    sim = ConvexSim(SCHEMA, seed=0)
    rows = [{"body": "hello missing", "n": 1}, {"tag": None, "body": "hello null", "n": 2},
            {"tag": "a", "body": "hello a", "n": 3}, {"tag": UNDEFINED, "body": "hello undef", "n": 4}]
    sim.run(lambda ctx: [ctx.db.insert("items", r) for r in rows])
    return sim


def bodies(docs):
    return [d["body"] for d in docs]


def test_undefined_in_with_index_matches_missing_fields_only(sim):
    """convex-js index_range_builder_impl.ts serializes ``eq(field, undefined)`` with
    ``convexOrUndefinedToJson`` ({"$undefined": null}), the key of a missing field: it matches
    documents without the field, not ones where it is null (convex-test's indexes test)."""
    got = sim.run(lambda ctx: ctx.db.query("items").with_index(
        "by_tag", lambda q: q.eq("tag", UNDEFINED)).collect())
    assert bodies(got) == ["hello missing", "hello undef"]
    nulls = sim.run(lambda ctx: ctx.db.query("items").with_index(
        "by_tag", lambda q: q.eq("tag", None)).collect())
    assert bodies(nulls) == ["hello null"]


def test_undefined_in_filter_matches_missing_fields_only(sim):
    """filter_builder_impl.ts: a literal is ``{$literal: convexOrUndefinedToJson(x)}``, so
    ``q.eq(q.field("tag"), undefined)`` compares with the missing-field value."""
    got = sim.run(lambda ctx: ctx.db.query("items").filter(
        lambda q: q.eq(q.field("tag"), UNDEFINED)).collect())
    assert bodies(got) == ["hello missing", "hello undef"]
    present = sim.run(lambda ctx: ctx.db.query("items").filter(
        lambda q: q.neq(q.field("tag"), UNDEFINED)).collect())
    assert bodies(present) == ["hello null", "hello a"]


def test_undefined_in_search_filter_fields(sim):
    """search_filter_builder_impl.ts ``eq``: "when `undefined` is passed explicitly, it is
    allowed", serialized with convexOrUndefinedToJson."""
    got = sim.run(lambda ctx: ctx.db.query("items").with_search_index(
        "search_body", lambda q: q.search("body", "hello").eq("tag", UNDEFINED)).collect())
    assert sorted(bodies(got)) == ["hello missing", "hello undef"]


def test_undefined_field_values_mean_absent(sim):
    """convex-js values/value.ts ``convexToJsonInternal`` skips object fields whose value is
    undefined: inserting, replacing or patching with one leaves the field absent."""
    def run(ctx):
        doc_id = ctx.db.insert("items", {"tag": UNDEFINED, "body": "x", "n": 9})
        inserted = ctx.db.get(doc_id)
        ctx.db.patch(doc_id, {"tag": "t"})
        ctx.db.patch(doc_id, {"tag": UNDEFINED})
        return inserted, ctx.db.get(doc_id)

    inserted, patched = sim.run(run)
    assert "tag" not in inserted and "tag" not in patched


def test_undefined_in_typescript_equality(ts):
    """The same three places reached from TypeScript (scenarios/ts_bank/convex/fidelity.ts)."""
    ts.mutation("messages:send", {"author": "ann", "body": "hello none"})
    ts.mutation("messages:send", {"author": "ann", "body": "hello general", "channel": "general"})
    got = ts.query("fidelity:withoutChannel", {})
    assert got == {"indexed": ["hello none"], "filtered": ["hello none"], "searched": ["hello none"],
                   "noAuthor": 0.0}  # every message has an author


def test_count_counts_the_table_with_the_transactions_own_writes(sim):
    """convex-backend crates/database/src/bootstrap_model/table.rs ``TableModel::count``:
    "the number of documents in the table, up-to-date with the current transaction"."""
    def run(ctx):
        before = ctx.db.query("items").count()
        doc_id = ctx.db.insert("items", {"body": "new", "n": 5})
        after_insert = ctx.db.query("items").count()
        ctx.db.delete(doc_id)
        first = ctx.db.query("items").first()
        ctx.db.delete(first["_id"])
        return before, after_insert, ctx.db.query("items").count()

    assert sim.run(run) == (4, 5, 3)
    assert sim.run(lambda ctx: ctx.txn.docs_read if ctx.db.query("items").count() else None) == 0


def test_count_is_a_read_dependency_on_the_whole_table(sim):
    """``count_tablet`` records a read of the entire ``by_id`` index: a concurrent insert
    invalidates the transaction that counted (an OCC conflict)."""
    counting = sim.db.begin("counter")
    assert Query(counting, "items").count() == 4
    counting.insert("items", {"body": "counted", "n": 4})
    sim.run(lambda ctx: ctx.db.insert("items", {"body": "concurrent", "n": 6}))
    with pytest.raises(WriteConflict):
        counting.commit()


def test_count_only_on_a_whole_table(sim):
    """convex-js query_impl.ts defines ``count()`` on ``QueryInitializerImpl`` only (the
    ``1.0/count`` syscall takes just a table name)."""
    with pytest.raises(QueryError, match="count\\(\\) counts a whole table"):
        sim.run(lambda ctx: ctx.db.query("items").with_index("by_n").count())


def test_count_from_typescript(ts):
    """``ctx.db.query("messages").count()`` through ``1.0/count`` (returns a float64, as
    async_syscall.rs ``count`` does)."""
    for body in ("a", "b", "c"):
        ts.mutation("messages:send", {"author": "ann", "body": body})
    assert ts.query("messages:countFast", {}) == 3.0
