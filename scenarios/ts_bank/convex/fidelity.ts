// Behaviours convex-sim checks against Convex itself (tests/test_typescript_fidelity.py).
import { v } from "convex/values";
import { api, internal } from "./_generated/api";
import { log } from "convex/server";
import { action, internalAction, mutation, query } from "./_generated/server";

// Promise.all of several runMutation calls: each is its own transaction.
export const tickAll = action({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    const bodies = Array.from({ length: n }, (_, i) => `t${i}`);
    await Promise.all(bodies.map((body) => ctx.runMutation(internal.jobs.tick, { body })));
    return await ctx.runQuery(api.messages.count, {});
  },
});

// Schedule a mutation, then poll (with setTimeout) until its effect shows.
export const scheduleAndPoll = action({
  args: {},
  handler: async (ctx) => {
    const start = Date.now();
    await ctx.scheduler.runAfter(1000, internal.jobs.tick, { body: "later" });
    let polls = 0;
    while ((await ctx.runQuery(api.messages.count, {})) === 0) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      polls += 1;
    }
    return { polls, waitedMs: Date.now() - start };
  },
});

export const jobsDone = query({
  args: {},
  handler: async (ctx) => {
    return (await ctx.db.system.query("_scheduled_functions").collect()).map((j) => j.state.kind);
  },
});

// `undefined` in equality means "the field is missing" (not null) in withIndex, filter and
// search filter fields.
export const withoutChannel = query({
  args: {},
  handler: async (ctx) => {
    const indexed = await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", undefined))
      .collect();
    const filtered = await ctx.db
      .query("messages")
      .filter((q) => q.eq(q.field("channel"), undefined))
      .collect();
    const searched = await ctx.db
      .query("messages")
      .withSearchIndex("search_body", (q) => q.search("body", "hello").eq("author", "ann"))
      .filter((q) => q.eq(q.field("channel"), undefined))
      .collect();
    const noAuthor = await ctx.db
      .query("messages")
      .withSearchIndex("search_body", (q) => q.search("body", "hello").eq("author", undefined))
      .collect();
    return {
      indexed: indexed.map((m) => m.body),
      filtered: filtered.map((m) => m.body),
      searched: searched.map((m) => m.body),
      noAuthor: noAuthor.length,
    };
  },
});

// A snapshot query from a mutation: the transaction's begin snapshot, without its own writes.
export const staleCount = mutation({
  args: {},
  handler: async (ctx) => {
    await ctx.db.insert("messages", { author: "stale", body: "pending" });
    const fresh = await ctx.runQuery(api.messages.count, {});
    const stale = await ctx.runQuery(api.messages.count, {}, { useStaleSnapshot: true });
    return { fresh, stale };
  },
});

// A nested call under its own transaction limits.
export const limitedCount = mutation({
  args: { documentsRead: v.number() },
  handler: async (ctx, { documentsRead }) => {
    try {
      return await ctx.runQuery(api.messages.count, {}, {
        transactionLimits: { documentsRead },
      });
    } catch (e) {
      return `failed: ${(e as Error).message.includes("documents read")}`;
    }
  },
});

export const whoAmI = query({
  args: {},
  handler: async (ctx) => {
    const meta = await ctx.meta.getFunctionMetadata();
    const metrics = await ctx.meta.getTransactionMetrics();
    await ctx.db.query("messages").collect();
    const after = await ctx.meta.getTransactionMetrics();
    return { meta, before: metrics.databaseQueries, after: after.databaseQueries };
  },
});

export const whoAmIAction = internalAction({
  args: {},
  handler: async (ctx) => ctx.meta.getFunctionMetadata(),
});

export const deploymentAndRequest = mutation({
  args: {},
  handler: async (ctx) => {
    const meta = (ctx as any).meta;
    await log.audit({ action: "inspect", count: 2 });
    return { deployment: await meta.getDeploymentMetadata(), request: await meta.getRequestMetadata() };
  },
});
