import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  orders: defineTable({ user: v.string(), item: v.string() }),
  done: defineTable({ n: v.number() }),
  points: defineTable({ n: v.number() }),
  events: defineTable({ at: v.commitTs(), what: v.string() }).index("by_at", ["at"]),
  counters: defineTable({ name: v.string(), value: v.number() }).index("by_name", ["name"]),
});
