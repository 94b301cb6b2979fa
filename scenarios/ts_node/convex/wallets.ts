import { ConvexError, v } from "convex/values";
import { action, internalMutation, mutation, query, type QueryCtx } from "./_generated/server";

async function walletOf(ctx: QueryCtx, owner: string) {
  return await ctx.db
    .query("wallets")
    .withIndex("by_owner", (q) => q.eq("owner", owner))
    .unique();
}

export const open = mutation({
  args: { owner: v.string(), credits: v.number() },
  returns: v.id("wallets"),
  handler: async (ctx, { owner, credits }) => {
    return await ctx.db.insert("wallets", { owner, credits });
  },
});

export const credits = query({
  args: { owner: v.string() },
  returns: v.number(),
  handler: async (ctx, { owner }) => (await walletOf(ctx, owner))?.credits ?? 0,
});

export const receipts = query({
  args: { owner: v.string() },
  handler: async (ctx, { owner }) =>
    await ctx.db
      .query("receipts")
      .withIndex("by_owner", (q) => q.eq("owner", owner))
      .collect(),
});

/** Takes `amount` credits off a wallet and keeps a receipt: no balance check (the
 * action did that, in an earlier step). */
export const charge = internalMutation({
  args: {
    owner: v.string(),
    amount: v.number(),
    digest: v.string(),
    reference: v.string(),
    at: v.number(),
  },
  handler: async (ctx, { owner, amount, digest, reference, at }) => {
    const wallet = await walletOf(ctx, owner);
    if (wallet === null) throw new ConvexError({ code: "NO_WALLET", owner });
    await ctx.db.patch(wallet._id, { credits: wallet.credits - amount });
    await ctx.db.insert("receipts", { owner, amount, digest, reference, at });
  },
});

export const audit = internalMutation({
  args: { note: v.string() },
  handler: async (ctx, { note }) => {
    await ctx.db.insert("audits", { note });
  },
});

/** The sandbox's random numbers, clock and UUID in the Convex runtime (compare payments:draw). */
export const draw = action({
  args: {},
  handler: async () => ({
    random: [Math.random(), Math.random()],
    uuid: crypto.randomUUID(),
    now: Date.now(),
  }),
});
