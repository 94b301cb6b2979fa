"""The embedded JavaScript engine: one QuickJS context per bundle, shared by every simulator.

Why quickjs-ng (PyPI ``edwh-quickjs-ng``): JavaScript calls Python *synchronously*
(``Convex.syscall`` must return a value), Python decides exactly when each
pending promise settles and runs the job queue itself
(``execute_pending_job``), nothing runs on a background thread or timer,
a context loads a bundle in a few milliseconds, it parses ES2024 (class
static blocks, ``#x in o``, a method named ``static``), and it has time,
memory and stack limits. docs/typescript.md ("Engine choice") has the
measured comparison (``benchmarks/bench_engines.py``). The extension module
``_quickjs`` is used directly: the package's ``quickjs`` wrapper starts a
thread pool at import.

Contract: a bundle is loaded once per process and its context is shared by
every :class:`~convex_sim.ConvexSim` made from that project (module-level
state in the app's JavaScript is shared too, as it is between calls in one
Convex isolate); the database never is. An *execution* is one call of one
function. Executions never interleave inside a job-queue drain: each drain
runs to quiescence for the execution that started it, so every syscall made
during a drain belongs to that execution.
"""

from __future__ import annotations

import base64
import collections
import functools
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import _quickjs
import orjson

from ..errors import (
    AppCodeError,
    ConvexError,
    ConvexSimError,
    OutOfMemoryError,
    UserTimeoutError,
    add_note,
    hide_simulator_frames,
)
from ..limits import UserCodeLimits, out_of_memory, user_timeout
from ..values import from_json, to_json
from . import abi
from .bundler import Bundle
from .interrupts import SIGINT, install_interrupt_handler, memory_gauge, stack_bytes
from .misuse import ctx_misuse
from .sourcemap import Frame, SourceMap
from .webapi import polyfill_script

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours

#: ``sandbox.js`` (shared with the Node.js host of "use node" actions), ``web.js`` (the web
#: APIs written here), then ``prelude.js``; the npm polyfills (:mod:`.webapi`) come first.
PRELUDE = "".join((Path(__file__).parent / name).read_text("utf-8")
                  for name in ("sandbox.js", "web.js", "prelude.js"))
