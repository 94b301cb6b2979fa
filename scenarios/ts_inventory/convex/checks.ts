import { query } from "./_generated/server";

/** Invariant: every unit received is either in stock or in a held or confirmed reservation,
 * and no stock is negative. Throws (naming the product) when broken. */
export const noOversell = query({
  args: {},
  handler: async (ctx) => {
    for (const product of await ctx.db.query("products").collect()) {
      const reservations = await ctx.db
        .query("reservations")
        .withIndex("by_product", (q) => q.eq("productId", product._id))
        .collect();
      const taken = reservations
        .filter((r) => r.status !== "expired")
        .reduce((sum, r) => sum + r.quantity, 0);
      if (product.stock < 0 || product.stock + taken !== product.received) {
        throw new Error(
          `${product.sku} oversold: ${product.stock} in stock + ${taken} reserved, ${product.received} received`,
        );
      }
    }
    return true;
  },
});
