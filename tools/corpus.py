"""Run real public Convex projects (corpus/manifest.toml) through convex-sim.

For each project the driver installs its npm dependencies when ``node_modules`` is missing,
loads it with ``ConvexSim.from_project(path, seed=0)`` and calls every public and internal
query, mutation and action with one deterministic example of arguments drawn from the
function's own validator, every HTTP route, every cron, and then lets the scheduler run what
those calls scheduled. Each outcome is classified as ok, an app error (what real Convex
would also raise for these inputs), a convex-sim error (convex-sim itself failed) or a hang.

Each project runs in its own worker process, which reports every call as it starts and ends;
a call that makes no progress within the time limit is recorded as a hang, the worker is
killed and restarted without that call. So a crash or a hang never stops the run.

    .venv/bin/python tools/corpus.py                       # every fetched project
    .venv/bin/python tools/corpus.py convex-test ai-town   # some
    .venv/bin/python tools/corpus.py --write docs/corpus.md --json out.json
    .venv/bin/python tools/corpus.py --checkout https://github.com/{repo}.git

The corpus root is ``$CONVEX_SIM_CORPUS`` (default: ``corpus`` beside the repository).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "corpus" / "manifest.toml"
MARK = "@@corpus@@ "
#: Wall-clock limit for one call (and for loading a project: LOAD_TIMEOUT_S).
CALL_TIMEOUT_S = 20.0
LOAD_TIMEOUT_S = 300.0
INSTALL_TIMEOUT_S = 1800.0
#: How often a project's worker is restarted after hangs before the rest is given up.
MAX_RESTARTS = 8
#: Virtual time the scheduler is advanced by, in steps, so daily crons run once.
ADVANCE_MS = 25 * 3_600_000
ADVANCE_STEP_MS = 3_600_000
#: Wall-clock budget for advancing time; past it the rest is not advanced (noted, not an error).
ADVANCE_BUDGET_S = 20.0

#: Arguments drawn by field name: a page of at least one item (Convex rejects 0).
FIELDS_SPEC = {"numItems": (1, 10)}

OK, APP, SIM, HANG, SKIPPED = "ok", "app", "convex-sim", "hang", "skipped"


# --- The manifest --------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One project of the manifest."""

    name: str
    repo: str
    commit: str
    subdir: str
    install: tuple[str, ...]
    reason: str
    #: In the subset that ``make test`` runs (the others need CONVEX_SIM_CORPUS_ALL=1).
    quick: bool = False
    #: The deployment's environment variables, as its README asks a user to set them.
    env: tuple[tuple[str, str], ...] = ()


