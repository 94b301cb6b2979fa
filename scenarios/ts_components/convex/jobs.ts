// Background work through @convex-dev/workpool: the pool schedules and runs the app's own
// internal mutation (by function handle) from inside the component, at most 2 at a time.
import { Workpool } from "@convex-dev/workpool";
import { v } from "convex/values";
import { components, internal } from "./_generated/api";
import { internalMutation, mutation, query } from "./_generated/server";

const pool = new Workpool(components.pool, { maxParallelism: 2 });

export const work = internalMutation({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    await ctx.db.insert("done", { n });
  },
});

export const enqueue = mutation({
  args: { count: v.number() },
  handler: async (ctx, { count }) => {
    for (let i = 0; i < count; i++) await pool.enqueueMutation(ctx, internal.jobs.work, { n: i });
  },
});

export const done = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("done").collect()).map((d) => d.n).sort(),
});
