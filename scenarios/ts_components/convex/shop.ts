// A shop built from components: orders are rate limited (@convex-dev/rate-limiter), counted
// (@convex-dev/sharded-counter) and tallied (the local `tally` component, installed twice).
import { RateLimiter, MINUTE } from "@convex-dev/rate-limiter";
import { ShardedCounter } from "@convex-dev/sharded-counter";
import { ConvexError, v } from "convex/values";
import { components } from "./_generated/api";
import { createFunctionHandle } from "convex/server";
import { internal } from "./_generated/api";
import { internalMutation, mutation, query } from "./_generated/server";

const limiter = new RateLimiter(components.rateLimiter, {
  order: { kind: "token bucket", rate: 2, period: MINUTE },
});
// A fresh client per call: ShardedCounter keeps the shard it last used per key ("sticky")
// in the object, and module state lives as long as the engine, so a module-level client
// would send every increment of a key to one shard.
const counter = () => new ShardedCounter(components.shardedCounter, { defaultShards: 8 });

export const placeOrder = mutation({
  args: { item: v.string(), fail: v.optional(v.boolean()) },
  handler: async (ctx, { item, fail }) => {
    const user = (await ctx.auth.getUserIdentity())?.subject ?? "anonymous";
    const status = await limiter.limit(ctx, "order", { key: user });
    if (!status.ok) throw new ConvexError({ code: "RATE_LIMITED", retryAfter: status.retryAfter });
    const id = await ctx.db.insert("orders", { user, item });
    await counter().add(ctx, "orders", 1);
    await ctx.runMutation(components.tallyA.lib.mark, { label: item });
    if (fail) throw new ConvexError({ code: "FAILED_ON_PURPOSE" });
    return id;
  },
});

export const markTolerant = mutation({
  args: { label: v.string() },
  handler: async (ctx, { label }) => {
    await ctx.db.insert("orders", { user: "anonymous", item: label });
    try {
      await ctx.runMutation(components.tallyA.lib.mark, { label, fail: true });
    } catch (e) {
      return { caught: e instanceof ConvexError ? e.data : String(e) };
    }
    return { caught: null };
  },
});

export const markIn = mutation({
  args: { which: v.string(), label: v.string() },
  handler: async (ctx, { which, label }) => {
    const ref = which === "A" ? components.tallyA.lib.mark : components.tallyB.lib.mark;
    return await ctx.runMutation(ref, { label });
  },
});

export const stats = query({
  args: {},
  handler: async (ctx) => ({
    orders: (await ctx.db.query("orders").collect()).length,
    counted: await counter().count(ctx, "orders"),
    tallyA: await ctx.runQuery(components.tallyA.lib.count, {}),
    tallyB: await ctx.runQuery(components.tallyB.lib.count, {}),
  }),
});

export const whoamiInTally = query({
  args: {},
  handler: async (ctx) => ({
    app: (await ctx.auth.getUserIdentity())?.subject ?? null,
    tally: (await ctx.runQuery(components.tallyA.lib.whoami, {})).subject,
  }),
});

export const callInternal = mutation({
  args: {},
  handler: async (ctx) => {
    await ctx.runMutation((components.tallyA.lib as any).wipe, {});
  },
});

export const incrementNaive = mutation({
  args: {},
  handler: async (ctx) => {
    const doc = await ctx.db.query("counters").withIndex("by_name", (q) => q.eq("name", "hits")).unique();
    if (doc === null) await ctx.db.insert("counters", { name: "hits", value: 1 });
    else await ctx.db.patch(doc._id, { value: doc.value + 1 });
  },
});

export const incrementSharded = mutation({
  args: {},
  handler: async (ctx) => {
    await counter().add(ctx, "hits", 1);
  },
});

export const totals = query({
  args: {},
  handler: async (ctx) => {
    const doc = await ctx.db.query("counters").withIndex("by_name", (q) => q.eq("name", "hits")).unique();
    return { naive: doc?.value ?? 0, sharded: await counter().count(ctx, "hits") };
  },
});

export const recordCallback = internalMutation({
  args: { label: v.string() },
  handler: async (ctx, { label }) => {
    const who = (await ctx.auth.getUserIdentity())?.subject ?? "nobody";
    return await ctx.db.insert("orders", { user: who, item: label });
  },
});

// Hands a tally instance a handle to an internal app function, which it calls back.
export const markWithCallback = mutation({
  args: { label: v.string() },
  handler: async (ctx, { label }) => {
    const handle = await createFunctionHandle(internal.shop.recordCallback);
    await ctx.runMutation(components.tallyA.lib.callBack, { handle, label });
    return handle;
  },
});

// A handle to a component's function, called through the handle.
export const markViaHandle = mutation({
  args: { label: v.string() },
  handler: async (ctx, { label }) => {
    const handle = await createFunctionHandle(components.tallyB.lib.mark);
    await ctx.runMutation(handle, { label });
    return handle;
  },
});
