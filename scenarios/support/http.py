"""Inbound email webhook (HMAC-signed) and a public ticket status endpoint."""

import hashlib
import hmac
import json
import os

import httpx

from convex_sim import HttpRouter, http_action

WEBHOOK_SECRET = os.environ.get("SUPPORT_WEBHOOK_SECRET", "whsec_test_secret").encode()


def sign(body: bytes) -> str:
    """The signature a sender puts in the X-Signature header."""
    return "sha256=" + hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).hexdigest()


@http_action
async def inbound_email(ctx, request: httpx.Request) -> httpx.Response:
    body = request.content
    if not hmac.compare_digest(request.headers.get("X-Signature", ""), sign(body)):
        return httpx.Response(401, json={"error": "bad signature"})
    email = json.loads(body)
    ticket = await ctx.run_mutation("tickets:create_from_email", {
        "message_id": email["message_id"], "sender": email["from"],
        "subject": email["subject"], "body": email["text"]})
    return httpx.Response(200, json={"ticket": ticket})


@http_action
async def ticket_status(ctx, request: httpx.Request) -> httpx.Response:
    ticket_id = request.url.path.removeprefix("/tickets/")
    ticket = await ctx.run_query("tickets:get", {"ticket": ticket_id})
    if ticket is None:
        return httpx.Response(404, json={"error": "no such ticket"})
    return httpx.Response(200, json={"status": ticket["status"], "summary": ticket["summary"]},
                          headers={"Access-Control-Allow-Origin": "*"})


http = HttpRouter()
http.route(path="/webhooks/email", method="POST", handler=inbound_email)
http.route(path_prefix="/tickets/", method="GET", handler=ticket_status)
http.cors(path_prefix="/tickets/", allowed_methods=["GET"])
