// @convex-dev/aggregate: a count and sum of scores, kept in the component's B-tree; and
// ctx.db.vars.commitTs, the placeholder a write gets the commit timestamp through.
import { TableAggregate } from "@convex-dev/aggregate";
import { v } from "convex/values";
import { components } from "./_generated/api";
import { mutation, query } from "./_generated/server";
import type { DataModel } from "./_generated/dataModel";

const scores = new TableAggregate<{ Key: number; DataModel: DataModel; TableName: "points" }>(
  components.scores,
  { sortKey: (doc) => doc.n, sumValue: (doc) => doc.n },
);

export const add = mutation({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    const id = await ctx.db.insert("points", { n });
    await scores.insert(ctx, (await ctx.db.get(id))!);
  },
});

export const summary = query({
  args: {},
  handler: async (ctx) => ({ count: await scores.count(ctx), sum: await scores.sum(ctx) }),
});

export const logEvent = mutation({
  args: { what: v.string() },
  handler: async (ctx, { what }) => {
    const at = (ctx.db as any).vars.commitTs;
    await ctx.db.insert("events", { at, what });
    // Before the commit, the placeholder finds this transaction's own rows.
    const mine = await ctx.db.query("events").withIndex("by_at", (q) => q.eq("at", at)).collect();
    return mine.length;
  },
});

export const events = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("events").withIndex("by_at").collect()).map((e) => [e.at, e.what]),
});