def load_manifest(path: Path = MANIFEST) -> list[Entry]:
    """The manifest's projects, in file order; checks each entry's fields."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    entries = []
    for raw in data.get("project", []):
        entry = Entry(raw["name"], raw["repo"], raw["commit"], raw.get("subdir", ""),
                      tuple(raw.get("install", ())), raw.get("reason", ""), bool(raw.get("quick")),
                      tuple(sorted(raw.get("env", {}).items())))
        if not re.fullmatch(r"[0-9a-f]{40}", entry.commit):
            raise ValueError(f"{path}: {entry.name}: commit must be 40 hex digits")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", entry.repo):
            raise ValueError(f"{path}: {entry.name}: repo must be owner/name")
        entries.append(entry)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: project names must be unique")
    return entries


def corpus_root() -> Path:
    """Where the checked-out projects live: ``$CONVEX_SIM_CORPUS`` or ``../corpus``."""
    return Path(os.environ.get("CONVEX_SIM_CORPUS") or REPO.parent / "corpus").resolve()


def checkout_dir(entry: Entry) -> Path:
    return corpus_root() / entry.name


def project_dir(entry: Entry) -> Path:
    return checkout_dir(entry) / entry.subdir if entry.subdir else checkout_dir(entry)


# --- Checkout and install ------------------------------------------------------------------


def checkout(entry: Entry, url_template: str) -> str:
    """Clone ``entry`` into the corpus root at its pinned commit (skipped when present).
    ``url_template`` has ``{repo}`` (owner/name), ``{owner}`` and ``{name}``."""
    dest = checkout_dir(entry)
    if dest.exists():
        return "present"
    owner, name = entry.repo.split("/")
    url = url_template.format(repo=entry.repo, owner=owner, name=name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", url, str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "-c", "advice.detachedHead=false", "checkout", "--quiet",
                    entry.commit], check=True)
    return "cloned"


def has_convex_package(entry: Entry) -> bool:
    """Whether ``convex`` resolves from the project folder (up to the checkout root)."""
    folder, top = project_dir(entry), checkout_dir(entry)
    while True:
        if (folder / "node_modules" / "convex" / "package.json").exists():
            return True
        if folder == top or folder.parent == folder:
            return False
        folder = folder.parent


def registry_reachable(timeout_s: float = 15.0) -> bool:
    """Whether the npm registry answers (``npm ping``)."""
    npm = shutil.which("npm")
    if npm is None:
        return False
    try:
        return subprocess.run([npm, "ping"], capture_output=True, timeout=timeout_s).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def install_reason(entry: Entry) -> str | None:
    """Why ``entry`` cannot be installed or run here, or None when it can."""
    if not checkout_dir(entry).exists():
        return f"not fetched: {checkout_dir(entry)} is absent (see corpus/README.md)"
    if has_convex_package(entry):
        return None
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node_modules is missing and Node.js/npm are not installed"
    if not registry_reachable():
        return "node_modules is missing and the npm registry is unreachable"
    return None


def install(entry: Entry, log: Path | None = None) -> tuple[bool, float, str]:
    """Run the entry's install commands when ``convex`` is not installed yet.
    Returns (installed, seconds, the tail of the output on failure)."""
    if has_convex_package(entry):
        return True, 0.0, ""
    start = time.monotonic()
    output = []
    for command in entry.install:
        try:
            done = subprocess.run(command, shell=True, cwd=checkout_dir(entry), capture_output=True,
                                  text=True, timeout=INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return False, time.monotonic() - start, f"{command}: timed out"
        output.append(f"$ {command}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            if log is not None:
                log.write_text("".join(output))
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
            return False, time.monotonic() - start, f"{command}: exit {done.returncode}\n{tail}"
    return has_convex_package(entry), time.monotonic() - start, ""


def convex_version(entry: Entry) -> str:
    """The installed ``convex`` package's version (else the one package.json asks for)."""
    folder, top = project_dir(entry), checkout_dir(entry)
    while True:
        pkg = folder / "node_modules" / "convex" / "package.json"
        if pkg.exists():
            return json.loads(pkg.read_text()).get("version", "?")
        if folder == top or folder.parent == folder:
            break
        folder = folder.parent
    try:
        deps = json.loads((project_dir(entry) / "package.json").read_text())
    except (OSError, ValueError):
        return "?"
    for key in ("dependencies", "devDependencies", "peerDependencies"):
        if "convex" in deps.get(key, {}):
            return deps[key]["convex"]
    return "?"


# --- Classification --------------------------------------------------------------------------

#: JavaScript error names that only the engine (or a missing web API) produces in a deployed app.
_SIM_JS_NAMES = {"SyntaxError", "InternalError", "ReferenceError"}
#: Messages that say convex-sim lacks something, whoever threw them.
_SIM_MESSAGE = re.compile(
    r"not a function|not a constructor|not implemented|not supported|unsupported|unknown syscall|"
    r"convex-sim|ArgumentValidationError|Unknown op|is not iterable|cannot convert|stack overflow|"
    r"out of memory|interrupted", re.IGNORECASE)
#: Python exceptions of convex-sim that mean it could not do what the app asked.
_SIM_CLASSES = {"UnsupportedSyscallError", "BundleError", "JsStuckError", "FunctionNotFoundError",
                "ComponentError", "RouteError", "TransactionClosedError", "ActionStuckError",
                "UnknownIndexError", "SchemaError", "ArgumentValidationError", "StrategyError",
                "HistoryError", "CheckConfigError", "SubscriptionError"}
_NULL_PROPERTY = re.compile(r"cannot read propert(y|ies) .* of (null|undefined)|"
                            r"(null|undefined) (is not an object|has no properties)|"
                            r"^not an object$|cannot convert (null|undefined) to object",
                            re.IGNORECASE)
