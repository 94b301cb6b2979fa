import { v } from "convex/values";
import { action, mutation, query } from "./_generated/server";

export const rates = action({
  args: {},
  handler: async () => {
    const response = await fetch("https://api.example.test/rates");
    if (!response.ok) {
      throw new Error(`rates request failed: ${response.status}`);
    }
    return await response.json();
  },
});

// Queries must be deterministic: the runtime refuses `fetch` here.
export const ratesFromQuery = query({
  args: {},
  handler: async () => {
    const response = await fetch("https://api.example.test/rates");
    return await response.json();
  },
});

// Math.random() and Date.now() are allowed in mutations; the runtime makes
// them deterministic (seeded randomness, frozen clock per transaction).
export const roll = mutation({
  args: { note: v.optional(v.string()) },
  handler: async (_ctx, { note }) => {
    return { random: Math.random(), now: Date.now(), note: note ?? null };
  },
});
