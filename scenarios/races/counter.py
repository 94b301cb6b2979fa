"""A named counter."""

from convex_sim import mutation, query, v


def _counter(ctx, name):
    return ctx.db.query("counters").with_index("by_name", lambda q: q.eq("name", name)).unique()


@query(args={"name": v.string()})
def get(ctx, args):
    counter = _counter(ctx, args["name"])
    return counter["value"] if counter else 0


@mutation(args={"name": v.string(), "value": v.int64()})
def set(ctx, args):
    counter = _counter(ctx, args["name"])
    if counter is None:
        ctx.db.insert("counters", {"name": args["name"], "value": args["value"]})
    else:
        ctx.db.patch(counter["_id"], {"value": args["value"]})


@mutation(args={"name": v.string()})
def increment(ctx, args):
    counter = _counter(ctx, args["name"])
    if counter is None:
        ctx.db.insert("counters", {"name": args["name"], "value": 1})
        return 1
    ctx.db.patch(counter["_id"], {"value": counter["value"] + 1})
    return counter["value"] + 1


async def read_then_write(client):
    """A UI's "+1" button done wrong: read in one call, write in another."""
    value = await client.query("counter:get", {"name": "clicks"})
    await client.mutation("counter:set", {"name": "clicks", "value": value + 1})
    return value + 1


async def increment_flow(client):
    """The same button done right."""
    return await client.mutation("counter:increment", {"name": "clicks"})