_MISSING_ARG = re.compile(r"^Must provide arg \d+ `\w+` to `\w+`")
_FRAME = re.compile(r"\(([^()]+?):(\d+)(?::\d+)?\)\s*$|at ([^\s()]+):(\d+)")


def innermost_frame(stack: str) -> str:
    """The file of the first stack frame (``convex/x.ts``, ``node_modules/...``, or ``?``)."""
    for line in stack.splitlines():
        line = line.strip()
        if not line.startswith("at "):
            continue
        match = _FRAME.search(line)
        if match:
            return match.group(1) or match.group(3) or "?"
        return "?"
    return "?"


def _frame_kind(where: str) -> str:
    if where == "?" or where.startswith("<") or "prelude" in where:
        return "host"
    if "node_modules/convex/" in where:
        return "convex"
    if "node_modules/" in where:
        return "library"
    return "app"


def classify(exc: BaseException, path: str = "") -> tuple[str, str]:
    """(kind, why) for an exception that the call of ``path`` raised: APP, SIM or SKIPPED."""
    from convex_sim.errors import ConvexError, ConvexSimError
    from convex_sim.js import JsError

    name = type(exc).__name__
    if isinstance(exc, ConvexError):
        return APP, "ConvexError thrown by the app"
    if isinstance(exc, JsError):
        full = getattr(exc, "corpus_full_stack", "") or exc.stack
        where = innermost_frame(full)
        kind = _frame_kind(where)
        text = f"{exc.js_name}: {exc.js_message}"
        if exc.js_name == "SyntaxError" and re.search(r"at parse \(native\)", full):
            return APP, "JSON.parse of an app-supplied string (V8 raises the same SyntaxError)"
        if exc.js_name in _SIM_JS_NAMES:
            return SIM, f"{exc.js_name} in a deployed app means the engine lacks something"
        if _SIM_MESSAGE.search(text):
            return SIM, f"message says the runtime lacks something (innermost frame: {where})"
        if _NULL_PROPERTY.search(exc.js_message):
            # app or library code dereferenced a missing value (no identity, no document)
            return APP, f"read a property of null/undefined (innermost frame: {where})"
        if _MISSING_ARG.search(exc.js_message):
            return APP, "the app passed undefined to a ctx.db/ctx.storage method (convex's own check)"
        if exc.js_name in ("TypeError", "RangeError") and kind in ("host", "convex"):
            return SIM, f"{exc.js_name} inside {kind} code ({where}): a value from convex-sim"
        if exc.js_name in ("TypeError", "RangeError") and kind == "library":
            return SIM, f"{exc.js_name} inside a library ({where}): likely a missing or wrong web API"
        return APP, f"thrown by {kind} code ({where})"
    if name == "ArgumentValidationError" and path and f" {path}:" not in f" {exc}":
        return APP, "a nested call's arguments, passed by the app, fail its validator"
    if name in _SIM_CLASSES:
        if name == "StrategyError" and "has no documents" in str(exc):
            return SKIPPED, "no documents to draw an ID from"
        return SIM, f"{name}: convex-sim could not do what the app asked"
    if isinstance(exc, ConvexSimError):
        return APP, f"{name}: real Convex rejects this too"
    return SIM, f"Python {name} escaped convex-sim (not a ConvexSimError)"


def first_lines(text: str, n: int = 6) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return "\n".join(lines[:n])


# --- The worker (one project, in its own process) -----------------------------------------


def _emit(event: dict) -> None:
    sys.stdout.write(MARK + json.dumps(event, default=str) + "\n")
    sys.stdout.flush()


def _keep_full_js_stacks() -> None:
    """Keep each JavaScript error's whole mapped stack (not only the app's frames), so an error
    inside the convex package or the engine's prelude is told apart from the app's own."""
    from convex_sim.js import engine as engine_module

    original = engine_module.Engine._error

    def _error(self: Any, execution: Any, error: dict) -> BaseException:
        exc = original(self, execution, error)
        with contextlib.suppress(Exception):   # a diagnostic only
            exc.corpus_full_stack = self.source_map.map_stack(error.get("stack", ""))  # type: ignore[attr-defined]
        return exc

    engine_module.Engine._error = _error  # type: ignore[method-assign]