#: What ``crypto.subtle`` digests and signs with (web.js).
HASHES = {"SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def new_context() -> _quickjs.Context:
    """A quickjs-ng context; a clear error where the older PyPI ``quickjs`` (same module
    name) shadows it."""
    ctx = _quickjs.Context()
    if ctx.eval("typeof Array.prototype.findLast") != "function":
        raise ConvexSimError(
            "convex-sim needs the quickjs-ng engine (PyPI edwh-quickjs-ng), but an older "
            "QuickJS was imported: run `pip uninstall quickjs python-quickjs-ng` and "
            "`pip install --force-reinstall edwh-quickjs-ng`.")
    return ctx


def crypto(op: str, algorithm: str, key: str, data: str) -> str:
    """``crypto.subtle`` for web.js: a digest or an HMAC of base64 ``data``, as base64."""
    name = HASHES[algorithm]
    raw = base64.b64decode(data)
    if op == "digest":
        return base64.b64encode(hashlib.new(name, raw).digest()).decode()
    return base64.b64encode(hmac.new(base64.b64decode(key), raw, name).digest()).decode()


def dumps(value: Any) -> str:
    """JSON text for the engine (orjson: the syscall payloads cross over on every call)."""
    return orjson.dumps(value).decode()


loads = abi.loads  # orjson, and what it refuses (a lone surrogate) for the value checks


class JsError(AppCodeError):
    """An exception thrown by app JavaScript: the JS name and message, and the stack mapped
    to the project's ``.ts`` files."""

    def __init__(self, function: str, name: str, message: str, stack: str) -> None:
        self.function, self.js_name, self.js_message, self.stack = function, name, message, stack
        text = (f"Uncaught {name}: {message}" if name else f"Uncaught {message}") + (f"\n{stack}" if stack else "")
        super().__init__(f"{function}: {text}")
        if name == "RangeError" and message == STACK_OVERFLOW:
            self.add_note("JavaScript ran out of stack: unbounded recursion, or a cyclic or too "
                          "deeply nested value (the `convex` package converts values recursively).")


#: What V8 (and so Convex) and quickjs-ng say when JavaScript runs out of stack.
STACK_OVERFLOW = "Maximum call stack size exceeded"
#: What quickjs-ng throws when an allocation would pass the memory limit.
OUT_OF_MEMORY = ("InternalError", "out of memory")


class JsStuckError(ConvexSimError):
    """A function awaits a promise that nothing will ever settle."""


class SyscallHost(Protocol):
    """What answers one execution's syscalls (see :mod:`convex_sim.js.abi`)."""

    function: str

    def sync(self, op: str, payload: Any) -> Any: ...

    def immediate(self, op: str, payload: Any) -> tuple[bool, Any]: ...

    def seed_words(self) -> str: ...

    def log(self, level: str, text: str) -> None: ...

    def now_ms(self) -> float: ...


class Execution:
    """One call of one JavaScript function, from start to outcome."""

    __slots__ = ("budget", "call_sites", "deadline", "errors", "host", "id", "kind", "limits", "outcome",
                 "pending", "seconds", "sites")

    def __init__(self, execution_id: int, host: SyscallHost, kind: str) -> None:
        self.id, self.host, self.kind = execution_id, host, kind
        self.outcome: str | None = None                      # "=json" or "!error json"
        self.pending: collections.deque[tuple[str, str, Any]] = collections.deque()
        self.errors: list[BaseException] = []                # Python errors handed to JS
        self.sites: dict[int, str] = {}                      # errors' index -> JS stack of the call
        self.call_sites: dict[str, str] = {}                 # pending request -> its stack (Node)
        self.limits = limits_of(host)
        #: The time limit, the CPU time left of it, and (while it runs) when it ends
        #: (``time.thread_time()``); the time Python spends answering syscalls moves it on.
        self.seconds = self.budget = self.limits.seconds_for(kind)
        self.deadline = 0.0


def limits_of(host: SyscallHost) -> UserCodeLimits:
    """The user-code limits of the simulator whose ``ctx`` the host serves (Convex's if none)."""
    runtime = getattr(getattr(host, "ctx", None), "_runtime", None)
    return UserCodeLimits.of(getattr(runtime, "user_code_limits", None))


def _host_time(callback: Callable[..., Any]) -> Callable[..., Any]:
    """A callback from JavaScript into Python: the time it takes is the simulator's, not the
    app's, so the running execution's deadline moves on by as much."""

    @functools.wraps(callback)
    def timed(self: Bridge, *args: Any) -> Any:
        execution = self._stack[-1] if self._stack else None
        started = time.thread_time()
        try:
            return callback(self, *args)
        finally:
            if execution is not None:
                execution.deadline += time.thread_time() - started

    return timed


def _ends_the_call(exc: BaseException) -> bool:
    """An error that ends the whole call stack instead of reaching app code (Convex's isolate
    termination: a timeout, running out of memory; and Ctrl-C)."""
    return isinstance(exc, UserTimeoutError | OutOfMemoryError) or not isinstance(exc, Exception)


def error_payload(exc: BaseException) -> str:
    """The JSON a rejected syscall carries into JavaScript (``data`` for ConvexError)."""
    if isinstance(exc, ConvexError):
        return dumps({"message": str(exc), "data": to_json(exc.data)})
    return dumps({"message": str(exc)})


class Bridge:
    """What both JavaScript hosts share (this engine and Node.js for "use node" actions, see
    :mod:`~convex_sim.js.node_runner`): answering an execution's syscalls through its host
    and reading its outcome. A subclass sets ``source_map`` and runs the executions, keeping
    the running ones on ``_stack``."""

    source_map: SourceMap

    def __init__(self) -> None:
        self._stack: list[Execution] = []
        self._executions: dict[int, Execution] = {}
        self._ids = itertools.count(1)
        self._requests = itertools.count(1)
        #: An error that ends every running execution (see ``_ends_the_call``), until the
        #: outermost one has unwound.
        self._abort: BaseException | None = None

    # -- callbacks from JavaScript (never raise into the engine) ---------------------
    def _handed_to_js(self, execution: Execution, exc: BaseException) -> str:
        """The rejection a syscall's error becomes; an error that ends the call also stops
        the JavaScript that would see it."""
        if _ends_the_call(exc) and self._abort is None:
            self._abort = exc
        execution.errors.append(exc)
        return "!" + error_payload(exc)

    @_host_time
    def _on_sync(self, op: str, payload: str) -> str:
        execution = self._stack[-1]
        try:
            return "=" + dumps(execution.host.sync(op, loads(payload)))
        except BaseException as exc:
            return self._handed_to_js(execution, exc)

    @_host_time
    def _on_async(self, op: str, payload: str) -> str:
        execution = self._stack[-1]
        try:
            done, value = execution.host.immediate(op, loads(payload))
        except BaseException as exc:
            return self._handed_to_js(execution, exc)
        if done:
            return "=" + dumps(value)
        request_id = str(next(self._requests))
        execution.pending.append((request_id, op, value))
        return "~" + request_id

    @_host_time
    def _on_where(self, stack: str) -> None:
        """Where the app made the syscall that just failed (a JavaScript stack)."""
        if self._stack and self._stack[-1].errors:
            execution = self._stack[-1]
            execution.sites[len(execution.errors) - 1] = stack

    def _on_done(self, execution_id: int, outcome: str) -> None:
        execution = self._executions.pop(execution_id, None)
        if execution is not None:
            execution.outcome = outcome

    @_host_time
    def _on_log(self, level: str, text: str) -> None:
        if self._stack:
            self._stack[-1].host.log(level, text)

    @_host_time
    def _on_seed(self, _execution_id: int) -> str:
        try:
            return self._stack[-1].host.seed_words()
        except Exception:  # an exception must not cross into the engine: JS throws instead
            return ""

    # -- outcomes ----------------------------------------------------------------------------
    def result(self, execution: Execution) -> Any:
        """The execution's value (Convex JSON decoded), or raise what it threw."""
        outcome = execution.outcome
        if outcome is None:
            raise JsStuckError(
                f"{execution.host.function} did not finish: it awaits a promise that nothing "
                "will ever settle (in a query or mutation every ctx call settles at once).")
        if outcome[0] == "=":
            return abi.result_value(execution.host.function, outcome[1:])
        raise self._error(execution, json.loads(outcome[1:]))

    def raw_result(self, execution: Execution) -> str:
        """The execution's JSON text (HTTP responses), or raise what it threw."""
        if execution.outcome is not None and execution.outcome[0] == "=":
            return execution.outcome[1:]
        self.result(execution)
        raise AssertionError("unreachable")  # pragma: no cover

    def site_of(self, execution: Execution, request_id: str) -> str:
        """Where the app made pending call ``request_id`` (a JavaScript stack), or ""."""
        return execution.call_sites.get(request_id, "")

    def located(self, exc: BaseException, stack: str, function: str) -> BaseException:
        """``exc`` with a note naming where in the app's files it came from (the call site
        first): ``at convex/bank.ts:12:7 (transfer)``."""
        frames = self.source_map.app_frames(stack)
        if frames:
            add_note(exc, "\n".join(f"at {f.where()} ({frame_name(f, function)})" for f in frames))
        return exc

    def _error(self, execution: Execution, error: dict) -> BaseException:
        function = execution.host.function
        if (error.get("name"), error.get("message")) == OUT_OF_MEMORY:
            return out_of_memory(function, execution.limits.memory_bytes)
        raw = error.get("stack", "")
        stack = self.source_map.map_stack(raw, app_only=True)
        if error.get("convexError"):
            data = error.get("data")
            exc: BaseException = ConvexError(from_json(json.loads(data)) if isinstance(data, str) else None)
            exc.js_stack = stack  # type: ignore[attr-defined]
            return self.located(exc, raw, function)
        for index, original in enumerate(execution.errors):  # an error the host raised, rethrown
            if str(original) == error.get("message"):
                # its Python frames say nothing to the app: the note names the app's call
                return self.located(original.with_traceback(None), execution.sites.get(index, raw), function)
        invalid = abi.value_error(function, error.get("message", ""), stack)
        if invalid is not None:   # the `convex` package refused a value: as for a Python app
            return invalid
        misuse = self._misuse(execution, error.get("name", ""), error.get("message", ""), raw)
        if misuse is not None:
            return self.located(misuse, raw, function)
        exc = JsError(function, error.get("name", "Error"), error.get("message", ""), stack)
        if "thrown" in error:  # not an Error: V8's words say little, so the value comes too
            exc.add_note(f"The thrown value: {error['thrown']}")
        return exc

    def _misuse(self, execution: Execution, name: str, message: str, stack: str) -> ConvexSimError | None:
        """The misuse behind an uncaught error, where the error alone says little; None if none."""
        return None


def frame_name(frame: Frame, function: str) -> str:
    """How a note names a frame's function: the export's name for the handler itself."""
    if frame.name in ("handler", "<anonymous>", "anonymous", ""):
        return function.rsplit(":", 1)[-1]
    return frame.name


class Engine(Bridge):
    """A quickjs-ng context with the web APIs, the prelude and one bundle loaded."""

    def __init__(self, bundle: Bundle, env: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.bundle = bundle
        self.source_map = SourceMap(bundle.source_map, bundle.cache_dir)
        self._ctx = ctx = new_context()
        # JavaScript stops when this says so: a timeout, Ctrl-C, or an error ending the call
        self._interrupt_handler = install_interrupt_handler(ctx, self._should_stop)
        self._memory_used = memory_gauge(ctx)
        self._aborted: list[Execution] = []         # executions the abort ended, to drop
        self._stack_bytes = stack_bytes()           # of the thread that runs the outermost call
        ctx.set_max_stack_size(self._stack_bytes)   # measured from where each call enters
        # the host's own scripts start below the bundle's last line, so no frame of theirs
        # maps to a line of the app (the engine names every script <input>)
        self._lines: list[str] | None = None
        below = "\n" * (bundle.code.count("\n") + 1)
        ctx.eval(below + polyfill_script())
        ctx.add_callable("__py_crypto", crypto)
        ctx.add_callable("__py_sync", self._on_sync)
        ctx.add_callable("__py_async", self._on_async)
        ctx.add_callable("__py_done", self._on_done)
        ctx.add_callable("__py_log", self._on_log)
        ctx.add_callable("__py_seed", self._on_seed)
        ctx.add_callable("__py_where", self._on_where)
        ctx.eval(below + PRELUDE)
        # process.env is the deployment's before any module's top level runs (auth.config.ts
        # reads CONVEX_SITE_URL there)
        self._set_env: Callable[..., Any] = ctx.eval("__cs.setEnv")
        self._env: dict[str, str] = dict(env or {})
        self._set_env(json.dumps(self._env, sort_keys=True))
        with SIGINT:
            try:
                ctx.eval(bundle.code)
            except _quickjs.JSException as exc:
                if SIGINT.caught:
                    raise KeyboardInterrupt from None
                raise ConvexSimError(f"Loading the bundle of {bundle.functions_dir} failed: "
                                     f"{self.source_map.map_stack(str(exc))}") from None
            self._drain_all()
        self._invoke: Callable[..., Any] = ctx.eval("__cs.invoke")
        self._settle: Callable[..., Any] = ctx.eval("__cs.settle")
        self._enter: Callable[..., Any] = ctx.eval("__cs.enter")
        self._fire_timer: Callable[..., Any] = ctx.eval("__cs.fireTimer")
        self._next_timer: Callable[..., Any] = ctx.eval("__cs.nextTimer")
        self._forget: Callable[..., Any] = ctx.eval("__cs.forget")
        self._site_of: Callable[..., Any] = ctx.eval("__cs.siteOf")
        self.manifest: dict = json.loads(ctx.eval("__cs.manifest()"))
        # the memory limit counts from the loaded bundle: what one call may add to it
        self._loaded_bytes = int(ctx.memory()["malloc_size"])
        self._memory_limit = 0    # where the interrupt handler stops a call (if it can read it)

    # -- running executions ----------------------------------------------------------------
    def set_env(self, env: dict[str, str]) -> None:
        """``process.env`` for the app (Convex deployment environment variables)."""
        if env != self._env:
            self._env = dict(env)
            self._set_env(json.dumps(env, sort_keys=True))

    def start(self, host: SyscallHost, kind: str, path: str, args_json: str, now_ms: float,
              route: str | None = None) -> Execution:
        """Begin an execution (``kind``: query, mutation, action or http) and run it as far
        as it goes without help from the host. A query or mutation that has not finished
        by then never will: it is dropped at once (its result says so)."""
        execution = Execution(next(self._ids), host, kind)
        self._executions[execution.id] = execution
        self._run(execution, lambda: self._invoke(execution.id, kind, path, args_json, now_ms, route))
        if kind in ("query", "mutation"):
            self.forget(execution)
        return execution

    def settle(self, execution: Execution, request_id: str, result: str, now_ms: float) -> None:
        """Answer a pending async syscall (``"=json"`` or ``"!error"``) and run on."""
        self._run(execution, lambda: self._settle(request_id, result, execution.id, now_ms))

    def fire_timer(self, execution: Execution, now_ms: float) -> bool:
        """Run the execution's earliest virtual timer; False if it has none."""
        fired = [False]

        def fire() -> None:
            fired[0] = bool(self._fire_timer(execution.id, now_ms))

        self._run(execution, fire)
        return fired[0]

    def next_timer_due(self, execution: Execution) -> float | None:
        """When the execution's earliest virtual timer is due (ms), or None if it has none."""
        due = self._next_timer(execution.id)
        return None if due < 0 else float(due)

    def forget(self, execution: Execution) -> None:
        """Drop an execution that will not go on (stuck, or abandoned by its driver)."""
        if execution.outcome is None:
            self._executions.pop(execution.id, None)
            self._forget(execution.id)

    def site_of(self, execution: Execution, request_id: str) -> str:
        return str(self._site_of(request_id))

    def _misuse(self, execution: Execution, name: str, message: str, stack: str) -> ConvexSimError | None:
        if self._lines is None:
            self._lines = self.bundle.code.split("\n")
        kind = "action" if execution.kind == "http" else execution.kind
        return ctx_misuse(kind, execution.host.function, name, message, stack, self.source_map, self._lines)

    # -- limits ---------------------------------------------------------------------------------
    def _should_stop(self) -> bool:
        """The interrupt handler's question, asked while JavaScript runs: stop it now?"""
        if self._abort is None:
            if SIGINT.caught:
                self._abort = KeyboardInterrupt()
            elif self._stack:
                running = self._stack[-1]
                if time.thread_time() > running.deadline:
                    self._abort = user_timeout(running.host.function, running.seconds)
                elif self._memory_used is not None and self._memory_used() > self._memory_limit:
                    self._abort = out_of_memory(running.host.function, running.limits.memory_bytes)
        return self._abort is not None

    def _run(self, execution: Execution, call: Callable[[], Any]) -> None:
        """Run ``call`` (JavaScript) and the jobs it queues for ``execution``, within its
        limits. An error that ends the call (``_abort``) unwinds every execution on the stack;
        the outermost one then clears the engine and raises it."""
        outermost = not self._stack
        if outermost:
            SIGINT.__enter__()
            self._use_limits(execution)
        else:   # its stack is measured from here: keep the whole well inside the thread's
            self._ctx.set_max_stack_size(self._stack_bytes // 4)
        self._stack.append(execution)
        execution.deadline = time.thread_time() + execution.budget
        try:
            try:
                call()
                self._drain_all()
            except _quickjs.JSException as exc:
                if self._abort is None:
                    raise self._engine_error(execution, str(exc)) from None
            if self._abort is not None:
                self._aborted.append(execution)
                if not outermost:
                    raise self._abort
        finally:
            execution.budget = execution.deadline - time.thread_time()
            self._stack.pop()
            if outermost:
                self._end_outermost()
            elif self._abort is None:
                outer = self._stack[-1]
                self._enter(outer.id, outer.host.now_ms())

    def _use_limits(self, execution: Execution) -> None:
        """The stack and memory limits for an outermost execution. The interrupt handler
        stops a call past its memory limit; quickjs-ng's own limit, as far again above it,
        refuses a single allocation too big for the rest (a catchable error, as V8's)."""
        self._stack_bytes = stack_bytes()
        self._ctx.set_max_stack_size(self._stack_bytes)
        limit = self._loaded_bytes + execution.limits.memory_bytes
        if limit != self._memory_limit:
            extra = execution.limits.memory_bytes if self._memory_used is not None else 0
            self._ctx.set_memory_limit(limit + extra)
            self._memory_limit = limit

    def _end_outermost(self) -> None:
        """After the outermost execution: if an error ended the call, run out the jobs left
        (each stopped at once), drop the executions it ended, and raise it."""
        abort, self._abort = self._abort, None
        try:
            if abort is not None:
                self._abort = abort
                self._drain_all(stopping=True)
                self._abort = None
                aborted, self._aborted = self._aborted, []
                for execution in aborted:
                    self.forget(execution)
                if isinstance(abort, OutOfMemoryError):
                    self._ctx.gc()
        finally:
            SIGINT.__exit__()
        if SIGINT.caught:
            raise KeyboardInterrupt
        if abort is not None:
            raise abort.with_traceback(None)

    def _engine_error(self, execution: Execution, text: str) -> ConvexSimError:
        """An exception thrown past the prelude: out of memory, or a bug in the host bridge."""
        function = execution.host.function
        if text.startswith(": ".join(OUT_OF_MEMORY)):
            self._ctx.gc()
            return out_of_memory(function, execution.limits.memory_bytes)
        return ConvexSimError(f"{function}: {self.source_map.map_stack(text)}")

    def _drain_all(self, *, stopping: bool = False) -> None:
        step = self._ctx.execute_pending_job
        while True:
            try:
                if not step():
                    return
            except _quickjs.JSException:
                if not stopping:
                    raise



_ENGINES: dict[str, Engine] = {}


def loaded_with(bundle: Bundle, env: Mapping[str, str] | None) -> str:
    """The key of ``bundle`` loaded with ``process.env`` ``env``: a module's top level may read
    the environment, so each environment loads the bundle once (engines and projects alike)."""
    return f"{bundle.digest}\0{json.dumps(dict(env or {}), sort_keys=True)}"


def engine_for(bundle: Bundle, env: Mapping[str, str] | None = None) -> Engine:
    """The shared engine of ``bundle`` loaded with ``env`` as ``process.env`` (on first use)."""
    key = loaded_with(bundle, env)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = Engine(bundle, env)
    return engine
