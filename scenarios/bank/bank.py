"""Accounts and transfers."""

from convex_sim import ConvexError, action, internal_mutation, mutation, query, v


def _account(ctx, owner):
    return ctx.db.query("accounts").with_index("by_owner", lambda q: q.eq("owner", owner)).unique()


@mutation(args={"owner": v.string(), "balance": v.int64()})
def open_account(ctx, args):
    if _account(ctx, args["owner"]) is not None:
        raise ConvexError({"code": "ACCOUNT_EXISTS", "owner": args["owner"]})
    return ctx.db.insert("accounts", {"owner": args["owner"], "balance": args["balance"]})


@query(args={"owner": v.string()}, returns=v.int64())
def balance(ctx, args):
    account = _account(ctx, args["owner"])
    return account["balance"] if account else 0


@query(args={})
def total(ctx, args):
    return sum(a["balance"] for a in ctx.db.query("accounts").collect())


@mutation(args={"src": v.string(), "dst": v.string(), "amount": v.int64()})
def transfer(ctx, args):
    """Correct: the check and both writes are one transaction."""
    src, dst = _account(ctx, args["src"]), _account(ctx, args["dst"])
    if src is None or dst is None:
        raise ConvexError({"code": "NO_SUCH_ACCOUNT"})
    if src["balance"] < args["amount"]:
        raise ConvexError({"code": "INSUFFICIENT_FUNDS"})
    ctx.db.patch(src["_id"], {"balance": src["balance"] - args["amount"]})
    ctx.db.patch(dst["_id"], {"balance": dst["balance"] + args["amount"]})
    return args["amount"]


@internal_mutation(args={"owner": v.string(), "amount": v.int64()})
def debit(ctx, args):
    account = _account(ctx, args["owner"])
    ctx.db.patch(account["_id"], {"balance": account["balance"] - args["amount"]})


@internal_mutation(args={"owner": v.string(), "amount": v.int64()})
def credit(ctx, args):
    account = _account(ctx, args["owner"])
    ctx.db.patch(account["_id"], {"balance": account["balance"] + args["amount"]})


@action(args={"src": v.string(), "dst": v.string(), "amount": v.int64()})
async def transfer_via_action(ctx, args):
    """Wrong: the balance check and the debit are separate transactions."""
    bal = await ctx.run_query("bank:balance", {"owner": args["src"]})
    if bal < args["amount"]:
        raise ConvexError({"code": "INSUFFICIENT_FUNDS"})
    await ctx.run_mutation("bank:debit", {"owner": args["src"], "amount": args["amount"]})
    await ctx.run_mutation("bank:credit", {"owner": args["dst"], "amount": args["amount"]})
    return args["amount"]


def no_overdraft(ctx):
    """Invariant: no account goes below zero."""
    for account in ctx.db.query("accounts").collect():
        assert account["balance"] >= 0, f"{account['owner']} has balance {account['balance']}"