def _fields() -> dict:
    from hypothesis import strategies as st

    return {name: st.integers(lo, hi) for name, (lo, hi) in FIELDS_SPEC.items()}


def _one_example(strategy: Any) -> Any:
    """The simplest value ``strategy`` draws, the same in every run."""
    from hypothesis import HealthCheck, Phase, find, settings

    return find(strategy, lambda _: True, settings=settings(
        database=None, derandomize=True, max_examples=50, phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck)))


def _unwrap(exc: BaseException) -> list[tuple[str, BaseException]]:
    """The failures inside a ScheduledFunctionFailed, else ``exc`` itself."""
    failures = getattr(exc, "failures", None)
    if failures:
        return [(path, inner) for _job, path, inner in failures]
    return [("", exc)]


class Worker:
    """Exercises one project on one simulator, reporting each call on stdout."""

    def __init__(self, entry: Entry, skip: set[str]) -> None:
        self.entry, self.skip = entry, skip

    def run(self) -> None:
        from convex_sim import ConvexSim

        _keep_full_js_stacks()
        _emit({"event": "start", "call": "load"})
        start = time.monotonic()
        try:
            sim = ConvexSim.from_project(project_dir(self.entry), seed=0, env=dict(self.entry.env))
            sim.allow_network = False
        except BaseException as exc:
            _emit({"event": "load", "ok": False, "error": self._describe(exc),
                   "seconds": time.monotonic() - start})
            return
        _emit({"event": "load", "ok": True, "seconds": time.monotonic() - start,
               "functions": len(sim.registry.functions)})
        self.sim = sim
        self.functions()
        self.routes()
        self.crons()
        self.scheduled()
        _emit({"event": "done"})

    def _describe(self, exc: BaseException, path: str = "") -> dict:
        kind, why = classify(exc, path)
        notes = "\n".join(getattr(exc, "__notes__", []) or [])
        stack = getattr(exc, "corpus_full_stack", "") or getattr(exc, "stack", "")
        described = {"kind": kind, "why": why, "type": type(exc).__name__,
                     "message": first_lines(str(exc), 8), "stack": first_lines(stack, 8),
                     "notes": first_lines(notes, 6)}
        cause = exc.__cause__ or exc.__context__
        if cause is not None:   # what a wrapper (a SystemError of the engine) hides
            described["cause"] = first_lines(f"{type(cause).__name__}: {cause}", 6)
        return described

    def _call(self, label: str, body: Any) -> None:
        if label in self.skip:
            return
        _emit({"event": "start", "call": label})
        start = time.monotonic()
        result: dict[str, Any] = {"event": "result", "call": label}
        try:
            extra = body()
            result.update(kind=OK, **(extra or {}))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            result.update(self._describe(exc, label.partition(" ")[2]))
        result["seconds"] = round(time.monotonic() - start, 3)
        _emit(result)

    def functions(self) -> None:
        """Every query, mutation and action: mutations first (they make documents whose IDs
        later arguments draw), then queries, then actions; then a second round for the
        functions whose arguments needed documents that did not exist yet."""
        order = {"mutation": 0, "query": 1, "action": 2}
        fns = sorted(((p, f) for p, f in self.sim.registry.functions.items() if f.kind in order),
                     key=lambda pf: (order[pf[1].kind], pf[0]))
        waiting = []
        for path, fn in fns:
            if not self._function(path, fn, last_round=False):
                waiting.append((path, fn))
        for path, fn in waiting:
            self._function(path, fn, last_round=True)

    def _function(self, path: str, fn: Any, last_round: bool) -> bool:
        """Call ``fn``; False when its arguments cannot be drawn yet (retry later)."""
        from convex_sim.hypothesis import args_for

        label = f"{fn.kind} {path}"
        if label in self.skip:
            return True
        try:
            args = {} if fn.args is None else _one_example(args_for(self.sim, path, fields=_fields()))
        except BaseException as exc:
            kind, _why = classify(exc, path)
            if kind == SKIPPED and not last_round:
                return False
            self._call(label, functools.partial(_reraise, exc))
            return True
        call = getattr(self.sim, fn.kind)
        self._call(label, lambda: {"args": _short(args), **_short_result(call(path, args))})
        return True

    def routes(self) -> None:
        """Every HTTP route with its method; a prefix route with one path segment added."""
        router = getattr(self.sim, "http", None)
        for route in getattr(router, "routes", []) or []:
            path = route.path + ("corpus" if route.prefix else "")
            method = route.method
            self._call(f"http {method} {path}", lambda m=method, p=path: self._fetch(m, p))

    def _fetch(self, method: str, path: str) -> dict:
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        headers = {"content-type": "application/json"} if body is not None else None
        response = self.sim.fetch(path, method, content=body, headers=headers)
        error = (response.extensions or {}).get("convex_sim_error")
        if error is not None:
            raise error
        declared = response.headers.get("content-length")
        length = len(response.content)
        if declared is not None and declared.isdigit() and int(declared) != length:
            raise AssertionError(f"HTTP {response.status_code}: content-length {declared} but the "
                                 f"body has {length} bytes (a body lost on the way out)")
        if response.status_code == 200 and length == 0 and response.headers.get("content-type"):
            raise AssertionError(f"HTTP 200 with content-type {response.headers['content-type']!r} "
                                 "but an empty body (a body lost on the way out?)")
        return {"status": response.status_code, "bytes": length}

    def crons(self) -> None:
        """Every cron job once, called directly with its own arguments."""
        crons = getattr(getattr(self.sim, "project", None), "crons", None)
        for name, job in sorted((getattr(crons, "jobs", None) or {}).items()):
            ref = job.ref if isinstance(job.ref, str) else getattr(job.ref, "path", str(job.ref))

            def run(ref: str = ref, args: Any = job.args) -> dict:
                fn = self.sim.registry.resolve(ref)
                return _short_result(getattr(self.sim, fn.kind)(ref, dict(args or {})))

            self._call(f"cron {name} -> {ref}", run)

    def scheduled(self) -> None:
        """Advance the clock a day in steps (running crons and what the calls scheduled), then
        report each scheduled job that failed, classified like a call."""
        scheduler = self.sim.scheduler
        mark = len(scheduler.failures)
        label = "scheduler: advance 25 h"
        if label in self.skip:
            return
        _emit({"event": "start", "call": label})
        start, advanced, error = time.monotonic(), 0, None
        try:
            while advanced < ADVANCE_MS and time.monotonic() - start < ADVANCE_BUDGET_S:
                self.sim.advance_time(ADVANCE_STEP_MS)
                advanced += ADVANCE_STEP_MS
        except BaseException as exc:
            error = exc
        _emit({"event": "result", "call": label, "seconds": round(time.monotonic() - start, 3),
               "note": f"advanced {advanced / 3_600_000:.0f} h",
               **({"kind": OK} if error is None else self._describe(error))})
        seen: dict[str, int] = {}
        for _job, path, exc in scheduler.failures[mark:]:
            for inner_path, inner in _unwrap(exc):
                key = f"scheduled {inner_path or path}"
                seen[key] = seen.get(key, 0) + 1
                if seen[key] > 3:   # the same job failing again and again: report it thrice
                    continue
                _emit({"event": "result", "call": f"{key} #{seen[key]}", "seconds": 0,
                       **self._describe(inner, inner_path or path)})


