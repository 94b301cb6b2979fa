import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { action, internalMutation, mutation, query } from "./_generated/server";

export const tick = internalMutation({
  args: { body: v.optional(v.string()) },
  handler: async (ctx, { body }) => {
    await ctx.db.insert("messages", {
      author: "scheduler",
      body: body ?? "tick",
      channel: "jobs",
    });
  },
});

export const scheduleLater = mutation({
  args: { ms: v.number(), body: v.string() },
  returns: v.id("_scheduled_functions"),
  handler: async (ctx, { ms, body }): Promise<Id<"_scheduled_functions">> => {
    return await ctx.scheduler.runAfter(ms, internal.jobs.tick, { body });
  },
});

export const scheduleAt = mutation({
  args: { when: v.number(), body: v.string() },
  returns: v.id("_scheduled_functions"),
  handler: async (ctx, { when, body }): Promise<Id<"_scheduled_functions">> => {
    return await ctx.scheduler.runAt(when, internal.jobs.tick, { body });
  },
});

export const cancel = mutation({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => {
    await ctx.scheduler.cancel(id);
  },
});

export const status = query({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => {
    return await ctx.db.system.get(id);
  },
});

export const scheduleFromAction = action({
  args: { ms: v.number(), body: v.string() },
  returns: v.id("_scheduled_functions"),
  handler: async (ctx, { ms, body }): Promise<Id<"_scheduled_functions">> => {
    return await ctx.scheduler.runAfter(ms, internal.jobs.tick, { body });
  },
});

export const cancelFromAction = action({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => {
    await ctx.scheduler.cancel(id);
  },
});

export const record = internalMutation({
  args: { payload: v.any() },
  handler: async (ctx, { payload }) => {
    await ctx.db.insert("messages", { author: "scheduler", body: JSON.stringify(Object.keys(payload)), channel: "jobs" });
  },
});

export const scheduleRecord = mutation({
  args: { payload: v.any() },
  returns: v.id("_scheduled_functions"),
  handler: async (ctx, { payload }): Promise<Id<"_scheduled_functions">> => {
    return await ctx.scheduler.runAfter(0, internal.jobs.record, { payload });
  },
});

export const scheduledArgs = query({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => {
    const job = await ctx.db.system.get(id);
    return job === null ? null : { args: job.args, bigint: typeof job.args[0].payload.count };
  },
});
