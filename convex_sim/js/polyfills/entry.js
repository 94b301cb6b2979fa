// Web APIs the embedded engine lacks, from npm (versions pinned in package.json), bundled once
// by convex_sim/js/webapi.py into the script the engine evaluates before prelude.js.
// Small ones are set here; the large ones (streams.js, url.js) are parsed on first use, as
// parsing is nearly all their cost. docs/typescript.md ("Web APIs") says why each is here.
import structuredClone from "@ungap/structured-clone";
import { Event, EventTarget } from "event-target-shim";

function define(name, value) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
}
for (const [name, value] of Object.entries({ structuredClone, Event, EventTarget })) define(name, value);

// `names` become globals whose first read evaluates `source` (a script setting
// globalThis.__csApis to an object holding them).
function lazy(names, source) {
  let apis = null;
  function load() {
    if (apis === null) {
      for (const name of names) delete globalThis[name];  // the polyfill finds no native one
      (0, eval)(source);
      apis = globalThis.__csApis;
      delete globalThis.__csApis;
      for (const name of names) define(name, apis[name]);
    }
    return apis;
  }
  for (const name of names) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() { return load()[name]; },
      set(value) { define(name, value); },
    });
  }
}
globalThis.__csLazyApis = lazy;