def _reraise(exc: BaseException) -> None:
    raise exc


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _short_result(value: Any) -> dict:
    return {"result": _short(value, 200)}


def worker_main(name: str, skip: list[str]) -> int:
    entries = {e.name: e for e in load_manifest()}
    Worker(entries[name], set(skip)).run()
    return 0


# --- The parent: one worker per project, hangs and crashes contained ----------------------


@dataclass
class ProjectResult:
    """Everything the driver learned about one project."""

    name: str
    repo: str
    commit: str
    convex: str = "?"
    status: str = "pending"         # ran | skipped | install-failed
    reason: str = ""
    install_seconds: float = 0.0
    load_seconds: float = 0.0
    loads: bool = False
    functions: int = 0
    calls: list[dict] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.calls if c.get("kind") == kind)


def _run_worker(entry: Entry, skip: list[str]) -> tuple[list[dict], str | None, str]:
    """Run one worker; returns (events, the call that hung or None, stderr tail)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", entry.name]
    for label in skip:
        command += ["--skip", label]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=REPO, start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()
    err: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    def pump_err() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            err.append(line)
            del err[:-40]

    threading.Thread(target=pump, daemon=True).start()
    threading.Thread(target=pump_err, daemon=True).start()
    events: list[dict] = []
    current, deadline = None, time.monotonic() + LOAD_TIMEOUT_S
    hung = None
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            hung = current or "load"
            break
        if line is None:
            break
        if not line.startswith(MARK):
            continue
        event = json.loads(line[len(MARK):])
        events.append(event)
        if event["event"] == "start":
            current = event["call"]
            limit = LOAD_TIMEOUT_S if current == "load" else (
                ADVANCE_BUDGET_S + 4 * CALL_TIMEOUT_S if current.startswith("scheduler") else CALL_TIMEOUT_S)
            deadline = time.monotonic() + limit
        else:
            current, deadline = None, time.monotonic() + CALL_TIMEOUT_S
    if hung is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return events, hung, "".join(err[-12:])


def run_project(entry: Entry, *, do_install: bool = True) -> ProjectResult:
    """Install (when needed), load and exercise one project; never raises for the project's sake."""
    result = ProjectResult(entry.name, entry.repo, entry.commit)
    reason = install_reason(entry)
    if reason is not None:
        result.status, result.reason = "skipped", reason
        return result
    if not has_convex_package(entry):
        if not do_install:
            result.status, result.reason = "skipped", "node_modules is missing (--no-install)"
            return result
        ok, seconds, tail = install(entry)
        result.install_seconds = seconds
        if not ok:
            result.status, result.reason = "install-failed", tail
            return result
    result.convex = convex_version(entry)
    skip: list[str] = []
    by_call: dict[str, dict] = {}
    for _attempt in range(MAX_RESTARTS + 1):
        events, hung, stderr = _run_worker(entry, skip)
        for event in events:
            if event["event"] == "load":
                result.loads = event["ok"]
                result.load_seconds = round(event.get("seconds", 0.0), 2)
                result.functions = event.get("functions", 0)
                if not event["ok"]:
                    by_call["load"] = {"call": "load", **event["error"]}
                    by_call["load"].update(kind=SIM, why="the project does not load")
            elif event["event"] == "result":
                by_call[event["call"]] = event
        if hung is None:
            finished = any(e["event"] == "done" or (e["event"] == "load" and not e["ok"])
                           for e in events)
            if not finished:
                label = next((e["call"] for e in reversed(events) if e["event"] == "start"), "load")
                by_call[f"crash during {label}"] = {
                    "call": f"crash during {label}", "kind": SIM, "type": "WorkerCrash",
                    "why": "the worker process died", "message": first_lines(stderr, 8)}
            break
        by_call[hung] = {"call": hung, "kind": HANG, "type": "Hang",
                         "why": f"no progress within {CALL_TIMEOUT_S:.0f} s",
                         "message": f"{hung}: still running after the time limit"}
        if hung == "load":
            break
        skip.append(hung)
    else:
        by_call["restarts"] = {"call": "restarts", "kind": SIM, "type": "TooManyHangs",
                               "why": f"more than {MAX_RESTARTS} hangs", "message": ""}
    result.status = "ran"
    result.calls = list(by_call.values())
    return result


