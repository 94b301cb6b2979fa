import { createFunctionHandle, type FunctionHandle } from "convex/server";
import { v } from "convex/values";
import { api } from "./_generated/api";
import { mutation } from "./_generated/server";

export const balanceHandle = mutation({
  args: {},
  returns: v.string(),
  // Explicit return type: the handle refers back into this app's own API.
  handler: async (): Promise<string> => {
    return await createFunctionHandle(api.bank.balance);
  },
});

export const balanceViaHandle = mutation({
  args: { owner: v.string() },
  returns: v.object({ handle: v.string(), balance: v.number() }),
  handler: async (ctx, { owner }): Promise<{ handle: string; balance: number }> => {
    const handle: FunctionHandle<"query", { owner: string }, number> =
      await createFunctionHandle(api.bank.balance);
    const balance = await ctx.runQuery(handle, { owner });
    return { handle, balance };
  },
});
