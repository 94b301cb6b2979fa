"""Messages: send (signed in), page through a channel, summarize it."""

from convex_sim import (
    ConvexError,
    action,
    internal_mutation,
    mutation,
    pagination_opts_validator,
    query,
    v,
)


def _author(ctx):
    user = ctx.auth.get_user_identity()
    if user is None:
        raise ConvexError({"code": "UNAUTHENTICATED"})
    return user.name or user.subject


@mutation(args={"channel": v.id("channels"), "body": v.string()}, returns=v.id("messages"))
def send(ctx, args):
    author = _author(ctx)
    body = args["body"].strip()
    if not body:
        raise ConvexError({"code": "EMPTY_MESSAGE"})
    if ctx.db.get(args["channel"]) is None:
        raise ConvexError({"code": "NO_SUCH_CHANNEL"})
    return ctx.db.insert("messages", {"channel": args["channel"], "author": author, "body": body})


@query(args={"channel": v.id("channels"), "pagination_opts": pagination_opts_validator})
def list(ctx, args):
    """Newest first, one page at a time."""
    return (ctx.db.query("messages")
            .with_index("by_channel", lambda q: q.eq("channel", args["channel"]))
            .order("desc")
            .paginate(args["pagination_opts"]))


@query(args={"channel": v.id("channels"), "count": v.int64()})
def recent(ctx, args):
    """The last ``count`` messages, oldest first."""
    newest = (ctx.db.query("messages")
              .with_index("by_channel", lambda q: q.eq("channel", args["channel"]))
              .order("desc").take(args["count"]))
    return [{"author": m["author"], "body": m["body"]} for m in reversed(newest)]


@internal_mutation(args={"channel": v.id("channels"), "body": v.string()})
def post_as_bot(ctx, args):
    return ctx.db.insert("messages", {"channel": args["channel"], "author": "bot", "body": args["body"]})


@action(args={"channel": v.id("channels")})
async def summarize(ctx, args):
    """Read the recent messages, post who talked most (two steps: a query, then a mutation)."""
    recent_messages = await ctx.run_query("messages:recent", {"channel": args["channel"], "count": 50})
    counts: dict[str, int] = {}
    for message in recent_messages:
        counts[message["author"]] = counts.get(message["author"], 0) + 1
    if not counts:
        return None
    top = min(counts, key=lambda a: (-counts[a], a))
    summary = f"{len(recent_messages)} messages; most from {top} ({counts[top]})"
    await ctx.run_mutation("messages:post_as_bot", {"channel": args["channel"], "body": summary})
    return summary
