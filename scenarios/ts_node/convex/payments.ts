"use node";

import { createHash, pbkdf2 } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ConvexError, v } from "convex/values";
import { v4 as uuidv4 } from "uuid";
import { api, internal } from "./_generated/api";
import { action, internalAction } from "./_generated/server";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Charges `amount` credits: reads the balance, waits for a (simulated) payment
 * provider, then charges. Racy on purpose: the read and the charge are two steps. */
export const charge = action({
  args: { owner: v.string(), amount: v.number() },
  handler: async (ctx, { owner, amount }) => {
    const credits = await ctx.runQuery(api.wallets.credits, { owner });
    if (credits < amount) {
      throw new ConvexError({ code: "INSUFFICIENT_CREDITS", credits, amount });
    }
    await sleep(250);
    const reference = uuidv4();
    const nonce = Math.random();
    const at = Date.now();
    const digest = createHash("sha256").update(`${owner}:${amount}:${nonce}`).digest("hex");
    await ctx.runMutation(internal.wallets.charge, { owner, amount, digest, reference, at });
    await ctx.scheduler.runAfter(1000, internal.wallets.audit, { note: `charged ${owner}` });
    console.log(`charged ${owner} ${amount} (${reference})`);
    return { reference, digest, at, nonce };
  },
});

/** What the sandbox gives a "use node" action: random values, clock, UUIDs, environment. */
export const entropy = action({
  args: {},
  handler: async () => {
    const crypto = await import("node:crypto");
    return {
      random: [Math.random(), Math.random()],
      now: Date.now(),
      date: new Date().toISOString(),
      uuid: crypto.randomUUID(),
      webUuid: globalThis.crypto.randomUUID(),
      npmUuid: uuidv4(),
      bytes: crypto.randomBytes(4).toString("hex"),
      region: process.env.REGION ?? null,
      node: process.versions.node.split(".")[0],
    };
  },
});

/** The same draws as wallets:draw, in Node.js: the same seed gives the same values. */
export const draw = action({
  args: {},
  handler: async () => ({
    random: [Math.random(), Math.random()],
    uuid: crypto.randomUUID(),
    now: Date.now(),
  }),
});

/** Real asynchronous work of Node's own (a file read, a WebCrypto digest, a key derivation):
 * the action waits for it like for any promise. */
export const fingerprint = action({
  args: {},
  handler: async () => {
    const manifest = await readFile("package.json");
    const digest = await globalThis.crypto.subtle.digest("SHA-256", manifest);
    const key = await new Promise<Buffer>((resolve, reject) =>
      pbkdf2("secret", "salt", 1000, 16, "sha256", (e, k) => (e ? reject(e) : resolve(k))),
    );
    return { sha256: Buffer.from(digest).toString("hex"), key: key.toString("hex") };
  },
});

/** Calls a payment provider with fetch. */
export const quote = action({
  args: { currency: v.string() },
  handler: async (_ctx, { currency }) => {
    const response = await fetch(`https://rates.example.com/v1/${currency}`, {
      headers: { accept: "application/json" },
    });
    const body = (await response.json()) as { rate: number };
    return { status: response.status, rate: body.rate };
  },
});

export const refuse = internalAction({
  args: { why: v.string() },
  handler: async (_ctx, { why }) => {
    throw new ConvexError({ code: "REFUSED", why });
  },
});

export const crash = action({
  args: {},
  handler: async () => {
    const parts: string[] | undefined = undefined;
    return parts!.length;
  },
});

/** A crash of the Node.js process itself. */
export const die = action({
  args: {},
  handler: async () => {
    process.stderr.write("payments: fatal, giving up\n");
    process.exit(3);
  },
});

/** Busy for `ms` real milliseconds (a runaway action). */
export const spin = action({
  args: { ms: v.number() },
  handler: async (_ctx, { ms }) => {
    const start = performance.now();
    while (performance.now() - start < ms) {
      // busy
    }
    return null;
  },
});
