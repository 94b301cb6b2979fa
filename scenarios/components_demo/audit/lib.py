"""The audit component's functions."""

from convex_sim import ConvexError, components, internal_mutation, mutation, query, v


@mutation(args={"what": v.string()})
def record(ctx, args):
    entry = ctx.db.insert("entries", {"what": args["what"]})
    ctx.run_mutation(components.tally.lib.add, {"name": "entries", "count": 1.0})
    return entry


@mutation(args={"what": v.string()})
def record_then_fail(ctx, args):
    ctx.db.insert("entries", {"what": args["what"]})
    raise ConvexError({"code": "AUDIT_DOWN"})


@query(args={})
def count(ctx, args):
    return ctx.run_query(components.tally.lib.count, {"name": "entries"})


@query(args={"id": v.id("entries")})
def get(ctx, args):
    return ctx.db.get(args["id"])


@query(args={"id": v.string()})
def get_any(ctx, args):
    return ctx.db.get(args["id"])


@query(args={})
def whoami(ctx, args):
    identity = ctx.auth.get_user_identity()
    return identity.subject if identity else None


@mutation(args={"what": v.string(), "delay_ms": v.float64()})
def record_later(ctx, args):
    return ctx.scheduler.run_after(args["delay_ms"], "lib:record", {"what": args["what"]})


@internal_mutation(args={})
def wipe(ctx, args):
    for entry in ctx.db.query("entries").collect():
        ctx.db.delete(entry["_id"])
