// Runs a project's "use node" actions in Node.js, for convex-sim (convex_sim/js/node_runner.py).
//
//   node node_host.cjs --in=FD --out=FD BUNDLE     serve executions of BUNDLE's actions
//   node node_host.cjs --manifest BUNDLE           print BUNDLE's functions as JSON and exit
//
// BUNDLE is a CommonJS file exporting {modules: {"<module path>": namespace}}. Python writes
// one JSON message a line to fd IN and reads from fd OUT (the app's own stdout and stderr stay
// out of the protocol). The `Convex` global speaks the syscall ops and payloads of the embedded
// engine (prelude.js), so Python answers them unchanged:
//   Python -> Node  first {op: "load", env} (the bundle is evaluated with that process.env;
//                   Node answers {t: "ready", node} or {t: "ready", error}), then
//                   {op: "invoke", id, kind, path, args, now} | {op: "settle", id, request,
//                   result, now} | {op: "fire", id, now} | {op: "forget", id} | {op: "env", env}
//                   (the last two answered {t: "ok"})
//   Node -> Python  {t: "sync" | "async", op, payload} and {t: "seed", id}, each answered by
//                   {r: text} ("=json", "!error json", or "~request id" for an action step);
//                   {t: "log", level, text}; {t: "done", id, outcome}; and, when nothing more
//                   can happen without Python, {t: "idle", fired, timer} (the execution's
//                   earliest virtual timer, -1 if none).
// Determinism: Math.random, Date, crypto randomness and timers are those of sandbox.js (the
// embedded engine's), seeded and clocked by Python per execution; fetch is a syscall.
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");
const asyncHooks = require("async_hooks");
const nodeCrypto = require("crypto");
const net = require("net");
const timers = require("timers");
const timersPromises = require("timers/promises");

const g = globalThis;
const real = { setTimeout, setImmediate };
vm.runInThisContext(fs.readFileSync(path.join(__dirname, "sandbox.js"), "utf8"), { filename: "sandbox.js" });
const sandbox = g.__csSandbox;
delete g.__csSandbox;

// --- the protocol --------------------------------------------------------------------------
let inFd = -1, outFd = -1;
let inbox = Buffer.alloc(0);

function send(message) {
  const data = Buffer.from(JSON.stringify(message) + "\n", "utf8");
  let at = 0;
  while (at < data.length) {
    try {
      at += fs.writeSync(outFd, data, at, data.length - at);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
    }
  }
}

function receive() {
  const chunk = Buffer.alloc(65536);
  for (;;) {
    const end = inbox.indexOf(10);
    if (end >= 0) {
      const line = inbox.subarray(0, end).toString("utf8");
      inbox = inbox.subarray(end + 1);
      return JSON.parse(line);
    }
    let n;
    try {
      n = fs.readSync(inFd, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === "EAGAIN") continue;
      throw e;
    }
    if (n === 0) process.exit(0);  // Python went away
    inbox = Buffer.concat([inbox, chunk.subarray(0, n)]);
  }
}

function ask(message) {
  send(message);
  return receive().r;
}

// --- executions ------------------------------------------------------------------------------
const execs = new Map();
let cur = null;
function enter(id, nowMs) {
  cur = execs.get(id) || null;
  if (cur !== null) cur.now = nowMs;
}

const hostError = sandbox.hostError;

const pending = new Map();
g.Convex = {
  syscall(op, json) {
    const r = ask({ t: "sync", op, payload: json });
    if (r.charCodeAt(0) !== 61) throw hostError(r.slice(1));
    return r.slice(1);
  },
  asyncSyscall(op, json) {
    // where the app made the call: named if it fails or is never awaited (see prelude.js)
    const r = ask({ t: "async", op, payload: json, site: new Error().stack });
    const c = r.charCodeAt(0);
    if (c === 61) return Promise.resolve(r.slice(1));
    if (c === 33) return Promise.reject(hostError(r.slice(1)));
    const exec = cur;
    return new Promise((resolve, reject) => pending.set(r.slice(1), { resolve, reject, exec }));
  },
  jsSyscall(op, arg) {
    const handler = jsSyscalls[op];
    if (handler === undefined) throw new Error(`convex-sim does not support the JS syscall "${op}".`);
    return handler(arg);
  },
};

// storage.store / storage.get in a Node.js action: Blobs as the embedded engine sends them.
const jsSyscalls = {
  "storage/storeBlob": async ({ blob, options }) => {
    if (!(blob instanceof Blob)) throw new Error("store() expects a Blob.");
    const bytes = Buffer.from(await blob.arrayBuffer());
    const r = await g.Convex.asyncSyscall("1.0/storageStore", JSON.stringify({
      blob: bytes.toString("base64"), contentType: blob.type || null, sha256: options && options.sha256,
    }));
    return JSON.parse(r);
  },
  "storage/getBlob": async ({ storageId }) => {
    const r = JSON.parse(await g.Convex.asyncSyscall("1.0/storageGet", JSON.stringify({ storageId })));
    return r === null ? null : new Blob([Buffer.from(r.blob, "base64")], { type: r.contentType || "" });
  },
};

