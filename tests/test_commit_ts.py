"""``ctx.db.vars.commitTs``: a placeholder that becomes the commit timestamp."""

from __future__ import annotations

from convex_sim import ConvexSim, define_schema, define_table, v
from convex_sim.values import COMMIT_TS, INT64_MAX, from_json, sort_key, to_json, value_size

SCHEMA = define_schema({"events": define_table({"at": v.any(), "what": v.string()}).index("by_at", ["at"])})


def test_the_placeholder_is_a_value_after_every_int64():
    assert sort_key(INT64_MAX) < sort_key(COMMIT_TS) < sort_key(0.0)   # int64 < it < float64
    assert to_json({"at": COMMIT_TS}) == {"at": {"$commitTs": None}}
    assert from_json({"$commitTs": None}) is COMMIT_TS
    assert value_size(COMMIT_TS) == value_size(1)


def test_a_commit_fills_in_its_timestamp():
    sim = ConvexSim(SCHEMA)

    def write(ctx):
        ctx.db.insert("events", {"at": COMMIT_TS, "what": "a"})
        ctx.txn.extras["commit_ts"] = True   # what the TypeScript runtime sets on such a write
        pending = ctx.db.query("events").with_index("by_at", lambda q: q.eq("at", COMMIT_TS)).collect()
        return len(pending)

    before = sim.db.latest_ts
    assert sim.run(write) == 1
    rows = sim.run(lambda ctx: ctx.db.query("events").collect())
    assert [r["at"] for r in rows] == [before + 1] == [sim.db.latest_ts]   # write's own commit
