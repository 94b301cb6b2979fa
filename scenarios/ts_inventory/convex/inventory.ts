import { paginationOptsValidator } from "convex/server";
import { ConvexError, v } from "convex/values";
import { internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import {
  action,
  internalMutation,
  internalQuery,
  mutation,
  query,
  type MutationCtx,
  type QueryCtx,
} from "./_generated/server";

/** How long a reservation holds its stock before the expiry job returns it. */
export const HOLD_MS = 15 * 60 * 1000;

function productBySku(ctx: QueryCtx, sku: string) {
  return ctx.db
    .query("products")
    .withIndex("by_sku", (q) => q.eq("sku", sku))
    .unique();
}

export const addProduct = mutation({
  args: { sku: v.string(), name: v.string(), stock: v.number() },
  returns: v.id("products"),
  handler: async (ctx, args) => {
    const existing = await productBySku(ctx, args.sku);
    if (existing !== null) throw new ConvexError(`sku ${args.sku} exists`);
    return await ctx.db.insert("products", { ...args, received: args.stock });
  },
});

async function hold(ctx: MutationCtx, productId: Id<"products">, quantity: number) {
  const reservationId = await ctx.db.insert("reservations", {
    productId,
    quantity,
    status: "held",
    expiresAt: Date.now() + HOLD_MS,
  });
  await ctx.scheduler.runAfter(HOLD_MS, internal.inventory.expireHold, { reservationId });
  await ctx.db.insert("events", { kind: "held", detail: `${quantity} of ${productId}` });
  return reservationId;
}

/** Reserve stock for 15 minutes, checking and taking it in one transaction. */
export const reserve = mutation({
  args: { sku: v.string(), quantity: v.number() },
  returns: v.id("reservations"),
  handler: async (ctx, { sku, quantity }) => {
    const product = await productBySku(ctx, sku);
    if (product === null) throw new ConvexError(`no product ${sku}`);
    if (product.stock < quantity) throw new ConvexError(`only ${product.stock} of ${sku} left`);
    await ctx.db.patch(product._id, { stock: product.stock - quantity });
    return await hold(ctx, product._id, quantity);
  },
});

export const stockOf = internalQuery({
  args: { sku: v.string() },
  handler: async (ctx, { sku }) => {
    const product = await productBySku(ctx, sku);
    return product === null ? null : { id: product._id, stock: product.stock };
  },
});

export const take = internalMutation({
  args: { productId: v.id("products"), stock: v.number(), quantity: v.number() },
  returns: v.id("reservations"),
  handler: async (ctx, { productId, stock, quantity }) => {
    await ctx.db.patch(productId, { stock: stock - quantity });
    return await hold(ctx, productId, quantity);
  },
});

/** The racy twin of `reserve`: checks the stock in one transaction and takes it in another,
 * writing back the stock it read. Two of them at once can both pass the check. */
export const reserveViaAction = action({
  args: { sku: v.string(), quantity: v.number() },
  handler: async (ctx, { sku, quantity }): Promise<Id<"reservations">> => {
    const product = await ctx.runQuery(internal.inventory.stockOf, { sku });
    if (product === null) throw new ConvexError(`no product ${sku}`);
    if (product.stock < quantity) throw new ConvexError(`only ${product.stock} of ${sku} left`);
    return await ctx.runMutation(internal.inventory.take, {
      productId: product.id,
      stock: product.stock,
      quantity,
    });
  },
});

async function release(ctx: MutationCtx, reservationId: Id<"reservations">, why: string) {
  const reservation = await ctx.db.get(reservationId);
  if (reservation === null || reservation.status !== "held") return false;
  const product = await ctx.db.get(reservation.productId);
  if (product !== null) {
    await ctx.db.patch(product._id, { stock: product.stock + reservation.quantity });
  }
  await ctx.db.patch(reservationId, { status: "expired" });
  await ctx.db.insert("events", { kind: why, detail: `${reservation.quantity} returned` });
  return true;
}

/** Scheduled by every reservation, 15 minutes later: returns the stock of an unconfirmed hold. */
export const expireHold = internalMutation({
  args: { reservationId: v.id("reservations") },
  handler: async (ctx, { reservationId }) => {
    await release(ctx, reservationId, "expired");
  },
});

export const confirm = mutation({
  args: { reservationId: v.id("reservations") },
  handler: async (ctx, { reservationId }) => {
    const reservation = await ctx.db.get(reservationId);
    if (reservation === null || reservation.status !== "held") {
      throw new ConvexError("this reservation is no longer held");
    }
    await ctx.db.patch(reservationId, { status: "confirmed" });
    await ctx.db.insert("events", { kind: "confirmed", detail: reservationId });
  },
});

/** The hourly sweep (crons.ts): holds past their expiry whose job has not run yet. */
export const sweepExpired = internalMutation({
  args: {},
  handler: async (ctx) => {
    const overdue = await ctx.db
      .query("reservations")
      .withIndex("by_status_expiry", (q) => q.eq("status", "held").lt("expiresAt", Date.now()))
      .collect();
    for (const reservation of overdue) await release(ctx, reservation._id, "swept");
    return overdue.length;
  },
});

export const catalogue = query({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => {
    return await ctx.db.query("products").order("asc").paginate(paginationOpts);
  },
});

export const stock = query({
  args: { sku: v.string() },
  handler: async (ctx, { sku }) => {
    const product = await productBySku(ctx, sku);
    return product?.stock ?? null;
  },
});
