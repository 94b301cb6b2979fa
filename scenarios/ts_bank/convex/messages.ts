import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const send = mutation({
  args: { author: v.string(), body: v.string(), channel: v.optional(v.string()) },
  handler: async (ctx, { author, body, channel }) => {
    // Signed-in callers post under their identity; anonymous ones use `author`.
    const identity = await ctx.auth.getUserIdentity();
    return await ctx.db.insert("messages", {
      author: identity?.name ?? identity?.subject ?? author,
      body,
      channel,
    });
  },
});

export const list = query({
  args: { channel: v.string(), limit: v.optional(v.number()) },
  handler: async (ctx, { channel, limit }) => {
    return await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .order("desc")
      .take(limit ?? 10);
  },
});

export const page = query({
  args: { channel: v.string(), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { channel, paginationOpts }) => {
    return await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .order("desc")
      .paginate(paginationOpts);
  },
});

export const count = query({
  args: {},
  handler: async (ctx) => {
    return (await ctx.db.query("messages").collect()).length;
  },
});

// `count()` on a table query exists at runtime in convex 1.48 but is not part
// of the public types yet, hence the cast.
export const countFast = query({
  args: {},
  handler: async (ctx) => {
    const messages = ctx.db.query("messages") as unknown as {
      count(): Promise<number>;
    };
    return await messages.count();
  },
});

export const search = query({
  args: { text: v.string(), author: v.optional(v.string()) },
  handler: async (ctx, { text, author }) => {
    return await ctx.db
      .query("messages")
      .withSearchIndex("search_body", (q) =>
        author === undefined
          ? q.search("body", text)
          : q.search("body", text).eq("author", author),
      )
      .take(10);
  },
});

export const edit = mutation({
  args: { id: v.id("messages"), body: v.string() },
  handler: async (ctx, { id, body }) => {
    const message = await ctx.db.get("messages", id);
    if (message === null) throw new Error(`message ${id} not found`);
    const { _id, _creationTime, ...fields } = message;
    await ctx.db.replace("messages", id, { ...fields, body });
  },
});

export const remove = mutation({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => {
    await ctx.db.delete("messages", id);
  },
});

export const getById = query({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => {
    // The one-argument form of db.get is still supported.
    return await ctx.db.get(id);
  },
});

export const normalize = query({
  args: { id: v.string() },
  handler: async (ctx, { id }) => {
    // Returns null when `id` is not a valid id for the messages table.
    return ctx.db.normalizeId("messages", id);
  },
});

export const latest = query({
  args: {},
  handler: async (ctx) => {
    return await ctx.db.query("messages").order("desc").first();
  },
});

export const onlyInChannel = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    // Throws if the channel holds more than one message.
    return await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .unique();
  },
});

export const byAuthorSince = query({
  args: { author: v.string(), since: v.number() },
  handler: async (ctx, { author, since }) => {
    return await ctx.db
      .query("messages")
      .filter((q) =>
        q.and(
          q.eq(q.field("author"), author),
          q.gt(q.field("_creationTime"), since),
          q.neq(q.field("body"), ""),
        ),
      )
      .collect();
  },
});

export const inChannelRange = query({
  args: { from: v.string(), to: v.string() },
  handler: async (ctx, { from, to }) => {
    return await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.gte("channel", from).lt("channel", to))
      .filter((q) => q.or(q.eq(q.field("author"), "ann"), q.lte(q.field("body"), "m")))
      .collect();
  },
});
