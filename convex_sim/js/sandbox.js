// The deterministic sandbox both JavaScript hosts share: the embedded engine (prelude.js) and
// the Node.js process that runs "use node" actions (node_host.cjs). Same seed, same random
// numbers, dates, UUIDs, log lines and error descriptions in either. Evaluated as a script:
// it sets globalThis.__csSandbox, which each host takes and deletes.
(function () {
  "use strict";

  // Math.random: one sfc32 generator per function execution, seeded by the host.
  function sfc32(s) {
    return function () {
      s[0] |= 0; s[1] |= 0; s[2] |= 0; s[3] |= 0;
      const t = (((s[0] + s[1]) | 0) + s[3]) | 0;
      s[3] = (s[3] + 1) | 0;
      s[0] = s[1] ^ (s[1] >>> 9);
      s[1] = (s[2] + (s[2] << 3)) | 0;
      s[2] = (s[2] << 21) | (s[2] >>> 11);
      s[2] = (s[2] + t) | 0;
      return (t >>> 0) / 4294967296;
    };
  }
  // `current()` is the running execution ({id, rng}) or null; `seedOf(id)` its four seed words
  // ("a,b,c,d"), or "" where none can be had.
  function installRandom(current, seedOf) {
    const loadRng = sfc32([0x9e3779b9, 0x243f6a88, 0xb7e15162, 0x8aed2a6b]);  // module load time
    Math.random = function random() {
      const exec = current();
      if (exec === null) return loadRng();
      if (exec.rng === null) {
        const words = seedOf(exec.id);
        if (words === "") throw new Error("Math.random() was called where no function execution runs.");
        exec.rng = sfc32(words.split(",").map(Number));
        for (let i = 0; i < 12; i++) exec.rng();
      }
      return exec.rng();
    };
  }
  // crypto.getRandomValues / randomUUID, drawn from Math.random.
  function getRandomValues(array) {
    for (let i = 0; i < array.length; i++) array[i] = Math.floor(Math.random() * 4294967296);
    return array;
  }
  function randomUUID() {
    const b = getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // Date reads the virtual clock (`now()`), and runs in UTC whatever the machine's zone.
  function installDate(g, now) {
    const RealDate = Date;
    function VirtualDate(...args) {
      if (!new.target) return new RealDate(now()).toString();
      if (args.length === 0) return new RealDate(now());
      // Convex runs in UTC: date parts given to the constructor are UTC, never the host's zone.
      return args.length >= 2 ? new RealDate(RealDate.UTC(...args)) : new RealDate(args[0]);
    }
    // Local-time methods read and write UTC, whatever TZ the test process has.
    const proto = RealDate.prototype;
    for (const part of ["FullYear", "Month", "Date", "Day", "Hours", "Minutes", "Seconds", "Milliseconds"]) {
      proto["get" + part] = proto["getUTC" + part];
      if (part !== "Day") proto["set" + part] = proto["setUTC" + part];
    }
    proto.getTimezoneOffset = function getTimezoneOffset() { return 0; };
    const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const pad = (n) => String(n).padStart(2, "0");
    proto.toDateString = function toDateString() {
      return `${DAYS[this.getUTCDay()]} ${MONTHS[this.getUTCMonth()]} ${pad(this.getUTCDate())} ${this.getUTCFullYear()}`;
    };
    proto.toTimeString = function toTimeString() {
      return `${pad(this.getUTCHours())}:${pad(this.getUTCMinutes())}:${pad(this.getUTCSeconds())} GMT+0000 (Coordinated Universal Time)`;
    };
    proto.toString = function toString() {
      return isNaN(this.valueOf()) ? "Invalid Date" : `${this.toDateString()} ${this.toTimeString()}`;
    };
    proto.toLocaleString = proto.toString;
    proto.toLocaleDateString = proto.toDateString;
    proto.toLocaleTimeString = proto.toTimeString;
    VirtualDate.prototype = RealDate.prototype;
    Object.defineProperty(RealDate.prototype, "constructor", { value: VirtualDate, writable: true, configurable: true });
    VirtualDate.now = now;
    VirtualDate.parse = RealDate.parse;
    VirtualDate.UTC = RealDate.UTC;
    g.Date = VirtualDate;
  }

  // One console argument as a log line shows it.
  function show(x, depth) {
    if (typeof x === "string") return depth === 0 ? x : JSON.stringify(x);
    if (typeof x === "bigint") return `${x}n`;
    if (x instanceof Error) return x.stack ? `${x.name}: ${x.message}\n${x.stack}` : `${x.name}: ${x.message}`;
    if (x === undefined || x === null || typeof x !== "object") return String(x);
    if (depth > 3) return Array.isArray(x) ? "[Array]" : "[Object]";
    if (Array.isArray(x)) return `[ ${x.map((y) => show(y, depth + 1)).join(", ")} ]`;
    const body = Object.keys(x).map((k) => `${k}: ${show(x[k], depth + 1)}`).join(", ");
    return body ? `{ ${body} }` : "{}";
  }

  // What a function threw, as the JSON the host reads ("!" outcomes). A value that is not an
  // Error is named as V8 names it in "Uncaught ..." (so Convex does), with the value shown.
  function describeError(e) {
    if (e instanceof Error || (e !== null && typeof e === "object" && typeof e.message === "string")) {
      const isConvexError = e.ConvexErrorSymbol === Symbol.for("ConvexError") || Symbol.for("ConvexError") in e;
      return JSON.stringify({
        name: e.name || "Error", message: String(e.message), stack: String(e.stack || ""),
        data: isConvexError ? e.data : undefined, convexError: isConvexError,
      });
    }
    return JSON.stringify({ name: "", message: v8Name(e), stack: "", convexError: false, thrown: show(e, 1) });
  }
  // How V8 writes a thrown value in its "Uncaught %" message: objects as #<Constructor>.
  function v8Name(x) {
    if (typeof x === "function") return String(x);
    if (x === null || typeof x !== "object") return typeof x === "symbol" ? x.toString() : String(x);
    const ctor = Object.getPrototypeOf(x) === null ? null : x.constructor;
    return `#<${ctor && typeof ctor.name === "string" && ctor.name ? ctor.name : "Object"}>`;
  }

  function functionAt(app, path) {
    const i = path.indexOf(":");
    const module = app.modules[path.slice(0, i)];
    const fn = module === undefined ? undefined : module[path.slice(i + 1)];
    if (fn === undefined) throw new Error(`No function ${path} in the bundle.`);
    return fn;
  }

  // Call the `convex` package's entry point of `path` (the backend's own); a promise of the
  // result's JSON.
  function invoke(app, kind, path, argsJson, route) {
    try {
      const fn = functionAt(app, path);
      if (kind === "query") return fn.invokeQuery(argsJson);
      if (kind === "mutation") return fn.invokeMutation(argsJson);
      if (kind === "action") return fn.invokeAction("", argsJson);
      return fn.runRequest(argsJson, route);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // Every registered function of the app's modules: path, kind, visibility, validators.
  function functionEntries(app) {
    const functions = [];
    for (const module of Object.keys(app.modules)) {
      for (const name of Object.keys(app.modules[module])) {
        const f = app.modules[module][name];
        if (f === null || (typeof f !== "function" && typeof f !== "object")) continue;
        const kind = f.isQuery ? "query" : f.isMutation ? "mutation" : f.isAction ? "action"
          : f.isRouter ? "router" : null;
        if (kind === null) continue;
        const entry = { path: `${module}:${name}`, kind, visibility: f.isInternal ? "internal" : "public" };
        if (kind === "router") {
          entry.routes = f.getRoutes().map(([path, method]) => [path, method]);
        } else {
          entry.args = f.exportArgs();
          // exportReturns came with `returns` validators (convex 1.13, registration_impl.js).
          entry.returns = typeof f.exportReturns === "function" ? f.exportReturns() : "null";
        }
        functions.push(entry);
      }
    }
    return functions;
  }

  // A syscall the host refused ("!" + JSON {message, data?}) as the Error the app sees.
  function hostError(text) {
    const p = JSON.parse(text);
    const e = new Error(p.message);
    if (p.data !== undefined) e.data = p.data;
    return e;
  }

  globalThis.__csSandbox = {
    installRandom, getRandomValues, randomUUID, installDate, show, describeError, invoke,
    functionEntries, hostError,
  };
})();
