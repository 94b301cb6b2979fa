// Runs call sequences through convex-test (the peer) for convex-sim's differential check.
// Input (DIFF_INPUT): {"tables": [...], "startTime": ms, "sequences": [[call, ...], ...]},
// a call being {kind: "query"|"mutation"|"action", path, args, identity?}, {kind: "advance", ms},
// {kind: "finishScheduled"} or {kind: "fetch", path, method, json?} (convex_sim/differential/calls.py),
// args in Convex JSON, {"$result": i, "key"?: k} standing for call i's return value.
// Output (DIFF_OUTPUT): per sequence, each call's outcome and every table's documents at the
// end, all in Convex JSON. Time starts at startTime for every sequence and moves only when told.
import { convexTest } from "convex-test";
import { test, vi } from "vitest";
import { makeFunctionReference } from "convex/server";
import { convexToJson, jsonToConvex } from "convex/values";
import * as fs from "node:fs";
import schema from "./convex/schema";

const modules = import.meta.glob("./convex/**/*.*s");
const SCHEDULED = "_scheduled_functions";
// As convex-sim's finish_all_scheduled_functions.
const MAX_JOBS = 100;

function outcome(error) {
  // convex-test hands back a ConvexError's data deserialized, as Convex's client does.
  if (error && error.data !== undefined) return { convexError: convexToJson(error.data) };
  return { error: String(error && error.message ? error.message : error) };
}

function resolveRefs(value, returned) {
  if (Array.isArray(value)) return value.map((x) => resolveRefs(x, returned));
  if (value === null || typeof value !== "object") return value;
  if ("$result" in value) {
    const got = returned[value.$result] ?? null;
    if (value.key === undefined) return got;
    return got !== null && typeof got === "object" && !Array.isArray(got) ? (got[value.key] ?? null) : null;
  }
  return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, resolveRefs(x, returned)]));
}

// The clock: Date is vitest's fake, and setTimeout (which convex-test's scheduler starts each
// job with) is a queue this runner fires one timer at a time. vitest's own timer fakes fire
// every timer due at one instant together, so jobs due together would run interleaved; here
// they run one after another in the order they were scheduled, as convex-sim runs them.
const timers = [];
let timerSeq = 0;

function installClock(startTime) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(startTime);
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setTimeout = (callback, ms = 0, ...args) => {
    timerSeq += 1;
    timers.push({ due: Date.now() + Math.max(0, ms), seq: timerSeq, fire: () => callback(...args) });
    return timerSeq;
  };
  return () => {
    globalThis.setTimeout = realSetTimeout;
    timers.length = 0;
    vi.useRealTimers();
  };
}

function nextTimer() {
  timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
  return timers.length === 0 ? null : timers[0];
}

// Move the clock by `ms`, stopping at each scheduled function's time on the way so that it
// runs then (as Convex runs it at its time), each finished before the next starts.
async function advance(t, ms) {
  const target = Date.now() + ms;
  for (let ran = 0; nextTimer() !== null && nextTimer().due <= target; ran++) {
    if (ran >= MAX_JOBS * 10) throw new Error("advance: scheduled functions kept becoming due");
    const timer = timers.shift();
    if (timer.due > Date.now()) vi.setSystemTime(timer.due);
    timer.fire();
    await t.finishInProgressScheduledFunctions();
  }
  if (target > Date.now()) vi.setSystemTime(target);
}

// Run every pending scheduled function, and those they schedule, each at its own time (as
// convex-sim's finish_all_scheduled_functions does). Not t.finishAllScheduledFunctions(
// vi.runAllTimers): that fires every timer at once, so jobs due at different times run
// together at the last one's time, in an order of their own.
async function finishAll(t) {
  for (let steps = 0; nextTimer() !== null; steps++) {
    if (steps >= MAX_JOBS) throw new Error("finishScheduled: scheduled functions kept scheduling more");
    await advance(t, Math.max(0, nextTimer().due - Date.now()));
  }
}

async function http(t, call) {
  const init = { method: call.method ?? "GET" };
  if (call.json !== undefined && call.json !== null) {
    init.body = JSON.stringify(call.json);
    init.headers = { "content-type": "application/json" };
  }
  const response = await t.fetch(call.path, init);
  const text = await response.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return { status: response.status, contentType: response.headers.get("content-type"), body };
}

async function run(t, call, returned) {
  switch (call.kind) {
    case "advance":
      await advance(t, call.ms);
      return null;
    case "finishScheduled":
      await finishAll(t);
      return null;
    case "fetch":
      return await http(t, call);
    default: {
      const who = call.identity ? t.withIdentity(call.identity) : t;
      const args = jsonToConvex(resolveRefs(call.args, returned));
      const value = await who[call.kind](makeFunctionReference(call.path), args);
      return convexToJson(value === undefined ? null : value);
    }
  }
}

async function dumpTables(t, tables) {
  return await t.run(async (ctx) => {
    const dump = {};
    for (const name of tables) {
      const query = name === SCHEDULED ? ctx.db.system.query(name) : ctx.db.query(name);
      dump[name] = convexToJson(await query.collect());
    }
    return dump;
  });
}

test("differential", async () => {
  const input = JSON.parse(fs.readFileSync(process.env.DIFF_INPUT, "utf8"));
  const out = [];
  for (const sequence of input.sequences) {
    const restoreClock = installClock(input.startTime);
    try {
      const t = convexTest(schema, modules);
      const results = [];
      const returned = [];
      for (const call of sequence) {
        try {
          const value = await run(t, call, returned);
          results.push({ ok: value });
          returned.push(value);
        } catch (error) {
          results.push(outcome(error));
          returned.push(null);
        }
      }
      out.push({ results, tables: await dumpTables(t, input.tables) });
    } finally {
      restoreClock();
    }
  }
  const tmp = `${process.env.DIFF_OUTPUT}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(out));
  fs.renameSync(tmp, process.env.DIFF_OUTPUT);
}, 3600000);