// --- determinism -------------------------------------------------------------------------------
sandbox.installRandom(() => cur, (id) => ask({ t: "seed", id }));
sandbox.installDate(g, () => (cur === null ? 0 : cur.now));
g.process.env = {};

// Node's own randomness draws from the execution's generator too.
function fillRandom(buffer, offset = 0, size) {
  const view = new Uint8Array(buffer.buffer || buffer, buffer.byteOffset || 0, buffer.byteLength);
  const end = size === undefined ? view.length : offset + size;
  sandbox.getRandomValues(view.subarray(offset, end));
  return buffer;
}
function callback(cb, make) {
  if (typeof cb !== "function") return make();
  let value, error = null;
  try { value = make(); } catch (e) { error = e; }
  Promise.resolve().then(() => cb(error, value));
  return undefined;
}
function replace(target, methods) {
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(target, name, { value, configurable: true, writable: true, enumerable: true });
  }
}
replace(nodeCrypto.webcrypto, { getRandomValues: sandbox.getRandomValues, randomUUID: sandbox.randomUUID });
replace(nodeCrypto, {  // (its getRandomValues calls webcrypto's)
  randomUUID: sandbox.randomUUID,
  randomBytes: (size, cb) => callback(cb, () => fillRandom(Buffer.alloc(size))),
  pseudoRandomBytes: (size, cb) => callback(cb, () => fillRandom(Buffer.alloc(size))),
  randomFillSync: fillRandom,
  randomFill: (buffer, ...rest) => {
    const cb = rest.pop();
    return callback(cb, () => fillRandom(buffer, ...rest));
  },
  randomInt: (a, b, cb) => {
    if (typeof b !== "number") { cb = b; b = a; a = 0; }
    return callback(cb, () => a + Math.floor(Math.random() * (b - a)));
  },
});

// --- console -------------------------------------------------------------------------------------
for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
  console[level] = (...args) => send({ t: "log", level, text: args.map((a) => sandbox.show(a, 0)).join(" ") });
}

// --- virtual timers (setTimeout, setInterval, setImmediate), fired by Python ------------------------
let timerSeq = 0;
class VirtualTimer {
  constructor(id) { this._id = id; }
  ref() { return this; }
  unref() { return this; }
  hasRef() { return true; }
  refresh() { return this; }
  close() { clear(this); return this; }
  [Symbol.toPrimitive]() { return this._id; }
}
function schedule(fn, ms, args, interval) {
  if (typeof fn !== "function") throw new TypeError('The "callback" argument must be of type function.');
  const id = ++timerSeq;
  const delay = Math.max(0, Number(ms) || 0);
  // at module load time (no execution) a timer never fires, as nothing awaits it
  if (cur !== null) cur.timers.push({ id, due: cur.now + delay, seq: id, fn, args, interval: interval ? delay : null });
  return new VirtualTimer(id);
}
function clear(timer) {
  const id = timer instanceof VirtualTimer ? timer._id : Number(timer);
  for (const exec of execs.values()) exec.timers = exec.timers.filter((t) => t.id !== id);
}
const virtualTimers = {
  setTimeout: (fn, ms, ...args) => schedule(fn, ms, args, false),
  setInterval: (fn, ms, ...args) => schedule(fn, ms, args, true),
  setImmediate: (fn, ...args) => schedule(fn, 0, args, false),
  clearTimeout: clear, clearInterval: clear, clearImmediate: clear,
};
Object.assign(g, virtualTimers);
Object.assign(timers, virtualTimers);
timersPromises.setTimeout = (ms, value) => new Promise((resolve) => schedule(resolve, ms, [value], false));
timersPromises.setImmediate = (value) => new Promise((resolve) => schedule(resolve, 0, [value], false));

// --- fetch: the embedded engine's syscall, answered by Python (httpx) --------------------------------
const NULL_BODY = new Set([101, 204, 205, 304]);
g.fetch = async function fetch(input, init) {
  const request = new Request(input, init);
  const body = request.body === null ? null : Buffer.from(await request.arrayBuffer()).toString("base64");
  const json = await g.Convex.asyncSyscall("convex-sim/fetch", JSON.stringify({
    url: request.url, method: request.method, headers: [...request.headers], body,
  }));
  const r = JSON.parse(json);
  const response = new Response(r.body === null || NULL_BODY.has(r.status) ? null : Buffer.from(r.body, "base64"), {
    status: r.status, statusText: r.statusText || "", headers: r.headers,
  });
  Object.defineProperty(response, "url", { value: r.url || "" });
  return response;
};
// Other network access would leave the simulation: refused with a clear error.
net.Socket.prototype.connect = function connect() {
  throw new Error("convex-sim: a \"use node\" action opened a network connection with Node's " +
    "net/http/https modules. Only fetch() is simulated (through httpx, so respx can mock it): " +
    "use fetch, or mock the client library.");
};

