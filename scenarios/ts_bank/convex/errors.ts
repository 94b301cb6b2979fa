import { ConvexError } from "convex/values";
import { mutation } from "./_generated/server";

export const boom = mutation({
  args: {},
  handler: async () => {
    throw new Error("boom from ts"); // errors.ts line 7
  },
});

export const refuse = mutation({
  args: {},
  handler: async () => {
    throw new ConvexError({ code: "REFUSED", detail: { retry: false, after: 30 } });
  },
});
