"""Tickets: open, attach, close; reminders and digests run on the scheduler."""

import datetime

from convex_sim import ConvexError, internal_mutation, internal_query, mutation, query, v

REMINDER_DELAY_MS = 24 * 60 * 60 * 1000


def _user(ctx):
    user = ctx.auth.get_user_identity()
    if user is None:
        raise ConvexError({"code": "UNAUTHENTICATED"})
    return user


def _open(ctx, subject, body, requester, source_message_id=None):
    fields = {"subject": subject, "body": body, "requester": requester, "status": "open"}
    if source_message_id is not None:
        fields["source_message_id"] = source_message_id
    ticket = ctx.db.insert("tickets", fields)
    reminder = ctx.scheduler.run_after(REMINDER_DELAY_MS, "tickets:remind", {"ticket": ticket})
    ctx.db.patch(ticket, {"reminder": reminder})
    ctx.scheduler.run_after(0, "ai:summarize", {"ticket": ticket})
    return ticket


@mutation(args={"subject": v.string(), "body": v.string()}, returns=v.id("tickets"))
def create(ctx, args):
    user = _user(ctx)
    return _open(ctx, args["subject"], args["body"], user.email or user.subject)


@internal_mutation(args={"message_id": v.string(), "sender": v.string(), "subject": v.string(),
                         "body": v.string()})
def create_from_email(ctx, args):
    """Idempotent: a webhook delivered twice opens one ticket."""
    existing = ctx.db.query("tickets").with_index(
        "by_source_message", lambda q: q.eq("source_message_id", args["message_id"])).unique()
    if existing is not None:
        return existing["_id"]
    return _open(ctx, args["subject"], args["body"], args["sender"], args["message_id"])


@mutation(args={"ticket": v.id("tickets")})
def close(ctx, args):
    user = _user(ctx)
    ticket = ctx.db.get(args["ticket"])
    if ticket is None or ticket["requester"] not in (user.email, user.subject):
        raise ConvexError({"code": "NOT_YOURS"})
    if ticket.get("reminder"):
        job = ctx.db.system.get(ticket["reminder"])
        if job is not None and job["state"]["kind"] == "pending":
            ctx.scheduler.cancel(ticket["reminder"])
    ctx.db.patch(ticket["_id"], {"status": "closed"})


@internal_mutation(args={"ticket": v.id("tickets")})
def remind(ctx, args):
    ticket = ctx.db.get(args["ticket"])
    if ticket is not None and ticket["status"] == "open":
        ctx.db.patch(ticket["_id"], {"reminded": True})


@mutation(args={})
def generate_upload_url(ctx, args):
    _user(ctx)
    return ctx.storage.generate_upload_url()


@mutation(args={"ticket": v.id("tickets"), "storage_id": v.id("_storage")})
def attach(ctx, args):
    _user(ctx)
    ctx.db.patch(args["ticket"], {"attachment": args["storage_id"]})


@query(args={"ticket": v.id("tickets")})
def get(ctx, args):
    ticket = ctx.db.get(args["ticket"])
    if ticket is None:
        return None
    url = ctx.storage.get_url(ticket["attachment"]) if ticket.get("attachment") else None
    return {"subject": ticket["subject"], "status": ticket["status"], "summary": ticket.get("summary"),
            "reminded": ticket.get("reminded", False), "attachment_url": url}


@internal_query(args={"ticket": v.id("tickets")})
def body(ctx, args):
    ticket = ctx.db.get(args["ticket"])
    return ticket["body"] if ticket else None


@internal_mutation(args={"ticket": v.id("tickets"), "summary": v.string()})
def set_summary(ctx, args):
    ctx.db.patch(args["ticket"], {"summary": args["summary"]})


@internal_mutation(args={})
def write_digest(ctx, args):
    open_tickets = ctx.db.query("tickets").with_index("by_status", lambda q: q.eq("status", "open")).collect()
    day = datetime.datetime.now(datetime.UTC).date().isoformat()
    ctx.db.insert("digests", {"day": day, "open": len(open_tickets)})


@query(args={})
def digests(ctx, args):
    return [(d["day"], d["open"]) for d in ctx.db.query("digests").collect()]
