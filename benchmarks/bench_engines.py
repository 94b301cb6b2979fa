"""Candidate JavaScript engines for TypeScript apps, side by side (docs/typescript.md, "Engine
choice").

Each candidate is a PyPI wheel, installed on first use with pip into its own folder under
``~/.cache/convex-sim/engines`` (``$CONVEX_SIM_ENGINES`` overrides); every measurement runs in
a fresh interpreter that puts that folder first on ``sys.path``. Three measurements:

* ``coverage``: which ES2020-ES2025 syntax and built-ins parse and run (no esbuild lowering),
  which web APIs the bare engine has, and whether time, memory and stack limits exist and
  end runaway code with a catchable Python exception (the context still usable afterwards).
* ``speed``: transfer mutations and balance queries of ``scenarios/ts_bank`` through
  ``ConvexSim.from_project`` (the real bridge: ``convex_sim/js/engine.py`` runs on the
  candidate through a small adapter when its API differs from PyPI ``quickjs``), alternating
  candidates in fresh processes for ``--rounds`` rounds; each figure is the candidate's best
  round, and every round is printed (machine speed drifts, so only alternating runs compare).

``python benchmarks/bench_engines.py [coverage|speed|all] [--rounds N] [--calls N]``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: name -> pip requirement. ``quickjs`` is what convex-sim ships with today.
CANDIDATES = {
    "quickjs": "quickjs==1.19.4",
    "python-quickjs-ng": "python-quickjs-ng==0.15.1.1",
    "edwh-quickjs-ng": "edwh-quickjs-ng==0.14.0.3",
    "cyjs": "cyjs==0.4.0",
    "jsbox": "jsbox==0.1.3",
    "mini-racer": "mini-racer==0.14.1",
}
#: Candidates whose API cannot host convex-sim's bridge, and why (coverage is still measured).
NO_BRIDGE = {
    "jsbox": "no job-queue stepping: eval drains microtasks only when the script returns a "
             "promise, and errors on one that Python would settle later",
    "mini-racer": "no synchronous JS->Python call: wrap_py_function gives JavaScript a Promise",
    "cyjs": "no time limit (no interrupt handler); Python None cannot be passed to a JS "
            "function, and the bridge's first call failed (JSON.parse got another string)",
}

# --- what coverage measures ---------------------------------------------------------------------

#: (feature, snippet): the body of an async function that must return ``true``.
SYNTAX = [
    ("optional chaining ?.", "const o = {a: {b: 1}}; return o?.a?.b === 1 && o.x?.y === undefined && o.f?.() === undefined;"),
    ("nullish ??", "return (null ?? 5) === 5 && (0 ?? 5) === 0;"),
    ("logical assignment", "let a = null, b = 1, c = 0; a ??= 3; b &&= 4; c ||= 5; return a + b + c === 12;"),
    ("numeric separators", "return 1_000_000 === 1e6;"),
    ("BigInt ops", "return 2n ** 64n === 18446744073709551616n && BigInt.asIntN(8, 255n) === -1n && 7n / 2n === 3n;"),
    ("class fields", "class A { x = 1; static y = 2; } return new A().x + A.y === 3;"),
    ("private #fields", "class A { #x = 1; get x() { return this.#x; } } return new A().x === 1;"),
    ("private #methods", "class A { #m() { return 2; } static #s() { return 1; } v() { return this.#m() + A.#s(); } } return new A().v() === 3;"),
    ("#x in obj", "class A { #x; static is(o) { return #x in o; } } return A.is(new A()) && !A.is({});"),
    ("static blocks", "class A { static v; static { A.v = 7; } } return A.v === 7;"),
    ("method named static", "class A { static(x) { return x; } } return new A().static(3) === 3;"),
    ("methods get/set/async", "class A { get() { return 1; } set() { return 2; } async() { return 3; } static get() { return 4; } } const a = new A(); return a.get() + a.set() + a.async() + A.get() === 10;"),
    ("keyword method names", "const o = { new() { return 1; }, delete() { return 2; }, class: 3, in() { return 4; } }; class B { return() { return 5; } static new() { return 6; } } return o.new() + o.delete() + o.class + o.in() + new B().return() + B.new() === 21;"),
    ("async generators, for await", "async function* g() { yield 1; yield 2; } let s = 0; for await (const x of g()) s += x; return s === 3;"),
    ("optional catch binding", "try { throw 1; } catch { return true; }"),
    ("regexp named groups", r'return /(?<y>\d{4})-(?<m>\d\d)/.exec("2024-05").groups.m === "05";'),
    ("regexp lookbehind", r'return "$10 x20".match(/(?<=\$)\d+/)[0] === "10" && /(?<!a)b/.test("cb");'),
    ("regexp s flag", r'return /a.b/s.test("a\nb");'),
    ("regexp \\p{...} /u", r'return /\p{Script=Greek}/u.test("α");'),
    ("regexp d flag", 'const m = /b(c)/d.exec("abc"); return m.indices[1][0] === 2;'),
    ("regexp v flag", r'return /[\p{L}--[a-z]]/v.test("A") && !/[\p{L}--[a-z]]/v.test("a");'),
]
BUILTINS = [
    ("globalThis", "return typeof globalThis === 'object';"),
    ("String.matchAll", r'return [..."a1b2".matchAll(/\d/g)].length === 2;'),
    ("String.replaceAll", 'return "a.b.c".replaceAll(".", "-") === "a-b-c";'),
    ("String.at", 'return "abc".at(-1) === "c";'),
    ("String.isWellFormed", 'return "a\\uD800".isWellFormed() === false && "ab".toWellFormed() === "ab";'),
    ("Array.at", "return [1, 2, 3].at(-1) === 3;"),
    ("Array.findLast", "return [1, 2, 3].findLast((x) => x < 3) === 2 && [1, 2].findLastIndex((x) => x > 5) === -1;"),
    ("Array.toSorted/with", "const a = [3, 1, 2]; return a.toSorted().join() === '1,2,3' && a.with(0, 9)[0] === 9 && a[0] === 3 && a.toReversed()[0] === 2 && a.toSpliced(0, 1).length === 2;"),
    ("Array.flat/flatMap", "return [[1], [2, [3]]].flat(2).length === 3 && [1].flatMap((x) => [x, x]).length === 2;"),
    ("Array.fromAsync", "const a = await Array.fromAsync((async function* () { yield 1; yield 2; })()); return a.length === 2;"),
    ("Object.hasOwn", "return Object.hasOwn({a: 1}, 'a') && !Object.hasOwn({}, 'toString');"),
    ("Object.groupBy/Map.groupBy", "const g = Object.groupBy([1, 2, 3], (x) => (x % 2 ? 'odd' : 'even')); return g.odd.length === 2 && Map.groupBy([1], () => 'k').get('k')[0] === 1;"),
    ("Error cause", "return new Error('x', { cause: 1 }).cause === 1;"),
    ("AggregateError", "return new AggregateError([1], 'm').errors[0] === 1;"),
    ("Promise.allSettled", "const r = await Promise.allSettled([Promise.reject(1), 2]); return r[0].status === 'rejected' && r[1].value === 2;"),
    ("Promise.any", "return (await Promise.any([Promise.reject(1), Promise.resolve(2)])) === 2;"),
    ("Promise.withResolvers", "const { promise, resolve } = Promise.withResolvers(); resolve(4); return (await promise) === 4;"),
    ("WeakRef", "const o = {}; return new WeakRef(o).deref() === o;"),
    ("FinalizationRegistry", "const f = new FinalizationRegistry(() => {}); f.register({}, 1); return true;"),
    ("Intl.NumberFormat", "return new Intl.NumberFormat('en-US').format(1234.5) === '1,234.5';"),
    ("Intl.DateTimeFormat", "return new Intl.DateTimeFormat('en-US', { timeZone: 'UTC' }).format(new Date(0)) === '1/1/1970';"),
    ("Number.toLocaleString", "return (1234.5).toLocaleString('en-US') === '1,234.5';"),
    ("structuredClone", "const d = { a: [1, { b: 2n }], m: new Map([[1, 2]]) }; const c = structuredClone(d); return c !== d && c.a[1].b === 2n && c.m.get(1) === 2;"),
    ("ArrayBuffer.transfer", "const b = new ArrayBuffer(4); const t = b.transfer(); return b.byteLength === 0 && t.byteLength === 4;"),
    ("Set methods (ES2025)", "return new Set([1]).union(new Set([2])).size === 2;"),
    ("Iterator helpers (ES2025)", "return [1, 2, 3].values().map((x) => x * 2).toArray().join() === '2,4,6';"),
    ("Promise.try (ES2025)", "return (await Promise.try(() => 5)) === 5;"),
]
WEB_APIS = ["queueMicrotask", "structuredClone", "TextEncoder", "TextDecoder", "URL",
            "URLSearchParams", "atob", "btoa", "fetch", "Headers", "Request", "Response", "Blob",
            "File", "FormData", "Event", "EventTarget", "AbortController", "AbortSignal",
            "ReadableStream", "WritableStream", "TransformStream", "TextEncoderStream",
            "DOMException", "crypto", "performance", "setTimeout"]


def snippet_script(body: str) -> str:
    """Run ``body`` as an async function; ``globalThis.__r`` becomes ``ok`` or what went wrong."""
    return ("globalThis.__r = 'pending'; (async () => {\n" + body + "\n})().then("
            "(v) => { globalThis.__r = v === true ? 'ok' : 'wrong: ' + String(v); },"
            "(e) => { globalThis.__r = 'error: ' + String(e); }); 0")


# --- adapters: each candidate behind the few calls convex-sim makes -----------------------------

class Adapter:
    """A context of one candidate: ``eval`` (a value), ``add_callable``, ``step`` (one job)."""

    error: type[BaseException] = Exception

    def eval(self, code: str) -> Any:
        raise NotImplementedError

    def add_callable(self, name: str, fn: Any) -> None:
        raise NotImplementedError

    def step(self) -> bool:
        return False

    def drain(self) -> None:
        for _ in range(10_000):
            if not self.step():
                return


class QuickJS(Adapter):
    """PyPI ``quickjs`` and the quickjs-ng wheels (the same ``_quickjs`` API)."""

    def __init__(self) -> None:
        import _quickjs  # not the ``quickjs`` wrapper, which starts a thread pool at import
        self.ctx, self.error = _quickjs.Context(), _quickjs.JSException

    def eval(self, code: str) -> Any:
        return self.ctx.eval(code)

    def add_callable(self, name: str, fn: Any) -> None:
        self.ctx.add_callable(name, fn)

    def step(self) -> bool:
        return bool(self.ctx.execute_pending_job())

    def limits(self) -> dict[str, Any]:
        return probe_limits(self, self.ctx.set_time_limit, self.ctx.set_memory_limit,
                            self.ctx.set_max_stack_size)


class Cyjs(Adapter):
    """cyjs (Cython over quickjs-ng): a Runtime and a Context, functions set on the global."""

    def __init__(self) -> None:
        import cyjs
        self.runtime = cyjs.Runtime()
        self.ctx = cyjs.Context(self.runtime)
        self.error, self._keep = cyjs.JSError, []

    def eval(self, code: str) -> Any:
        value = self.ctx.eval(code)
        if not callable(value):
            return value

        def call(*args: Any) -> Any:  # None cannot cross: trailing None arguments are left off
            while args and args[-1] is None:
                args = args[:-1]
            return value(*args)

        return call

    def add_callable(self, name: str, fn: Any) -> None:
        f = self.ctx.add_function(fn, name)
        self._keep.append(f)
        self.ctx.get_global().set(name, f.object)

    def step(self) -> bool:
        if not self.runtime.is_job_pending():
            return False
        self.runtime.execute_pending_job()
        return True

    # the _quickjs.Context API that convex_sim/js/engine.py uses
    execute_pending_job = step

    def set_max_stack_size(self, size: int) -> None:
        self.runtime.set_max_stack_size(size)

    def limits(self) -> dict[str, Any]:
        def set_memory(limit: int) -> None:  # no -1 for "none" here
            self.runtime.set_memory_limit(limit if limit >= 0 else 1 << 62)

        return probe_limits(self, None, set_memory, self.runtime.set_max_stack_size)


class Jsbox(Adapter):
    """jsbox (rquickjs): values are copied out; eval drains jobs only for a returned promise."""

    def __init__(self) -> None:
        import jsbox
        self.rt, self.error = jsbox.Runtime(), jsbox.JavaScriptError

    def eval(self, code: str) -> Any:
        return self.rt.eval(code)

    def add_callable(self, name: str, fn: Any) -> None:
        self.rt.bind_function(name, fn)

    def drain(self) -> None:  # jobs run only while eval waits for a promise: wait for __r
        self.rt.eval("new Promise((r) => { const poll = () => (globalThis.__r !== 'pending' ? r() "
                     ": Promise.resolve().then(poll)); poll(); })")

    def limits(self) -> dict[str, Any]:
        import jsbox

        def run(limit: str, code: str) -> str:
            rt = jsbox.Runtime(**({"memory_limit": 32 << 20} if limit == "memory" else
                                  {"max_stack_size": 256 << 10} if limit == "stack" else {}))
            try:
                rt.eval(code, **({"timeout": 0.2} if limit == "time" else {}))
                return "not stopped"
            except Exception as exc:
                kind = type(exc).__name__
            return f"{kind}; usable after: {rt.eval('1 + 1') == 2}"

        return {limit: run(limit, code) for limit, code in RUNAWAY.items()}


class MiniRacer(Adapter):
    """V8 through mini-racer: coverage only (its Python callbacks are asynchronous)."""

    def __init__(self) -> None:
        from py_mini_racer import JSEvalException
        from py_mini_racer import MiniRacer as Racer
        self.ctx, self.error = Racer(), JSEvalException

    def eval(self, code: str) -> Any:
        return self.ctx.eval(code)

    def limits(self) -> dict[str, Any]:
        return {"time": "eval(timeout=...) exists", "memory": "set_hard_memory_limit exists",
                "stack": "no setting"}


ADAPTERS = {"quickjs": QuickJS, "python-quickjs-ng": QuickJS, "edwh-quickjs-ng": QuickJS,
            "cyjs": Cyjs, "jsbox": Jsbox, "mini-racer": MiniRacer}

#: Runaway code each limit must stop.
RUNAWAY = {
    "time": "while (true) {}",
    "memory": "const a = []; while (true) a.push(new Array(100000).fill(1));",
    "stack": "function f(n) { return f(n + 1) + 1; } f(0);",
}


def probe_limits(ctx: Adapter, set_time: Any, set_memory: Any, set_stack: Any) -> dict[str, Any]:
    """Each limit: is there a setting, does it stop the runaway code with a Python exception,
    can JavaScript catch it (a runaway app could swallow it), is the context usable after?"""
    out: dict[str, Any] = {}
    for limit, setter, value in (("stack", set_stack, 256 << 10), ("memory", set_memory, 64 << 20),
                                 ("time", set_time, 0.2)):
        if setter is None:
            out[limit] = "no setting"
            continue
        setter(value)
        code = RUNAWAY[limit]
        try:
            ctx.eval(code)
            out[limit] = "not stopped"
        except ctx.error as exc:
            out[limit] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:60]}"
        try:
            caught = ctx.eval(f"(() => {{ try {{ {code} }} catch (e) {{ return 'caught'; }} }})()")
        except ctx.error:
            caught = "not catchable in JS"
        out[limit] += f"; in JS: {caught}; usable after: {ctx.eval('1 + 1') == 2}"
        setter(-1 if limit == "time" else (0 if limit == "stack" else -1))
    return out


def run_snippet(ctx: Adapter, body: str) -> str:
    try:
        ctx.eval(snippet_script(body))
    except Exception as exc:
        return "parse/run error: " + str(exc).splitlines()[0][:80]
    ctx.drain()
    return str(ctx.eval("globalThis.__r"))


def coverage(name: str) -> dict[str, Any]:
    make = ADAPTERS[name]
    features = {}
    for feature, body in SYNTAX + BUILTINS:
        features[feature] = run_snippet(make(), body)
    ctx = make()
    web = [api for api in WEB_APIS if ctx.eval(f"typeof globalThis.{api} !== 'undefined'")]
    return {"features": features, "web": web, "limits": make().limits(), "long strings": long_strings(make())}


def long_strings(ctx: Adapter) -> str:
    """Does a long concatenated string (a rope in quickjs-ng 0.10+) reach Python?"""
    try:
        ctx.add_callable("cb", len)
        return "ok" if ctx.eval('cb("=" + "x".repeat(2000))') == 2001 else "wrong length"
    except NotImplementedError:
        return "no sync callback"
    except Exception as exc:
        return "error: " + str(exc).splitlines()[0][:60]


# --- speed: the real bridge on each candidate ---------------------------------------------------

def install_as_quickjs(name: str) -> None:
    """Make ``import _quickjs`` give the candidate (engine.py then runs on it unchanged)."""
    if ADAPTERS[name] is QuickJS:
        return  # its own ``_quickjs`` module comes first on sys.path
    shim = types.ModuleType("_quickjs")
    shim.Context = ADAPTERS[name]  # type: ignore[attr-defined]
    shim.JSException = ADAPTERS[name]().error  # type: ignore[attr-defined]
    sys.modules["_quickjs"] = shim


def speed(name: str, calls: int) -> dict[str, float]:
    install_as_quickjs(name)
    from convex_sim import ConvexSim
    from convex_sim.js import engine, load_project
    from scenarios.ts_bank import PROJECT

    engine.new_context = sys.modules["_quickjs"].Context  # no check that it is quickjs-ng

    project = load_project(PROJECT)
    t0 = time.perf_counter()
    engine.Engine(project.engine.bundle)
    load_ms = (time.perf_counter() - t0) * 1000
    sim = ConvexSim.from_project(project)
    sim.mutation("bank:open", {"owner": "a", "amount": 1e9})
    sim.mutation("bank:open", {"owner": "b", "amount": 0})
    transfer = query = 0.0
    for _ in range(calls):
        t = time.perf_counter()
        sim.mutation("bank:transfer", {"src": "a", "dst": "b", "amount": 1})
        transfer += time.perf_counter() - t
        t = time.perf_counter()
        sim.query("bank:balance", {"owner": "b"})
        query += time.perf_counter() - t
    assert sim.query("bank:balance", {"owner": "b"}) == calls
    return {"load_ms": load_ms, "transfer_us": transfer / calls * 1e6, "query_us": query / calls * 1e6}


# --- the parent: installs, fresh processes, tables ----------------------------------------------

def engines_dir() -> Path:
    return Path(os.environ.get("CONVEX_SIM_ENGINES", Path.home() / ".cache" / "convex-sim" / "engines"))


def install(name: str) -> Path:
    """The candidate's folder, installed with pip on first use."""
    target = engines_dir() / CANDIDATES[name].replace("==", "-")
    if not (target / ".installed").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--only-binary=:all:", "--target", str(target), CANDIDATES[name]], check=True)
        (target / ".installed").touch()
    return target


