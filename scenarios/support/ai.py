"""The AI summary: an action that calls an external API over httpx."""

import httpx

from convex_sim import internal_action, v

SUMMARIZER_URL = "https://api.summarizer.test/v1/summarize"


@internal_action(args={"ticket": v.id("tickets")})
async def summarize(ctx, args):
    body = await ctx.run_query("tickets:body", {"ticket": args["ticket"]})
    if body is None:
        return None
    async with httpx.AsyncClient() as client:
        response = await client.post(SUMMARIZER_URL, json={"text": body}, timeout=10)
    response.raise_for_status()
    summary = response.json()["summary"]
    await ctx.run_mutation("tickets:set_summary", {"ticket": args["ticket"], "summary": summary})
    return summary
