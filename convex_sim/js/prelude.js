// The host side of Convex's JavaScript environment, for convex-sim's embedded engine.
//
// The `convex` npm package talks to its backend through three globals:
// Convex.syscall (sync), Convex.asyncSyscall (a Promise) and Convex.jsSyscall.
// Here they forward to Python (__py_sync, __py_async); Python answers at once
// ("=" + JSON, or "!" + error JSON) or later ("~" + request id, settled with
// __cs.settle). Everything an app could use to be nondeterministic is
// replaced: Math.random is seeded per execution, Date reads the virtual clock,
// setTimeout and fetch are refused in queries and mutations (as Convex does)
// and are virtual in actions. The web APIs come before this file: the npm polyfills
// (webapi.py) and web.js, whose internals fetch and the HTTP syscalls use (globalThis.__csWeb).
(function () {
  "use strict";
  const g = globalThis;
  const pySync = g.__py_sync, pyAsync = g.__py_async, pyDone = g.__py_done;
  const pyLog = g.__py_log, pySeed = g.__py_seed, pyWhere = g.__py_where;
  const sandbox = g.__csSandbox;  // sandbox.js, shared with the Node.js host
  delete g.__csSandbox;
  const web = g.__csWeb;  // web.js
  delete g.__csWeb;
  const { b64encode, b64decode, responseFromJson } = web;

  // convex.config.ts: the Convex CLI gives each imported component definition its folder as
  // `componentDefinitionPath` when it bundles; here a definition is known by its name, and
  // Python finds its folder (see convex_sim/js/components.py).
  Object.defineProperty(Object.prototype, "componentDefinitionPath", {
    configurable: true,
    get() { return this && this._isRoot === false && typeof this._name === "string" ? this._name : undefined; },
  });

  // --- executions ---------------------------------------------------------------
  // One record per running function execution; `cur` is the one whose code runs now.
  const execs = new Map();
  let cur = null;
  function enter(id, nowMs) {
    cur = execs.get(id) || null;
    if (cur !== null) cur.now = nowMs;
  }

  const hostError = sandbox.hostError;
  // A syscall the host refused, as the Error the app sees. Python learns where the app made
  // the call (the stack here) only when a call fails, for the note its error carries.
  function refused(text) {
    pyWhere(new Error().stack);
    return hostError(text);
  }

  // Streams whose rows the host sent with 1.0/queryStream (a small known limit, as in
  // first/unique/take): their queryStreamNext and queryCleanup never leave JavaScript. Each
  // execution keeps its own (`exec.prefetched`), so an execution that ends leaves none behind.
  const noStreams = new Map();
  function prefetchedOf(exec) { return exec === null ? noStreams : exec.prefetched; }

  const pending = new Map();
  g.Convex = {
    syscall(op, json) {
      const prefetched = prefetchedOf(cur);
      if (op === "1.0/queryCleanup" && prefetched.size > 0 && prefetched.delete(JSON.parse(json).queryId)) {
        return "true";
      }
      const r = pySync(op, json);
      if (r.charCodeAt(0) !== 61) throw refused(r.slice(1));
      if (op === "1.0/queryStream") {
        const result = JSON.parse(r.slice(1));
        if (result.rows !== undefined) prefetched.set(result.queryId, { rows: result.rows, at: 0 });
        return `{"queryId":${result.queryId}}`;
      }
      return r.slice(1);
    },
    asyncSyscall(op, json) {
      const prefetched = prefetchedOf(cur);
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
      if (c === 33) return Promise.reject(refused(r.slice(1)));
      // An action step: where the app made the call names it if it fails or is never awaited.
      const exec = cur, site = new Error().stack;
      return new Promise((resolve, reject) => pending.set(r.slice(1), { resolve, reject, exec, site }));
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
    request.signal.throwIfAborted();
    const bytes = await web.requestBytes(request);
    const body = bytes === null ? null : b64encode(bytes);
    const json = await Convex.asyncSyscall("convex-sim/fetch", JSON.stringify({
      url: request.url, method: request.method, headers: [...request.headers], body,
    }));
    return responseFromJson(JSON.parse(json));
  };

  g.crypto = {
    getRandomValues: sandbox.getRandomValues,
    randomUUID: sandbox.randomUUID,
    subtle: web.subtle,
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
      return web.responseToJson(response);
    },
  };

  // --- the app and its executions ------------------------------------------------------------
  const describeError = sandbox.describeError;

  // The outcome of execution `id` to Python; when even describing it fails (out of memory: the
  // result's text or the error's), what went wrong then, or that memory ran out.
  const OUT_OF_MEMORY = '!{"name":"InternalError","message":"out of memory","stack":""}';
  function finish(id, ok, value) {
    execs.delete(id);
    let outcome;
    try {
      outcome = ok ? "=" + value : "!" + describeError(value);
    } catch (e) {
      try { outcome = "!" + describeError(e); } catch (_) { outcome = OUT_OF_MEMORY; }
    }
    pyDone(id, outcome);
  }

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
      const exec = { id, kind, now: nowMs, rng: null, timers: [], prefetched: new Map() };
      execs.set(id, exec);
      cur = exec;
      const run = sandbox.invoke(g.__convexApp, kind, path, argsJson, route);
      const p = kind === "http" ? run.then(web.finishHttp) : run;
      p.then((r) => finish(id, true, r), (e) => finish(id, false, e));
    },
    // Resolve (or reject) a pending async syscall of execution `id`.
    settle(requestId, result, id, nowMs) {
      enter(id, nowMs);
      const p = pending.get(requestId);
      pending.delete(requestId);
      if (result.charCodeAt(0) === 61) {
        p.resolve(result.slice(1));
      } else {
        pyWhere(p.site);
        p.reject(hostError(result.slice(1)));
      }
    },
    // Where the app made pending call `requestId` (a stack), or "".
    siteOf(requestId) {
      const p = pending.get(requestId);
      return p === undefined ? "" : p.site;
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
