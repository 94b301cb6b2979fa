// Runs call sequences through convex-test (the peer) for convex-sim's differential check.
// Input (DIFF_INPUT): {"tables": [...], "sequences": [[{kind, path, args, identity?}, ...], ...]},
// args in Convex JSON. Output (DIFF_OUTPUT): per sequence, each call's outcome and every
// table's documents at the end, all in Convex JSON.
import { convexTest } from "convex-test";
import { test } from "vitest";
import { makeFunctionReference } from "convex/server";
import { convexToJson, jsonToConvex } from "convex/values";
import * as fs from "node:fs";
import schema from "./convex/schema";

const modules = import.meta.glob("./convex/**/*.*s");

function outcome(error) {
  if (error && error.data !== undefined) {
    const data = typeof error.data === "string" ? JSON.parse(error.data) : convexToJson(error.data);
    return { convexError: data };
  }
  return { error: String(error && error.message ? error.message : error) };
}

test("differential", async () => {
  const input = JSON.parse(fs.readFileSync(process.env.DIFF_INPUT, "utf8"));
  const out = [];
  for (const sequence of input.sequences) {
    const t = convexTest(schema, modules);
    const results = [];
    for (const call of sequence) {
      const who = call.identity ? t.withIdentity(call.identity) : t;
      try {
        const value = await who[call.kind](makeFunctionReference(call.path), jsonToConvex(call.args));
        results.push({ ok: convexToJson(value === undefined ? null : value) });
      } catch (error) {
        results.push(outcome(error));
      }
    }
    const tables = await t.run(async (ctx) => {
      const dump = {};
      for (const name of input.tables) dump[name] = convexToJson(await ctx.db.query(name).collect());
      return dump;
    });
    out.push({ results, tables });
  }
  const tmp = `${process.env.DIFF_OUTPUT}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(out));
  fs.renameSync(tmp, process.env.DIFF_OUTPUT);
}, 600000);
