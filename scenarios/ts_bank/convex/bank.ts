import { ConvexError, v } from "convex/values";
import { api, internal } from "./_generated/api";
import {
  action,
  internalMutation,
  mutation,
  query,
  type QueryCtx,
} from "./_generated/server";

async function accountOf(ctx: QueryCtx, owner: string) {
  return await ctx.db
    .query("accounts")
    .withIndex("by_owner", (q) => q.eq("owner", owner))
    .unique();
}

export const open = mutation({
  args: { owner: v.string(), amount: v.number() },
  returns: v.id("accounts"),
  handler: async (ctx, { owner, amount }) => {
    return await ctx.db.insert("accounts", { owner, balance: amount });
  },
});

export const deposit = mutation({
  args: { owner: v.string(), amount: v.number() },
  handler: async (ctx, { owner, amount }) => {
    const account = await accountOf(ctx, owner);
    if (account === null) {
      throw new ConvexError({ code: "NO_ACCOUNT", owner });
    }
    await ctx.db.patch("accounts", account._id, {
      balance: account.balance + amount,
    });
  },
});

export const balance = query({
  args: { owner: v.string() },
  returns: v.number(),
  handler: async (ctx, { owner }) => {
    const account = await accountOf(ctx, owner);
    return account?.balance ?? 0;
  },
});

export const total = query({
  args: {},
  handler: async (ctx) => {
    let sum = 0;
    for await (const account of ctx.db.query("accounts")) {
      sum += account.balance;
    }
    return sum;
  },
});

export const transfer = mutation({
  args: { src: v.string(), dst: v.string(), amount: v.number() },
  handler: async (ctx, { src, dst, amount }) => {
    const from = await accountOf(ctx, src);
    const to = await accountOf(ctx, dst);
    if (from === null || to === null) {
      throw new ConvexError({ code: "NO_ACCOUNT" });
    }
    if (from.balance < amount) {
      throw new ConvexError({
        code: "INSUFFICIENT_FUNDS",
        balance: from.balance,
      });
    }
    await ctx.db.patch("accounts", from._id, { balance: from.balance - amount });
    await ctx.db.patch("accounts", to._id, { balance: to.balance + amount });
  },
});

export const debit = internalMutation({
  args: { owner: v.string(), amount: v.number() },
  handler: async (ctx, { owner, amount }) => {
    const account = await accountOf(ctx, owner);
    if (account === null) throw new ConvexError({ code: "NO_ACCOUNT", owner });
    await ctx.db.patch("accounts", account._id, {
      balance: account.balance - amount,
    });
  },
});

export const credit = internalMutation({
  args: { owner: v.string(), amount: v.number() },
  handler: async (ctx, { owner, amount }) => {
    const account = await accountOf(ctx, owner);
    if (account === null) throw new ConvexError({ code: "NO_ACCOUNT", owner });
    await ctx.db.patch("accounts", account._id, {
      balance: account.balance + amount,
    });
  },
});

// RACY ON PURPOSE: the balance check and the two writes run as three separate
// transactions, so two concurrent calls can both pass the check and overdraw
// the source account. Use `transferAtomic` (one mutation) instead.
export const transferViaAction = action({
  args: { src: v.string(), dst: v.string(), amount: v.number() },
  handler: async (ctx, { src, dst, amount }) => {
    const available = await ctx.runQuery(api.bank.balance, { owner: src });
    if (available < amount) {
      throw new ConvexError({ code: "INSUFFICIENT_FUNDS", balance: available });
    }
    await ctx.runMutation(internal.bank.debit, { owner: src, amount });
    await ctx.runMutation(internal.bank.credit, { owner: dst, amount });
  },
});

// Correct: the check and both writes happen inside one mutation transaction.
export const transferAtomic = action({
  args: { src: v.string(), dst: v.string(), amount: v.number() },
  handler: async (ctx, args) => {
    await ctx.runMutation(api.bank.transfer, args);
  },
});
