"""A naive single-document counter beside the sharded counter component."""

from convex_sim import components, mutation, query, v


@mutation(args={})
def incr_naive(ctx, args):
    doc = ctx.db.query("counters").with_index("by_name", lambda q: q.eq("name", "hits")).unique()
    if doc is None:
        ctx.db.insert("counters", {"name": "hits", "value": 1})
    else:
        ctx.db.patch(doc["_id"], {"value": doc["value"] + 1})


@mutation(args={})
def incr_sharded(ctx, args):
    ctx.run_mutation(components.counter.lib.add, {"name": "hits", "count": 1.0, "shards": 8})


@query(args={})
def totals(ctx, args):
    doc = ctx.db.query("counters").with_index("by_name", lambda q: q.eq("name", "hits")).unique()
    return {"naive": doc["value"] if doc else 0,
            "sharded": ctx.run_query(components.counter.lib.count, {"name": "hits"})}


@query(args={"table": v.string()})
def peek(ctx, args):
    """Try to read a table by name (a component's tables are not the app's)."""
    return len(ctx.db.query(args["table"]).collect())
