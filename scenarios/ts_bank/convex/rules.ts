// One small function per documented Convex rule, mirrored line for line by the Python app
// scenarios/rules (tests/test_catalogue.py runs each rule against both).
import { v } from "convex/values";
import { paginationOptsValidator } from "convex/server";
import { internal } from "./_generated/api";
import { internalMutation, mutation, query } from "./_generated/server";

export const put = mutation({
  args: { group: v.string(), value: v.optional(v.any()), note: v.optional(v.string()) },
  handler: async (ctx, args) => await ctx.db.insert("items", args),
});

export const putInternal = internalMutation({
  args: { group: v.string(), note: v.optional(v.string()) },
  handler: async (ctx, args) => await ctx.db.insert("items", args),
});

export const ordered = query({
  args: { group: v.string() },
  handler: async (ctx, { group }) =>
    (await ctx.db.query("items").withIndex("by_group_value", (q) => q.eq("group", group)).collect())
      .map((item) => (item.value === undefined ? "<absent>" : item.value)),
});

export const only = query({
  args: { group: v.string() },
  handler: async (ctx, { group }) => {
    const item = await ctx.db.query("items").withIndex("by_group_value", (q) => q.eq("group", group)).unique();
    return item === null ? null : item.note ?? null;
  },
});

export const clearNote = mutation({
  args: { id: v.id("items") },
  handler: async (ctx, { id }) => {
    await ctx.db.patch(id, { note: undefined });
    const item = await ctx.db.get(id);
    return item === null ? null : Object.keys(item).sort();
  },
});

export const page = query({
  args: { group: v.string(), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { group, paginationOpts }) => {
    const result = await ctx.db.query("items").withIndex("by_group_value", (q) => q.eq("group", group))
      .paginate(paginationOpts);
    return { notes: result.page.map((item) => item.note ?? null), isDone: result.isDone,
             cursor: result.continueCursor };
  },
});

export const remove = mutation({
  args: { id: v.id("items") },
  handler: async (ctx, { id }) => { await ctx.db.delete(id); },
});

export const skipsAField = query({
  args: {},
  handler: async (ctx) =>
    await ctx.db.query("items").withIndex("by_group_value", (q) => (q as any).eq("value", 1)).collect(),
});

export const later = mutation({
  args: { ms: v.number(), note: v.string() },
  handler: async (ctx, { ms, note }) =>
    await ctx.scheduler.runAfter(ms, internal.rules.putInternal, { group: "jobs", note }),
});

export const cancel = mutation({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => { await ctx.scheduler.cancel(id); },
});

export const jobState = query({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => (await ctx.db.system.get(id))?.state.kind ?? null,
});

export const me = query({
  args: {},
  handler: async (ctx) => {
    const identity = await ctx.auth.getUserIdentity();
    return identity === null ? null : [identity.subject, identity.issuer, identity.tokenIdentifier];
  },
});
