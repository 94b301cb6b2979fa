import { ConvexError, v } from "convex/values";
import { api, internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { action, internalMutation, mutation, query } from "./_generated/server";

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  returns: v.id("messages"),
  handler: async (ctx, { author, body }) => {
    if (body.trim() === "") {
      throw new ConvexError({ code: "EMPTY_BODY", author });
    }
    return await ctx.db.insert("messages", { author, body, likes: 0 });
  },
});

export const list = query({
  args: { author: v.string() },
  returns: v.array(v.object({ body: v.string(), likes: v.number() })),
  handler: async (ctx, { author }) => {
    const messages = await ctx.db
      .query("messages")
      .withIndex("by_author", (q) => q.eq("author", author))
      .collect();
    return messages.map(({ body, likes }) => ({ body, likes }));
  },
});

export const like = internalMutation({
  args: { id: v.id("messages"), by: v.number() },
  returns: v.null(),
  handler: async (ctx, { id, by }) => {
    const message = await ctx.db.get("messages", id);
    if (message === null) {
      return null;
    }
    await ctx.db.patch("messages", id, { likes: message.likes + by });
    return null;
  },
});

export const likeLater = mutation({
  args: { id: v.id("messages"), by: v.number(), delayMs: v.number() },
  returns: v.null(),
  handler: async (ctx, { id, by, delayMs }) => {
    await ctx.scheduler.runAfter(delayMs, internal.messages.like, { id, by });
    return null;
  },
});

export const sendAndCount = action({
  args: { author: v.string(), body: v.string() },
  returns: v.number(),
  handler: async (ctx, { author, body }) => {
    const id: Id<"messages"> = await ctx.runMutation(api.messages.send, { author, body });
    await ctx.scheduler.runAfter(1000, internal.messages.like, { id, by: 2 });
    const messages = await ctx.runQuery(api.messages.list, { author });
    return messages.length;
  },
});
