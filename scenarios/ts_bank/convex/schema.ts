import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  accounts: defineTable({
    owner: v.string(),
    balance: v.number(),
  }).index("by_owner", ["owner"]),

  messages: defineTable({
    author: v.string(),
    body: v.string(),
    channel: v.optional(v.string()),
  })
    .index("by_channel", ["channel"])
    .searchIndex("search_body", {
      searchField: "body",
      filterFields: ["author"],
    }),

  files: defineTable({
    storageId: v.id("_storage"),
    name: v.string(),
  }),

  tasks: defineTable({
    title: v.string(),
    assignee: v.optional(v.string()),
  }),

  // scenarios/ts_bank/convex/rules.ts: one function per documented rule (tests/test_catalogue.py).
  items: defineTable({
    group: v.string(),
    value: v.optional(v.any()),
    note: v.optional(v.string()),
  }).index("by_group_value", ["group", "value"]),

  embeddings: defineTable({
    text: v.string(),
    vector: v.array(v.float64()),
    tag: v.string(),
  }).vectorIndex("by_vector", {
    vectorField: "vector",
    dimensions: 3,
    filterFields: ["tag"],
  }),
});
