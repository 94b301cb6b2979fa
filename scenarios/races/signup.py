"""Unique user names."""

from convex_sim import ConvexError, action, internal_mutation, mutation, query, v


def _taken(ctx, name):
    return ctx.db.query("users").with_index("by_name", lambda q: q.eq("name", name)).first() is not None


@mutation(args={"name": v.string()})
def register(ctx, args):
    """Correct: the check and the insert are one transaction."""
    if _taken(ctx, args["name"]):
        raise ConvexError({"code": "NAME_TAKEN"})
    return ctx.db.insert("users", {"name": args["name"]})


@query(args={"name": v.string()})
def is_taken(ctx, args):
    return _taken(ctx, args["name"])


@internal_mutation(args={"name": v.string()})
def insert(ctx, args):
    return ctx.db.insert("users", {"name": args["name"]})


@action(args={"name": v.string()})
async def register_via_action(ctx, args):
    """Wrong: the check and the insert are separate transactions."""
    if await ctx.run_query("signup:is_taken", {"name": args["name"]}):
        raise ConvexError({"code": "NAME_TAKEN"})
    return await ctx.run_mutation("signup:insert", {"name": args["name"]})


def unique_names(ctx):
    """Invariant: no two users share a name."""
    names = [u["name"] for u in ctx.db.query("users").collect()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"duplicate user names: {duplicates}"