# --- Reporting -----------------------------------------------------------------------------


def table(results: list[ProjectResult]) -> str:
    """The Markdown table and, below it, every convex-sim error and hang."""
    rows = ["| project | convex | loads | calls | ok | app errors | convex-sim errors | hangs | skipped |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.status != "ran":
            rows.append(f"| {r.name} | {r.convex} | {r.status}: {_cell(r.reason)} | | | | | | |")
            continue
        calls = [c for c in r.calls if c["call"] != "load"]
        rows.append(f"| {r.name} | {r.convex} | {'yes' if r.loads else 'no'} | {len(calls)} | "
                    f"{r.count(OK)} | {r.count(APP)} | {r.count(SIM)} | {r.count(HANG)} | "
                    f"{r.count(SKIPPED)} |")
    out = ["\n".join(rows), ""]
    problems = [(r, c) for r in results for c in r.calls if c.get("kind") in (SIM, HANG)]
    out.append(f"## convex-sim errors and hangs ({len(problems)})\n")
    if not problems:
        out.append("None.\n")
    for r, c in problems:
        out.append(f"### {r.name}: `{c['call']}`\n")
        out.append(f"{c.get('kind')}: {c.get('why', '')}\n")
        cause = f"caused by {c['cause']}" if c.get("cause") else ""
        text = "\n".join(x for x in (f"{c.get('type', '')}: {c.get('message', '')}", cause,
                                     c.get("stack", ""), c.get("notes", "")) if x)
        out.append("```\n" + first_lines(text, 12) + "\n```\n")
    return "\n".join(out)


def _cell(text: str) -> str:
    return first_lines(text, 1).replace("|", "\\|")[:80]


DOC_HEADER = """# The corpus

`tools/corpus.py` runs the real public Convex projects listed in `corpus/manifest.toml`
(see `corpus/README.md`) through convex-sim: it loads each with
`ConvexSim.from_project(path, seed=0)` and calls every query, mutation and action (public and
internal) with one deterministic example of arguments drawn from the function's own
validator, every HTTP route, every cron, and then advances the clock a day so that scheduled
functions run. Regenerate this page with `make corpus` or
`.venv/bin/python tools/corpus.py --write docs/corpus.md`.

Columns:

- **convex**: the version of the `convex` package the project installs.
- **loads**: whether `from_project` succeeded (a load failure is a convex-sim error).
- **calls**: functions, routes, crons and failed scheduled jobs exercised.
- **ok**: calls that returned.
- **app errors**: what real Convex would raise for the same inputs: a `ConvexError`, an error
  thrown by the app's own code (often "not authenticated": calls carry no identity), a
  document that fails the schema, an invalid ID, an outbound request refused (no network).
- **convex-sim errors**: convex-sim failed: an unsupported syscall, a bundling error, an
  engine error (`SyntaxError`, `ReferenceError`, "not a function"), a `TypeError` inside the
  `convex` package or a library, arguments drawn from a validator that its own validator then
  rejects, a Python exception that is not a `ConvexSimError`, an HTTP body lost on the way out.
- **hangs**: a call that made no progress within the time limit.
- **skipped**: functions whose arguments need IDs of a table no call filled.

"""


def write_doc(path: Path, results: list[ProjectResult]) -> None:
    """The page: the column notes, then the table (the corpus root written as ``<corpus>``)."""
    text = table(results).replace(str(corpus_root()), "<corpus>")
    path.write_text(DOC_HEADER + "## Results\n\n" + text + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="projects to run (default: every fetched one)")
    parser.add_argument("--write", type=Path, help="write the table as Markdown to this file")
    parser.add_argument("--json", type=Path, help="write every result as JSON to this file")
    parser.add_argument("--no-install", action="store_true", help="skip projects not installed")
    parser.add_argument("--checkout", metavar="URL_TEMPLATE",
                        help="first clone absent projects from URL_TEMPLATE "
                             "(e.g. https://github.com/{repo}.git)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--skip", action="append", default=[], help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.worker:
        return worker_main(options.worker, options.skip)
    entries = load_manifest()
    unknown = set(options.names) - {e.name for e in entries}
    if unknown:
        parser.error(f"unknown project(s): {', '.join(sorted(unknown))}")
    chosen = [e for e in entries if not options.names or e.name in options.names]
    results = []
    for entry in chosen:
        if options.checkout:
            checkout(entry, options.checkout)
        started = time.monotonic()
        result = run_project(entry, do_install=not options.no_install)
        print(f"{entry.name}: {result.status} {result.reason.splitlines()[0] if result.reason else ''}"
              f"({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
        results.append(result)
    print(table(results))
    if options.write:
        write_doc(options.write, results)
    if options.json:
        options.json.write_text(json.dumps([asdict(r) for r in results], indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
