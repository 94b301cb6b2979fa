// Behaviours convex-sim checks against Convex itself (tests/test_typescript_fidelity.py).
import { v } from "convex/values";
import { api, internal } from "./_generated/api";
import { action, query } from "./_generated/server";

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
