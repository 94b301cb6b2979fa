// The browser side of an explored frontend: the app's own client code (the `convex` package's
// ConvexClient, unchanged) in the embedded engine, with a WebSocket whose every message Python
// delivers when the explorer says so, timers on the client's own virtual clock, and the values
// its onUpdate callbacks are given recorded for the consistency check. Evaluated after
// sandbox.js and before the frontend bundle (which sets globalThis.__frontApp).
(function () {
  "use strict";
  const g = globalThis;
  const pySend = g.__py_send, pyOpen = g.__py_socket, pyClose = g.__py_close;
  const pyObserve = g.__py_observe, pyLog = g.__py_log, pySeed = g.__py_seed;
  const sandbox = g.__csSandbox;
  delete g.__csSandbox;

  const state = { now: 0, rng: null, id: 1, socket: null, parked: null, done: false, error: null, result: null };
  sandbox.installRandom(() => state, () => pySeed());
  sandbox.installDate(g, () => state.now);
  const show = sandbox.show;
  const logger = (level) => (...args) => pyLog(level, args.map((a) => show(a, 0)).join(" "));
  g.console = { log: logger("log"), info: logger("info"), warn: logger("warn"), error: logger("error"),
    debug: logger("debug"), trace: logger("trace") };
  g.window = undefined;

  // --- timers: due on the client's virtual clock, fired by Python -----------------------------
  let timers = [];
  let timerSeq = 0;
  g.setTimeout = (fn, ms, ...args) => {
    const id = ++timerSeq;
    timers.push({ id, due: state.now + Math.max(0, Number(ms) || 0), fn, args });
    return id;
  };
  g.clearTimeout = (id) => { timers = timers.filter((t) => t.id !== id); };
  g.setInterval = () => { throw new Error("setInterval is not available to an explored frontend."); };
  g.clearInterval = g.clearTimeout;
  g.queueMicrotask = (fn) => { Promise.resolve().then(fn); };

  function earliest() {
    let best = null;
    for (const t of timers) if (best === null || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }
  function fire(t) {
    timers = timers.filter((x) => x !== t);
    state.now = Math.max(state.now, t.due);
    t.fn(...t.args);
  }

  // --- the WebSocket: one open connection at a time, its messages carried by Python ------------
  const CONNECTING = 0, OPEN = 1, CLOSED = 3;
  class VirtualWebSocket {
    constructor(url) {
      this.url = String(url);
      this.readyState = CONNECTING;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      state.socket = this;
      pyOpen(this.url);
    }
    send(text) {
      if (this.readyState !== OPEN) throw new Error("WebSocket is not open");
      pySend(String(text));
    }
    close() {
      if (this.readyState === CLOSED) return;
      this.readyState = CLOSED;
      if (state.socket === this) { state.socket = null; pyClose(); }
    }
  }
  VirtualWebSocket.CONNECTING = CONNECTING;
  VirtualWebSocket.OPEN = OPEN;
  VirtualWebSocket.CLOSED = CLOSED;

  // --- what the page shows: every onUpdate callback's value ------------------------------------
  function observe(app, client) {
    const onUpdate = client.onUpdate.bind(client);
    client.onUpdate = (query, args, callback, onError) => {
      const name = app.getFunctionName(query);
      const key = JSON.stringify(app.convexToJson(args || {}));
      const seen = (value) => {
        pyObserve(JSON.stringify({ path: name, args: key, value: app.convexToJson(value === undefined ? null : value) }));
        return callback(value);
      };
      const failed = onError === undefined ? undefined : (error) => {
        pyObserve(JSON.stringify({ path: name, args: key, error: String(error && error.message) }));
        return onError(error);
      };
      return onUpdate(query, args, seen, failed);
    };
  }

  // --- the user's events: `await ui.event("click +1")` waits for the explorer -----------------
  const ui = {
    event(name) {
      if (state.parked !== null) throw new Error("ui.event: the page already waits for an event.");
      return new Promise((resolve) => { state.parked = { name: String(name), resolve }; });
    },
  };

  g.__front = {
    start(url, nowMs) {
      state.now = nowMs;
      const app = g.__frontApp;
      const client = new app.ConvexClient(url, {
        webSocketConstructor: VirtualWebSocket, unsavedChangesWarning: false, skipConvexDeploymentUrlCheck: true,
      });
      observe(app, client);
      Promise.resolve().then(() => app.script(client, ui)).then(
        (r) => { state.done = true; state.result = r === undefined ? null : app.convexToJson(r); },
        (e) => { state.done = true; state.error = sandbox.describeError(e); });
    },
    // The socket the client opened is now open (the server accepted it).
    open() { const s = state.socket; s.readyState = OPEN; if (s.onopen) s.onopen({}); },
    deliver(text) { const s = state.socket; if (s && s.onmessage) s.onmessage({ data: text }); },
    // The connection dropped: the client sees an abnormal close.
    drop() {
      const s = state.socket;
      if (s === null) return;
      state.socket = null;
      s.readyState = CLOSED;
      if (s.onclose) s.onclose({ code: 1006, reason: "", wasClean: false });
    },
    resume() { const p = state.parked; state.parked = null; p.resolve(); },
    // Run the timers due by now; then when the next is due (-1: none).
    runDue() {
      for (let t = earliest(); t !== null && t.due <= state.now; t = earliest()) fire(t);
      const next = earliest();
      return next === null ? -1 : next.due;
    },
    fireNext() { const t = earliest(); if (t !== null) fire(t); },
    status() {
      return JSON.stringify({ parked: state.parked && state.parked.name, done: state.done,
        error: state.error, result: state.result, now: state.now, open: state.socket !== null && state.socket.readyState === OPEN });
    },
  };
})();
