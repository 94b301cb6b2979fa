import { mutation, query } from "./_generated/server";
import { v } from "convex/values";

/** The counter's value (0 before the first click). */
export const get = query({
  args: {},
  returns: v.number(),
  handler: async (ctx) => {
    const counter = await ctx.db.query("counters").withIndex("by_name", (q) => q.eq("name", "clicks")).unique();
    return counter?.value ?? 0;
  },
});

/** One more click: the new value. */
export const increment = mutation({
  args: {},
  returns: v.number(),
  handler: async (ctx) => {
    const counter = await ctx.db.query("counters").withIndex("by_name", (q) => q.eq("name", "clicks")).unique();
    if (counter === null) {
      await ctx.db.insert("counters", { name: "clicks", value: 1 });
      return 1;
    }
    await ctx.db.patch(counter._id, { value: counter.value + 1 });
    return counter.value + 1;
  },
});
