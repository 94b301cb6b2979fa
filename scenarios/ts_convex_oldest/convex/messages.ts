import { v } from "convex/values";
import { api, internal } from "./_generated/api";
import { action, internalMutation, mutation, query } from "./_generated/server";

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => {
    if (body.trim() === "") {
      // convex 1.0 has no ConvexError: an app reports errors as plain Errors.
      throw new Error(`EMPTY_BODY from ${author}`);
    }
    return await ctx.db.insert("messages", { author, body, likes: 0 });
  },
});

export const list = query({
  args: { author: v.string() },
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
  handler: async (ctx, { id, by }) => {
    const message = await ctx.db.get(id);
    if (message === null) {
      return;
    }
    await ctx.db.patch(id, { likes: message.likes + by });
  },
});

export const likeLater = mutation({
  args: { id: v.id("messages"), by: v.number(), delayMs: v.number() },
  handler: async (ctx, { id, by, delayMs }) => {
    await ctx.scheduler.runAfter(delayMs, internal.messages.like, { id, by });
  },
});

export const sendAndCount = action({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => {
    const id = await ctx.runMutation(api.messages.send, { author, body });
    await ctx.scheduler.runAfter(1000, internal.messages.like, { id, by: 2 });
    const messages = await ctx.runQuery(api.messages.list, { author });
    return messages.length;
  },
});