// --- quiescence: the app's real asynchronous work (file system, crypto jobs, zlib) ------------------
const busy = new Map();
const AWAITED = /(REQ|REQUEST|REQWRAP|REQCALLBACK|REQPROMISE|WRITEWRAP|SHUTDOWNWRAP|ZLIB)$/;
asyncHooks.createHook({
  init(asyncId, type) { if (AWAITED.test(type)) busy.set(asyncId, type); },
  destroy(asyncId) { busy.delete(asyncId); },
}).enable();

process.on("unhandledRejection", (reason) => {
  console.error("Unhandled promise rejection:", reason);
});
process.on("uncaughtException", (error) => {
  console.error("Uncaught exception:", error);
});

// --- serving ---------------------------------------------------------------------------------------------
let app = null;
let reply = null;  // the idle message owed for the command being run

const commands = {
  invoke({ id, kind, path: fnPath, args, now }) {
    const exec = { id, kind, now, rng: null, timers: [] };
    execs.set(id, exec);
    cur = exec;
    sandbox.invoke(app, kind, fnPath, args).then(
      (r) => { execs.delete(id); send({ t: "done", id, outcome: "=" + r }); },
      (e) => { execs.delete(id); send({ t: "done", id, outcome: "!" + sandbox.describeError(e) }); });
    return { id, fired: false };
  },
  settle({ id, request, result, now }) {
    enter(id, now);
    const p = pending.get(request);
    pending.delete(request);
    if (p !== undefined) {
      if (result.charCodeAt(0) === 61) p.resolve(result.slice(1));
      else p.reject(hostError(result.slice(1)));
    }
    return { id, fired: false };
  },
  fire({ id, now }) {
    enter(id, now);
    if (cur === null || cur.timers.length === 0) return { id, fired: false };
    cur.timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
    const t = cur.timers.shift();
    cur.now = Math.max(cur.now, t.due);
    if (t.interval !== null) cur.timers.push({ ...t, due: t.due + Math.max(1, t.interval), seq: ++timerSeq });
    Promise.resolve().then(() => t.fn(...t.args));
    return { id, fired: true };
  },
  forget({ id }) {
    execs.delete(id);
    for (const [requestId, p] of pending) if (p.exec !== null && p.exec.id === id) pending.delete(requestId);
    send({ t: "ok" });
    return null;
  },
  env({ env }) {
    g.process.env = { ...env };
    send({ t: "ok" });
    return null;
  },
};

function nextTimer(id) {
  const exec = execs.get(id);
  if (exec === undefined || exec.timers.length === 0) return -1;
  return Math.min(...exec.timers.map((t) => t.due));
}

function serve() {
  try {
    step();
  } catch (e) {  // a fault of this host, not of the app: Python reports it with stderr
    fs.writeSync(2, `node_host: ${e && e.stack ? e.stack : e}\n`);
    process.exit(70);
  }
}

function step() {
  if (busy.size > 0) {  // the app waits for real I/O of its own: let it finish
    real.setTimeout(serve, 1);
    return;
  }
  if (reply !== null) {
    send({ t: "idle", fired: reply.fired, timer: nextTimer(reply.id) });
    reply = null;
  }
  const message = receive();
  const command = commands[message.op];
  if (command === undefined) throw new Error(`node_host: unknown command ${JSON.stringify(message.op)}`);
  reply = command(message);
  real.setImmediate(serve);
}

// Every function of the bundle, and the Convex rule that a "use node" module holds actions only.
function manifest() {
  const functions = sandbox.functionEntries(app);
  for (const entry of functions) {
    if (entry.kind === "action") continue;
    const [module, name] = entry.path.split(":");
    const kind = { query: "Query", mutation: "Mutation", router: "HttpRouter" }[entry.kind];
    throw new Error(`\`${name}\` defined in \`${module}.js\` is a ${kind} function. Only actions can be ` +
      "defined in Node.js. See https://docs.convex.dev/functions/actions for more details.");
  }
  for (const [module, namespace] of Object.entries(app.modules)) {
    for (const [name, f] of Object.entries(namespace)) {
      if (f && f.isHttp) {
        throw new Error(`\`${name}\` defined in \`${module}.js\` is a HttpAction function. Only actions ` +
          "can be defined in Node.js. See https://docs.convex.dev/functions/actions for more details.");
      }
    }
  }
  return functions;
}

function main(argv) {
  const options = {};
  const files = [];
  for (const arg of argv) {
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    if (m) options[m[1]] = m[2] === undefined ? true : m[2];
    else files.push(arg);
  }
  if (options.manifest) {
    outFd = 2;  // log lines of module load time
    app = require(path.resolve(files[0]));
    let out;
    try {
      out = { ok: true, functions: manifest() };
    } catch (e) {
      out = { ok: false, error: sandbox.describeError(e) };
    }
    fs.writeSync(1, JSON.stringify(out) + "\n");
    return;
  }
  inFd = Number(options.in);
  outFd = Number(options.out);
  // Convex sets the deployment's environment before the modules are evaluated.
  g.process.env = { ...receive().env };
  try {
    app = require(path.resolve(files[0]));
  } catch (e) {
    send({ t: "ready", error: sandbox.describeError(e) });
    process.exit(0);
  }
  send({ t: "ready", node: process.versions.node });
  real.setImmediate(serve);
}

main(process.argv.slice(2));
