// The host side of Convex's JavaScript environment, for convex-sim's embedded engine.
//
// The `convex` npm package talks to its backend through three globals:
// Convex.syscall (sync), Convex.asyncSyscall (a Promise) and Convex.jsSyscall.
// Here they forward to Python (__py_sync, __py_async); Python answers at once
// ("=" + JSON, or "!" + error JSON) or later ("~" + request id, settled with
// __cs.settle). Everything an app could use to be nondeterministic is
// replaced: Math.random is seeded per execution, Date reads the virtual clock,
// setTimeout and fetch are refused in queries and mutations (as Convex does)
// and are virtual in actions. A few web APIs the engine lacks (TextEncoder,
// Blob, Headers, Request, Response, URL, atob/btoa) are provided here.
(function () {
  "use strict";
  const g = globalThis;
  const pySync = g.__py_sync, pyAsync = g.__py_async, pyDone = g.__py_done;
  const pyLog = g.__py_log, pySeed = g.__py_seed;
  const sandbox = g.__csSandbox;  // sandbox.js, shared with the Node.js host
  delete g.__csSandbox;

  // --- built-ins newer than the engine (ES2022-ES2024) that apps use ------------------
  function define(target, name, value) {
    if (!(name in target)) Object.defineProperty(target, name, { value, writable: true, configurable: true });
  }
  function at(i) {
    const n = Math.trunc(i) || 0;
    return this[n < 0 ? this.length + n : n];
  }
  const typed = Object.getPrototypeOf(Uint8Array.prototype);
  for (const target of [Array.prototype, String.prototype, typed]) define(target, "at", at);
  define(Object, "hasOwn", (o, k) => Object.prototype.hasOwnProperty.call(o, k));
  for (const target of [Array.prototype, typed]) {
    define(target, "findLast", function findLast(f, self) {
      for (let i = this.length - 1; i >= 0; i--) if (f.call(self, this[i], i, this)) return this[i];
      return undefined;
    });
    define(target, "findLastIndex", function findLastIndex(f, self) {
      for (let i = this.length - 1; i >= 0; i--) if (f.call(self, this[i], i, this)) return i;
      return -1;
    });
  }
  // convex.config.ts: the Convex CLI gives each imported component definition its folder as
  // `componentDefinitionPath` when it bundles; here a definition is known by its name, and
  // Python finds its folder (see convex_sim/js/components.py).
  Object.defineProperty(Object.prototype, "componentDefinitionPath", {
    configurable: true,
    get() { return this && this._isRoot === false && typeof this._name === "string" ? this._name : undefined; },
  });
  define(Array.prototype, "toSorted", function toSorted(cmp) { return Array.from(this).sort(cmp); });
  define(Array.prototype, "toReversed", function toReversed() { return Array.from(this).reverse(); });
  define(Array.prototype, "toSpliced", function toSpliced(...a) { const c = Array.from(this); c.splice(...a); return c; });
  define(Array.prototype, "with", function (i, v) {
    const c = Array.from(this), n = Math.trunc(i) || 0, k = n < 0 ? c.length + n : n;
    if (k < 0 || k >= c.length) throw new RangeError("Invalid index : " + i);
    c[k] = v;
    return c;
  });
  function groupBy(items, key, make, add) {
    const out = make();
    let i = 0;
    for (const item of items) add(out, key(item, i++), item);
    return out;
  }
  define(Object, "groupBy", (items, key) => groupBy(items, key, () => Object.create(null),
    (o, k, v) => { (o[k] || (o[k] = [])).push(v); }));
  define(Map, "groupBy", (items, key) => groupBy(items, key, () => new Map(),
    (m, k, v) => { if (!m.has(k)) m.set(k, []); m.get(k).push(v); }));
  define(Promise, "withResolvers", function withResolvers() {
    let resolve, reject;
    const promise = new Promise((a, b) => { resolve = a; reject = b; });
    return { promise, resolve, reject };
  });
  define(g, "structuredClone", function structuredClone(value) {
    const seen = new Map();
    function clone(x) {
      if (x === null || typeof x !== "object") {
        if (typeof x === "function" || typeof x === "symbol") throw new Error(`${String(x)} could not be cloned.`);
        return x;
      }
      if (seen.has(x)) return seen.get(x);
      let out;
      if (x instanceof Date) out = new Date(x.valueOf());
      else if (x instanceof RegExp) out = new RegExp(x.source, x.flags);
      else if (x instanceof ArrayBuffer) out = x.slice(0);
      else if (ArrayBuffer.isView(x)) out = new x.constructor(x);
      else if (x instanceof Map) { out = new Map(); seen.set(x, out); for (const [k, v] of x) out.set(clone(k), clone(v)); return out; }
      else if (x instanceof Set) { out = new Set(); seen.set(x, out); for (const v of x) out.add(clone(v)); return out; }
      else {
        out = Array.isArray(x) ? [] : {};
        seen.set(x, out);
        for (const k of Object.keys(x)) out[k] = clone(x[k]);
        return out;
      }
      seen.set(x, out);
      return out;
    }
    return clone(value);
  });

  // --- executions ---------------------------------------------------------------
  // One record per running function execution; `cur` is the one whose code runs now.
  const execs = new Map();
  let cur = null;
  function enter(id, nowMs) {
    cur = execs.get(id) || null;
    if (cur !== null) cur.now = nowMs;
  }

  function hostError(text) {
    const p = JSON.parse(text);
    const e = new Error(p.message);
    if (p.data !== undefined) e.data = p.data;
    return e;
  }

  // Streams whose rows the host sent with 1.0/queryStream (a small known limit, as in
  // first/unique/take): their queryStreamNext and queryCleanup never leave JavaScript.
  const prefetched = new Map();

  const pending = new Map();
  g.Convex = {
    syscall(op, json) {
      if (op === "1.0/queryCleanup" && prefetched.size > 0 && prefetched.delete(JSON.parse(json).queryId)) {
        return "true";
      }
      const r = pySync(op, json);
      if (r.charCodeAt(0) !== 61) throw hostError(r.slice(1));
      if (op === "1.0/queryStream") {
        const result = JSON.parse(r.slice(1));
        if (result.rows !== undefined) prefetched.set(result.queryId, { rows: result.rows, at: 0 });
        return `{"queryId":${result.queryId}}`;
      }
      return r.slice(1);
    },
    asyncSyscall(op, json) {
      if (op === "1.0/queryStreamNext" && prefetched.size > 0) {
        const queryId = JSON.parse(json).queryId;
        const stream = prefetched.get(queryId);
        if (stream !== undefined) {
          const row = stream.rows[stream.at++];
          if (row === undefined) prefetched.delete(queryId);
          return Promise.resolve(row === undefined ? '{"value":null,"done":true}'
            : JSON.stringify({ value: row, done: false }));
        }
      }
      const r = pyAsync(op, json);
      const c = r.charCodeAt(0);
      if (c === 61) return Promise.resolve(r.slice(1));
      if (c === 33) return Promise.reject(hostError(r.slice(1)));
      const exec = cur;
      return new Promise((resolve, reject) => pending.set(r.slice(1), { resolve, reject, exec }));
    },
    jsSyscall(op, arg) {
      const handler = jsSyscalls[op];
      if (handler === undefined) {
        throw new Error(`convex-sim does not support the JS syscall "${op}".`);
      }
      return handler(arg);
    },
  };

  // --- determinism: Math.random and Date ------------------------------------------
  sandbox.installRandom(() => cur, pySeed);
  sandbox.installDate(g, () => (cur === null ? 0 : cur.now));

  // --- console ---------------------------------------------------------------------
  const show = sandbox.show;
  function logger(level) {
    return (...args) => pyLog(level, args.map((a) => show(a, 0)).join(" "));
  }
  g.console = {
    log: logger("log"), info: logger("info"), warn: logger("warn"), error: logger("error"),
    debug: logger("debug"), trace: logger("trace"),
  };

  // --- timers and fetch: refused in queries and mutations, virtual in actions ----------
  function inAction(api) {
    if (cur === null || (cur.kind !== "action" && cur.kind !== "http")) {
      // The host raises NondeterminismError / NetworkNotAllowedError, as for Python apps.
      Convex.syscall("convex-sim/refuse", JSON.stringify({ api }));
    }
    return cur;
  }
  let timerSeq = 0;
  g.setTimeout = function setTimeout(fn, ms, ...args) {
    const exec = inAction("setTimeout");
    const id = ++timerSeq;
    exec.timers.push({ id, due: exec.now + Math.max(0, Number(ms) || 0), seq: id, fn, args });
    return id;
  };
  g.clearTimeout = function clearTimeout(id) {
    if (cur === null) return;
    cur.timers = cur.timers.filter((t) => t.id !== id);
  };
  g.setInterval = function setInterval() {
    throw new Error("setInterval is not supported by convex-sim; schedule work with ctx.scheduler.");
  };
  g.clearInterval = g.clearTimeout;
  g.queueMicrotask = (fn) => { Promise.resolve().then(fn); };

  g.fetch = async function fetch(input, init) {
    inAction("fetch()");
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const body = request._body === null ? null : b64encode(request._body);
    const json = await Convex.asyncSyscall("convex-sim/fetch", JSON.stringify({
      url: request.url, method: request.method, headers: [...request.headers], body,
    }));
    return responseFromJson(JSON.parse(json));
  };

  // --- bytes, base64, text ---------------------------------------------------------------
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  function b64encode(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] +
        (i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=") + (i + 2 < bytes.length ? B64[n & 63] : "=");
    }
    return out;
  }
  function b64decode(text) {
    const clean = text.replace(/[^A-Za-z0-9+/]/g, "");
    const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
    let n = 0, bits = 0, j = 0;
    for (let i = 0; i < clean.length; i++) {
      n = (n << 6) | B64.indexOf(clean[i]);
      bits += 6;
      if (bits >= 8) { bits -= 8; out[j++] = (n >> bits) & 255; }
    }
    return out.subarray(0, j);
  }
  g.btoa = (s) => b64encode(Uint8Array.from(String(s), (c) => c.charCodeAt(0) & 255));
  g.atob = (s) => String.fromCharCode(...b64decode(String(s)));

  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(text = "") {
      const s = String(text), out = [];
      for (let i = 0; i < s.length; i++) {
        let c = s.codePointAt(i);
        if (c > 0xffff) i++;
        if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
        else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      }
      return new Uint8Array(out);
    }
  }
  class TextDecoder {
    get encoding() { return "utf-8"; }
    decode(input) {
      if (input === undefined) return "";
      const b = input instanceof Uint8Array ? input : new Uint8Array(input.buffer || input);
      let out = "";
      for (let i = 0; i < b.length;) {
        const c = b[i];
        let cp, n;
        if (c < 0x80) { cp = c; n = 1; }
        else if (c >= 0xf0) { cp = ((c & 7) << 18) | ((b[i + 1] & 63) << 12) | ((b[i + 2] & 63) << 6) | (b[i + 3] & 63); n = 4; }
        else if (c >= 0xe0) { cp = ((c & 15) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63); n = 3; }
        else if (c >= 0xc0) { cp = ((c & 31) << 6) | (b[i + 1] & 63); n = 2; }
        else { cp = 0xfffd; n = 1; }
        out += String.fromCodePoint(cp);
        i += n;
      }
      return out;
    }
  }
  g.TextEncoder = TextEncoder;
  g.TextDecoder = TextDecoder;
  const encoder = new TextEncoder(), decoder = new TextDecoder();

  function toBytes(part) {
    if (part instanceof Uint8Array) return part;
    if (part instanceof ArrayBuffer) return new Uint8Array(part);
    if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
    if (part instanceof Blob) return part._bytes;
    return encoder.encode(String(part));
  }
  function concat(parts) {
    const chunks = parts.map(toBytes);
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  }

  class Blob {
    constructor(parts = [], options = {}) {
      this._bytes = concat(Array.from(parts));
      this.type = options.type ? String(options.type).toLowerCase() : "";
    }
    get size() { return this._bytes.length; }
    async arrayBuffer() { return this._bytes.slice().buffer; }
    async text() { return decoder.decode(this._bytes); }
    async bytes() { return this._bytes.slice(); }
    slice(start = 0, end = this._bytes.length, type = "") { return new Blob([this._bytes.slice(start, end)], { type }); }
  }
  g.Blob = Blob;

  // --- URL ------------------------------------------------------------------------------------
  class URLSearchParams {
    constructor(init = "") {
      this._list = [];
      if (typeof init === "string") {
        for (const pair of init.replace(/^\?/, "").split("&").filter(Boolean)) {
          const [k, v = ""] = pair.split("=");
          this._list.push([decodeURIComponent(k.replace(/\+/g, " ")), decodeURIComponent(v.replace(/\+/g, " "))]);
        }
      } else if (init) {
        for (const [k, v] of (Array.isArray(init) ? init : Object.entries(init))) this._list.push([String(k), String(v)]);
      }
    }
    get(k) { const e = this._list.find((p) => p[0] === k); return e ? e[1] : null; }
    getAll(k) { return this._list.filter((p) => p[0] === k).map((p) => p[1]); }
    has(k) { return this._list.some((p) => p[0] === k); }
    set(k, v) { this.delete(k); this._list.push([k, String(v)]); }
    append(k, v) { this._list.push([k, String(v)]); }
    delete(k) { this._list = this._list.filter((p) => p[0] !== k); }
    entries() { return this._list[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    forEach(fn) { this._list.forEach(([k, v]) => fn(v, k, this)); }
    toString() { return this._list.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&"); }
  }
  class URL {
    constructor(url, base) {
      let text = String(url);
      const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:)\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/.exec(text);
      if (m === null) {
        if (base === undefined) throw new TypeError(`Invalid URL: ${text}`);
        const b = new URL(base);
        text = text.startsWith("/") ? b.origin + text : b.origin + b.pathname.replace(/[^/]*$/, "") + text;
        return new URL(text);
      }
      this.protocol = m[1].toLowerCase();
      this.host = m[2].toLowerCase();
      const hp = /^(.*?)(?::(\d+))?$/.exec(this.host);
      this.hostname = hp[1];
      this.port = hp[2] || "";
      this.pathname = m[3] || "/";
      this.search = m[4] && m[4] !== "?" ? m[4] : "";
      this.hash = m[5] && m[5] !== "#" ? m[5] : "";
      this.searchParams = new URLSearchParams(this.search);
    }
    get origin() { return `${this.protocol}//${this.host}`; }
    get href() {
      const q = this.searchParams.toString();
      return `${this.origin}${this.pathname}${q ? "?" + q : ""}${this.hash}`;
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }
  g.URL = URL;
  g.URLSearchParams = URLSearchParams;

  // --- Headers, Request, Response ------------------------------------------------------------
  class Headers {
    constructor(init) {
      this._map = new Map();
      if (init instanceof Headers) init = [...init];
      if (init) for (const [k, v] of (Array.isArray(init) ? init : Object.entries(init))) this.append(k, v);
    }
    append(k, v) {
      const key = String(k).toLowerCase();
      this._map.set(key, this._map.has(key) ? `${this._map.get(key)}, ${v}` : String(v));
    }
    set(k, v) { this._map.set(String(k).toLowerCase(), String(v)); }
    get(k) { const v = this._map.get(String(k).toLowerCase()); return v === undefined ? null : v; }
    has(k) { return this._map.has(String(k).toLowerCase()); }
    delete(k) { this._map.delete(String(k).toLowerCase()); }
    entries() { return [...this._map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))[Symbol.iterator](); }
    keys() { return [...this.entries()].map((e) => e[0])[Symbol.iterator](); }
    values() { return [...this.entries()].map((e) => e[1])[Symbol.iterator](); }
    forEach(fn) { for (const [k, v] of this.entries()) fn(v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
  }
  function bodyBytes(body, headers) {
    if (body === undefined || body === null) return null;
    if (typeof body === "string") {
      if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
      return encoder.encode(body);
    }
    if (body instanceof URLSearchParams) {
      if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
      return encoder.encode(body.toString());
    }
    if (body instanceof Blob && body.type && !headers.has("content-type")) headers.set("content-type", body.type);
    return toBytes(body);
  }
  class Body {
    get bodyUsed() { return this._used; }
    _take() {
      if (this._used) throw new TypeError("Body is unusable: Body has already been read");
      this._used = true;
      return this._body === null ? new Uint8Array(0) : this._body;
    }
    async arrayBuffer() { return this._take().slice().buffer; }
    async bytes() { return this._take().slice(); }
    async text() { return decoder.decode(this._take()); }
    async json() { return JSON.parse(await this.text()); }
    async blob() { return new Blob([this._take()], { type: this.headers.get("content-type") || "" }); }
    async formData() { throw new Error("formData() is not supported by convex-sim."); }
  }
  class Request extends Body {
    constructor(input, init = {}) {
      super();
      const from = input instanceof Request ? input : null;
      this.url = from ? from.url : new URL(String(input)).href;
      this.method = String(init.method || (from ? from.method : "GET")).toUpperCase();
      this.headers = new Headers(init.headers || (from ? from.headers : undefined));
      this._body = init.body !== undefined ? bodyBytes(init.body, this.headers) : (from ? from._body : null);
      this._used = false;
      this.signal = init.signal || null;
    }
    clone() { return new Request(this); }
  }
  class Response extends Body {
    constructor(body = null, init = {}) {
      super();
      this.status = init.status === undefined ? 200 : init.status;
      this.statusText = init.statusText || "";
      this.headers = new Headers(init.headers);
      this._body = bodyBytes(body, this.headers);
      this._used = false;
      this.url = "";
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    clone() { return new Response(this._body, this); }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(JSON.stringify(data), { ...init, headers });
    }
    static error() { return new Response(null, { status: 0 }); }
    static redirect(url, status = 302) { return new Response(null, { status, headers: { location: String(url) } }); }
  }
  g.Headers = Headers;
  g.Request = Request;
  g.Response = Response;

  function responseFromJson(r) {
    const response = new Response(r.body === null ? null : b64decode(r.body), {
      status: r.status, statusText: r.statusText || "", headers: r.headers,
    });
    response.url = r.url || "";
    return response;
  }

  g.crypto = {
    getRandomValues: sandbox.getRandomValues,
    randomUUID: sandbox.randomUUID,
  };
  g.process = { env: {} };
  g.window = undefined;

  // --- JS syscalls (blobs, HTTP requests and responses) --------------------------------------
  const jsSyscalls = {
    "storage/storeBlob": async ({ blob, options }) => {
      if (!(blob instanceof Blob)) throw new Error("store() expects a Blob.");
      const r = await Convex.asyncSyscall("1.0/storageStore", JSON.stringify({
        blob: b64encode(blob._bytes), contentType: blob.type || null, sha256: options && options.sha256,
      }));
      return JSON.parse(r);
    },
    "storage/getBlob": async ({ storageId }) => {
      const r = JSON.parse(await Convex.asyncSyscall("1.0/storageGet", JSON.stringify({ storageId })));
      return r === null ? null : new Blob([b64decode(r.blob)], { type: r.contentType || "" });
    },
    requestFromConvexJson({ convexJson }) {
      const r = convexJson;
      return new Request(r.url, { method: r.method, headers: r.headers, body: r.body === null ? undefined : b64decode(r.body) });
    },
    convexJsonFromResponse({ response }) {
      if (!(response instanceof Response)) {
        throw new Error(`An HTTP action must return a Response, got ${show(response, 1)}.`);
      }
      return {
        status: response.status, statusText: response.statusText, headers: [...response.headers],
        body: response._body === null ? null : b64encode(response._body),
      };
    },
  };

  // --- the app and its executions ------------------------------------------------------------
  const describeError = sandbox.describeError;

  // `defineSchema(...).export()`; convex 1.1 (vectorIndex still internal, server/schema.js)
  // called a vector index's size `dimension`, later versions `dimensions`.
  function schemaExport(schema) {
    const json = schema.export();
    if (!json.includes('"dimension"')) return json;
    const data = JSON.parse(json);
    for (const table of data.tables) {
      for (const index of table.vectorIndexes || []) {
        if (index.dimensions === undefined) index.dimensions = index.dimension;
      }
    }
    return JSON.stringify(data);
  }


  g.__cs = {
    // Start an execution; its outcome reaches Python through __py_done(id, "=json" | "!error").
    invoke(id, kind, path, argsJson, nowMs, route) {
      const exec = { id, kind, now: nowMs, rng: null, timers: [] };
      execs.set(id, exec);
      cur = exec;
      const p = sandbox.invoke(g.__convexApp, kind, path, argsJson, route);
      p.then((r) => { execs.delete(id); pyDone(id, "=" + r); },
        (e) => { execs.delete(id); pyDone(id, "!" + describeError(e)); });
    },
    // Resolve (or reject) a pending async syscall of execution `id`.
    settle(requestId, result, id, nowMs) {
      enter(id, nowMs);
      const p = pending.get(requestId);
      pending.delete(requestId);
      if (result.charCodeAt(0) === 61) p.resolve(result.slice(1));
      else p.reject(hostError(result.slice(1)));
    },
    enter,
    // Run the earliest virtual timer of execution `id`; false if it has none.
    fireTimer(id, nowMs) {
      enter(id, nowMs);
      if (cur === null || cur.timers.length === 0) return false;
      cur.timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
      const t = cur.timers.shift();
      cur.now = Math.max(cur.now, t.due);
      Promise.resolve().then(() => t.fn(...t.args));
      return true;
    },
    // When the earliest virtual timer of execution `id` is due; -1 if it has none.
    nextTimer(id) {
      const exec = execs.get(id);
      if (exec === undefined || exec.timers.length === 0) return -1;
      return Math.min(...exec.timers.map((t) => t.due));
    },
    forget(id) {
      execs.delete(id);
      for (const [requestId, p] of pending) if (p.exec !== null && p.exec.id === id) pending.delete(requestId);
    },
    pendingCount() { return pending.size + execs.size; },
    setEnv(json) { g.process.env = JSON.parse(json); },
    manifest() {
      const app = g.__convexApp;
      const functions = sandbox.functionEntries(app);
      const config = app.config && app.config._childComponents ? app.config : null;
      const components = config ? config._childComponents.map(([name, d]) => [name, d._name]) : [];
      const crons = app.modules.crons && app.modules.crons.default;
      return JSON.stringify({
        functions,
        schema: app.schema ? schemaExport(app.schema) : null,
        crons: crons && crons.isCrons ? crons.crons : null,
        authConfig: app.authConfig || null,
        components,
      });
    },
  };
})();
