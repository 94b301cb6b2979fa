// A small local component: its own `marks` table, public and internal functions.
import {
  componentsGeneric,
  internalMutationGeneric as internalMutation,
  mutationGeneric as mutation,
  queryGeneric as query,
  type FunctionHandle,
} from "convex/server";
import { ConvexError, v } from "convex/values";

const components = componentsGeneric() as any;

export const mark = mutation({
  args: { label: v.string(), fail: v.optional(v.boolean()) },
  handler: async (ctx, { label, fail }) => {
    const id = await ctx.db.insert("marks", { label });
    await ctx.runMutation(components.counter.public.add, { name: "marks", count: 1, shards: 4 });
    if (fail) throw new ConvexError({ code: "TALLY_FAILED" });
    return id;
  },
});

export const count = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("marks").collect()).length,
});

export const counted = query({
  args: {},
  handler: async (ctx) => await ctx.runQuery(components.counter.public.count, { name: "marks" }),
});

export const whoami = query({
  args: {},
  handler: async (ctx) => {
    const identity = await ctx.auth.getUserIdentity();
    return { subject: identity?.subject ?? null, meta: null };
  },
});

export const wipe = internalMutation({
  args: {},
  handler: async (ctx) => {
    for (const doc of await ctx.db.query("marks").collect()) await ctx.db.delete(doc._id);
  },
});

// Calls back into whoever handed it the handle (the app, say): handles cross boundaries.
export const callBack = mutation({
  args: { handle: v.string(), label: v.string() },
  handler: async (ctx, { handle, label }) => {
    await ctx.db.insert("marks", { label: `called back ${label}` });
    return await ctx.runMutation(handle as FunctionHandle<"mutation">, { label });
  },
});

export const whereAmI = query({
  args: {},
  handler: async (ctx) => await (ctx as any).meta.getFunctionMetadata(),
});
