import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  wallets: defineTable({ owner: v.string(), credits: v.number() }).index("by_owner", [
    "owner",
  ]),
  receipts: defineTable({
    owner: v.string(),
    amount: v.number(),
    digest: v.string(),
    reference: v.string(),
    at: v.number(),
  }).index("by_owner", ["owner"]),
  audits: defineTable({ note: v.string() }),
});
