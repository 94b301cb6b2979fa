"""The control case: operations on disjoint documents, which never race."""

from convex_sim import Op, mutation, v


@mutation(args={"slot": v.id("slots")})
def bump(ctx, args):
    ctx.db.patch(args["slot"], {"n": ctx.db.get(args["slot"])["n"] + 1})


def bumps(sim, count=4):
    """Create ``count`` slots in ``sim``; return one ``slots:bump`` op per slot."""
    slots = sim.run(lambda ctx: [ctx.db.insert("slots", {"n": 0}) for _ in range(count)])
    return [Op("slots:bump", {"slot": slot}) for slot in slots]