def child(name: str, what: str, calls: int) -> dict[str, Any]:
    """Run ``what`` for ``name`` in a fresh interpreter; its JSON answer."""
    env = {**os.environ, "PYTHONPATH": f"{install(name)}{os.pathsep}{ROOT}"}
    proc = subprocess.run([sys.executable, __file__, "--child", name, what, str(calls)], env=env,
                          capture_output=True, text=True, check=False, cwd=ROOT)
    if proc.returncode != 0:
        return {"failed": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "crashed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_coverage() -> None:
    results = {name: child(name, "coverage", 0) for name in CANDIDATES}
    names = list(results)
    print("| feature | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for feature, _body in SYNTAX + BUILTINS:
        cells = [("yes" if results[n].get("features", {}).get(feature) == "ok" else "no") for n in names]
        print(f"| {feature} | " + " | ".join(cells) + " |")
    total = len(SYNTAX) + len(BUILTINS)
    print("| **runs** | " + " | ".join(
        f"{sum(v == 'ok' for v in results[n].get('features', {}).values())}/{total}" for n in names) + " |")
    for name in names:
        r = results[name]
        failing = {f: v for f, v in r.get("features", {}).items() if v != "ok"}
        print(f"\n## {name}\nfails: {json.dumps(failing, ensure_ascii=False)}")
        print(f"web APIs ({len(r.get('web', []))}/{len(WEB_APIS)}): {', '.join(r.get('web', []))}")
        print(f"limits: {json.dumps(r.get('limits'), ensure_ascii=False)}")
        print(f"long string to Python: {r.get('long strings')}")
        if "failed" in r:
            print(f"failed: {r['failed']}")


def print_speed(rounds: int, calls: int) -> None:
    names = [n for n in CANDIDATES if n not in NO_BRIDGE]
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for number in range(1, rounds + 1):
        for name in names:
            runs[name].append(child(name, "speed", calls))
            print(f"round {number}: {name:<18} {json.dumps(runs[name][-1])}", flush=True)
    print("| engine | load a bundle | transfer mutation | balance query |\n|---|---|---|---|")
    for name in names:
        ok = [r for r in runs[name] if "failed" not in r]
        if not ok:
            print(f"| {name} | failed: {runs[name][-1]['failed']} | | |")
            continue
        best = {k: min(r[k] for r in ok) for k in ("load_ms", "transfer_us", "query_us")}
        print(f"| {name} | {best['load_ms']:.1f} ms | {best['transfer_us']:.0f} µs "
              f"| {best['query_us']:.0f} µs |")
    for name, reason in NO_BRIDGE.items():
        print(f"| {name} | not run: {reason} | | |")


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--child":
        name, what, calls = args[1], args[2], int(args[3])
        result = coverage(name) if what == "coverage" else speed(name, calls)
        print(json.dumps(result, ensure_ascii=False))
        return
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 5
    calls = int(args[args.index("--calls") + 1]) if "--calls" in args else 2000
    what = args[0] if args and not args[0].startswith("--") else "all"
    if what in ("coverage", "all"):
        print_coverage()
    if what in ("speed", "all"):
        print_speed(rounds, calls)


if __name__ == "__main__":
    main()
