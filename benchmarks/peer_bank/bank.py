"""``convex/bank.js`` of the peer bench: open, transfer, balance."""

from convex_sim import mutation, query, v


def acct(ctx, owner):
    return ctx.db.query("accounts").with_index("by_owner", lambda q: q.eq("owner", owner)).unique()


@query(args={"owner": v.string()})
def balance(ctx, args):
    a = acct(ctx, args["owner"])
    return a["balance"] if a else 0


@mutation(args={"owner": v.string(), "amount": v.number()})
def open(ctx, args):
    return ctx.db.insert("accounts", {"owner": args["owner"], "balance": args["amount"]})


@mutation(args={"src": v.string(), "dst": v.string(), "amount": v.number()})
def transfer(ctx, args):
    a = acct(ctx, args["src"])
    b = acct(ctx, args["dst"])
    if a["balance"] < args["amount"]:
        raise Exception("insufficient")
    ctx.db.patch(a["_id"], {"balance": a["balance"] - args["amount"]})
    ctx.db.patch(b["_id"], {"balance": b["balance"] + args["amount"]})
