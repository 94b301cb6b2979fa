import { v } from "convex/values";
import { action, mutation } from "./_generated/server";

export const add = mutation({
  args: { text: v.string(), vector: v.array(v.float64()), tag: v.string() },
  handler: async (ctx, args) => {
    return await ctx.db.insert("embeddings", args);
  },
});

export const nearest = action({
  args: { vector: v.array(v.float64()), tag: v.string(), limit: v.optional(v.number()) },
  handler: async (ctx, { vector, tag, limit }) => {
    // Returns [{ _id, _score }], best match first.
    return await ctx.vectorSearch("embeddings", "by_vector", {
      vector,
      limit: limit ?? 3,
      filter: (q) => q.eq("tag", tag),
    });
  },
});
