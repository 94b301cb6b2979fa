"""Placing orders through three components, in one transaction."""

from convex_sim import ConvexError, components, mutation, query, v

PER_USER = {"kind": "token bucket", "rate": 2.0, "period": 60_000.0}


@mutation(args={"item": v.string(), "fail": v.optional(v.boolean())})
def place_order(ctx, args):
    """Rate-limit the caller, record the order, count it and audit it; ``fail`` aborts at the end."""
    identity = ctx.auth.get_user_identity()
    user = identity.subject if identity else "anonymous"
    allowed = ctx.run_mutation(components.limiter_a.lib.limit, {"name": "orders", "key": user, "config": PER_USER})
    if not allowed["ok"]:
        raise ConvexError({"code": "RATE_LIMITED", "retry_after": allowed["retry_after"]})
    order_id = ctx.db.insert("orders", {"user": user, "item": args["item"]})
    ctx.run_mutation(components.counter.lib.add, {"name": "orders", "count": 1.0})
    ctx.run_mutation(components.audit.lib.record, {"what": f"order {args['item']} by {user}"})
    if args.get("fail"):
        raise ConvexError({"code": "FAILED_ON_PURPOSE"})
    return order_id


@mutation(args={"item": v.string()})
def place_order_tolerating_audit_failure(ctx, args):
    """An order whose audit fails: the caller catches it, so only the audit's writes go."""
    order_id = ctx.db.insert("orders", {"user": "anonymous", "item": args["item"]})
    try:
        ctx.run_mutation(components.audit.lib.record_then_fail, {"what": args["item"]})
    except ConvexError as exc:
        return {"order": order_id, "audit_error": exc.data}
    return {"order": order_id}


@query(args={})
def stats(ctx, args):
    """What the app can learn: its own tables, and its components through their functions."""
    return {
        "orders": len(ctx.db.query("orders").collect()),
        "counted": ctx.run_query(components.counter.lib.count, {"name": "orders"}),
        "audited": ctx.run_query(components.audit.lib.count, {}),
    }


@mutation(args={"bucket": v.string()})
def limit_in(ctx, args):
    """Take one token from the same-named limit of instance ``bucket`` (``a`` or ``b``)."""
    ref = components.limiter_a.lib.limit if args["bucket"] == "a" else components.limiter_b.lib.limit
    return ctx.run_mutation(ref, {"name": "shared", "config": {"kind": "fixed window", "rate": 1.0,
                                                                "period": 1000.0, "capacity": 1.0}})
