"""Schema rules and index ranges checked against convex-backend's source."""

import pytest

from convex_sim import ConvexSim, SchemaError, define_schema, define_table, v

TABLE = {"channel": v.string(), "n": v.int64()}


def test_table_validators_may_declare_system_fields():
    """convex-backend crates/common/src/schemas/validator.rs
    ``filter_top_level_system_fields``: a table validator may declare ``_id`` and
    ``_creationTime`` ("Filter out `_id` and `_creationTime` at the top level"); documents still
    get them from the system, and inserts need not (and may not) pass them."""
    schema = define_schema({"posts": define_table(
        {"_id": v.id("posts"), "_creationTime": v.float64(), "title": v.string()})})
    sim = ConvexSim(schema, seed=0)
    doc = sim.run(lambda ctx: ctx.db.get(ctx.db.insert("posts", {"title": "hi"})))
    assert doc["title"] == "hi" and isinstance(doc["_creationTime"], float)
    union = define_table(v.union(v.object({"_id": v.id("t"), "kind": v.literal("a")}),
                                 v.object({"kind": v.literal("b")})))
    assert union.document.members[0].fields.keys() == {"kind"}


@pytest.mark.parametrize("fields", [
    {"a-b": v.string()},
    {"nested": v.object({"a b": v.string()})},
    {"list": v.array(v.object({"1st": v.string()}))},
    {"maybe": v.optional(v.object({"x.y": v.string()}))},
    {"___": v.string()},
    {"x" * 65: v.string()},
])
def test_field_names_must_be_identifiers(fields):
    """Object validator keys parse as ``IdentifierFieldName`` (crates/common/src/schemas/
    json.rs), i.e. crates/convex/sync_types/src/identifier.rs ``check_valid_identifier``: a
    letter or ``_`` first, then letters, digits, ``_``; at most 64; not only underscores."""
    with pytest.raises(SchemaError, match="Invalid field name"):
        define_table(fields)


def test_field_names_must_be_identifiers_in_unions_too():
    """The same rule for every member of a union, at the top level or nested."""
    with pytest.raises(SchemaError, match="'a-b'"):
        define_table(v.union(v.object({"ok": v.string()}), v.object({"a-b": v.string()})))
    with pytest.raises(SchemaError, match="'a-b'"):
        define_table({"u": v.union(v.string(), v.object({"a-b": v.string()}))})
    assert define_table({"nested": v.object({"_private": v.string()})}) is not None


def test_index_range_bounds_in_either_order():
    """crates/common/src/query.rs ``IndexRange::split``/``compile``: range expressions are
    collected (equalities into a map, bounds into start/end), so the runtime accepts them in any
    order as long as the fields used are a prefix of the index."""
    schema = define_schema({"m": define_table(TABLE).index("by_channel_n", ["channel", "n"])})
    sim = ConvexSim(schema, seed=0)
    sim.run(lambda ctx: [ctx.db.insert("m", {"channel": c, "n": n}) for c in "ab" for n in range(5)])

    def ns(range_fn):
        return sim.run(lambda ctx: [d["n"] for d in ctx.db.query("m").with_index(
            "by_channel_n", range_fn).collect()])

    assert ns(lambda q: q.eq("channel", "a").lt("n", 4).gt("n", 1)) == [2, 3]
    assert ns(lambda q: q.lte("n", 3).eq("channel", "b").gte("n", 3)) == [3]
