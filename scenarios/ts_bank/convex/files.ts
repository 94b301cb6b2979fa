import { v } from "convex/values";
import { action, mutation, query } from "./_generated/server";

export const generateUploadUrl = mutation({
  args: {},
  handler: async (ctx) => {
    return await ctx.storage.generateUploadUrl();
  },
});

export const saveFile = mutation({
  args: { storageId: v.id("_storage"), name: v.string() },
  handler: async (ctx, { storageId, name }) => {
    return await ctx.db.insert("files", { storageId, name });
  },
});

export const getUrl = query({
  args: { storageId: v.id("_storage") },
  handler: async (ctx, { storageId }) => {
    return await ctx.storage.getUrl(storageId);
  },
});

export const metadata = query({
  args: { storageId: v.id("_storage") },
  handler: async (ctx, { storageId }) => {
    // Preferred: read the `_storage` system table.
    const doc = await ctx.db.system.get("_storage", storageId);
    // Deprecated, but still available in convex 1.48.
    const legacy = await ctx.storage.getMetadata(storageId);
    return { doc, legacy };
  },
});

export const listStored = query({
  args: {},
  handler: async (ctx) => {
    return await ctx.db.system.query("_storage").collect();
  },
});

export const deleteFile = mutation({
  args: { storageId: v.id("_storage") },
  handler: async (ctx, { storageId }) => {
    await ctx.storage.delete(storageId);
  },
});

export const storeText = action({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    return await ctx.storage.store(new Blob([text], { type: "text/plain" }));
  },
});

export const readText = action({
  args: { storageId: v.id("_storage") },
  handler: async (ctx, { storageId }) => {
    const blob = await ctx.storage.get(storageId);
    return blob === null ? null : await blob.text();
  },
});
