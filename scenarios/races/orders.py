"""Orders, processed by a scheduled job, cancellable until charged."""

from convex_sim import ConvexError, internal_action, internal_mutation, mutation, query, v


@mutation(args={"customer": v.string(), "safe": v.optional(v.boolean())})
def place(ctx, args):
    order = ctx.db.insert("orders", {"customer": args["customer"], "status": "placed", "charged": False})
    job = "orders:process_safely" if args.get("safe") else "orders:process"
    ctx.scheduler.run_after(0, job, {"order": order})
    return order


@mutation(args={"customer": v.string()})
def cancel(ctx, args):
    """Cancel the customer's order if it has not been charged yet."""
    order = ctx.db.query("orders").with_index("by_customer", lambda q: q.eq("customer", args["customer"])).first()
    if order is None:
        raise ConvexError({"code": "NO_ORDER"})
    if order["charged"]:
        raise ConvexError({"code": "ALREADY_CHARGED"})
    ctx.db.patch(order["_id"], {"status": "canceled"})
    return "canceled"


@query(args={"order": v.id("orders")})
def status(ctx, args):
    order = ctx.db.get(args["order"])
    return order["status"] if order else None


@internal_mutation(args={"order": v.id("orders")})
def charge(ctx, args):
    ctx.db.patch(args["order"], {"charged": True})


@internal_mutation(args={"order": v.id("orders")})
def charge_if_placed(ctx, args):
    order = ctx.db.get(args["order"])
    if order is None or order["status"] != "placed":
        return False
    ctx.db.patch(order["_id"], {"charged": True})
    return True


@internal_action(args={"order": v.id("orders")})
async def process(ctx, args):
    """Wrong: the status check and the charge are separate transactions."""
    if await ctx.run_query("orders:status", {"order": args["order"]}) == "placed":
        await ctx.run_mutation("orders:charge", {"order": args["order"]})


@internal_action(args={"order": v.id("orders")})
async def process_safely(ctx, args):
    """Right: the charge re-checks the status in its own transaction."""
    await ctx.run_mutation("orders:charge_if_placed", {"order": args["order"]})


def never_charge_a_canceled_order(ctx):
    """Invariant."""
    for order in ctx.db.query("orders").collect():
        assert not (order["status"] == "canceled" and order["charged"]), (
            f"order of {order['customer']} is canceled and charged")
