"""Channels: create one (signed in), list them."""

from convex_sim import ConvexError, mutation, query, v


@mutation(args={"name": v.string()}, returns=v.id("channels"))
def create(ctx, args):
    user = ctx.auth.get_user_identity()
    if user is None:
        raise ConvexError({"code": "UNAUTHENTICATED"})
    existing = ctx.db.query("channels").with_index("by_name", lambda q: q.eq("name", args["name"])).first()
    if existing is not None:
        raise ConvexError({"code": "CHANNEL_EXISTS", "name": args["name"]})
    return ctx.db.insert("channels", {"name": args["name"], "created_by": user.subject})


@query(args={})
def list(ctx, args):
    return [c["name"] for c in ctx.db.query("channels").with_index("by_name").collect()]
