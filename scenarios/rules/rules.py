"""One small function per documented Convex rule (the twin of ts_bank's ``rules.ts``)."""

from convex_sim import UNDEFINED, internal_mutation, mutation, query, v


def _group(ctx, group):
    return ctx.db.query("items").with_index("by_group_value", lambda q: q.eq("group", group))


@mutation(args={"group": v.string(), "value": v.optional(v.any()), "note": v.optional(v.string())})
def put(ctx, args):
    return ctx.db.insert("items", args)


@internal_mutation(args={"group": v.string(), "note": v.optional(v.string())})
def putInternal(ctx, args):
    return ctx.db.insert("items", args)


@query(args={"group": v.string()})
def ordered(ctx, args):
    return [item.get("value", "<absent>") for item in _group(ctx, args["group"]).collect()]


@query(args={"group": v.string()})
def only(ctx, args):
    item = _group(ctx, args["group"]).unique()
    return None if item is None else item.get("note")


@mutation(args={"id": v.id("items")})
def clearNote(ctx, args):
    ctx.db.patch(args["id"], {"note": UNDEFINED})
    item = ctx.db.get(args["id"])
    return None if item is None else sorted(item)


# The TypeScript twin's paginationOptsValidator spells its fields in camelCase; paginate() takes both.
_PAGINATION_OPTS = v.object({"numItems": v.float64(), "cursor": v.union(v.string(), v.null())})


@query(args={"group": v.string(), "paginationOpts": _PAGINATION_OPTS})
def page(ctx, args):
    result = _group(ctx, args["group"]).paginate(args["paginationOpts"])
    return {"notes": [item.get("note") for item in result["page"]], "isDone": result["is_done"],
            "cursor": result["continue_cursor"]}


@mutation(args={"id": v.id("items")})
def remove(ctx, args):
    ctx.db.delete(args["id"])


@query(args={})
def skipsAField(ctx, args):
    return ctx.db.query("items").with_index("by_group_value", lambda q: q.eq("value", 1)).collect()


@mutation(args={"ms": v.float64(), "note": v.string()})
def later(ctx, args):
    return ctx.scheduler.run_after(args["ms"], "rules:putInternal", {"group": "jobs", "note": args["note"]})


@mutation(args={"id": v.id("_scheduled_functions")})
def cancel(ctx, args):
    ctx.scheduler.cancel(args["id"])


@query(args={"id": v.id("_scheduled_functions")})
def jobState(ctx, args):
    job = ctx.db.system.get(args["id"])
    return None if job is None else job["state"]["kind"]


@query(args={})
def me(ctx, args):
    identity = ctx.auth.get_user_identity()
    return None if identity is None else [identity.subject, identity.issuer, identity.token_identifier]
