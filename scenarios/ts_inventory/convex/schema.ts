import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  products: defineTable({
    sku: v.string(),
    name: v.string(),
    stock: v.number(),
    received: v.number(),
  }).index("by_sku", ["sku"]),
  reservations: defineTable({
    productId: v.id("products"),
    quantity: v.number(),
    status: v.union(v.literal("held"), v.literal("confirmed"), v.literal("expired")),
    expiresAt: v.number(),
  })
    .index("by_product", ["productId"])
    .index("by_status_expiry", ["status", "expiresAt"]),
  events: defineTable({
    kind: v.string(),
    detail: v.string(),
  }),
});
