"""``"use node"`` actions, run in a real Node.js process.

A module whose directive prologue says ``"use node"`` runs in Node.js on Convex, and may
export actions only. The bundler builds such modules into one CommonJS file
(``Bundle.node_file``); :class:`NodeEngine` runs it in a long-lived ``node`` child
(``node_host.cjs``), started on the first call of a node action and shared by every
simulator of the project, and offers the execution interface of
:class:`~convex_sim.js.engine.Engine`, so :class:`~convex_sim.js.project.JsFunction`
drives a node action step by step exactly like an embedded one.

The child speaks the embedded engine's syscall ops and payloads (answered by the same
:class:`~convex_sim.js.abi.Host`), one JSON message a line over two pipes of its own.
``Math.random``, ``Date``, crypto randomness and timers come from ``sandbox.js``, the
embedded engine's, seeded and clocked by Python per execution. Every wait on the child has
a timeout; a child that dies or stops answering is reported with its stderr, and the next
call starts a new one.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import ConvexSimError, hide_simulator_frames
from ..limits import NODE_MEMORY_BYTES, out_of_memory, user_timeout
from .bundler import Bundle, BundleError
from .engine import Bridge, Execution, SyscallHost, loaded_with
from .sourcemap import SourceMap

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours

NODE_HOST = Path(__file__).with_name("node_host.cjs")
#: The oldest Node.js that Convex's Node.js runtime offers.
MIN_NODE_MAJOR = 18
#: Longest convex-sim waits for the Node.js process to answer a message that runs no app code
#: (loading, ``process.env``, dropping a call); a call itself may take its time limit.
REPLY_TIMEOUT_S = 120.0
#: Environment the child starts with (the app's own ``process.env`` is the simulator's env).
CHILD_ENV = ("PATH", "HOME", "LANG", "SYSTEMROOT")


class NodeUnavailableError(ConvexSimError):
    """A ``"use node"`` action was called where no usable Node.js is installed."""


class NodeProcessError(ConvexSimError):
    """The Node.js process running ``"use node"`` actions died or stopped answering."""


def _node_missing(function: str, found: str | None = None) -> NodeUnavailableError:
    have = f"found Node.js {found}" if found else "`node` is not on PATH"
    return NodeUnavailableError(
        f'{function} is a "use node" action, which runs in Node.js, but {have}: install Node.js '
        f"{MIN_NODE_MAJOR} or newer (https://nodejs.org, or your package manager's nodejs) to run it.")


def _child_env() -> dict[str, str]:
    """The environment ``node`` starts with: a few of ours, and UTC as on Convex."""
    return {**{k: os.environ[k] for k in CHILD_ENV if k in os.environ}, "TZ": "UTC"}


class _Child:
    """One ``node node_host.cjs`` process serving a node bundle."""

    def __init__(self, node: str, bundle_file: Path, cwd: Path, env: dict[str, str],
                 memory_bytes: int) -> None:
        #: Node's heap limit (``--max-old-space-size``): past it, Node.js exits.
        self.memory_bytes = memory_bytes
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()
        # the child's own stdout and stderr (closed by close())
        self.output = tempfile.TemporaryFile()  # noqa: SIM115
        child_env = _child_env()
        try:
            self.process = subprocess.Popen(
                [node, f"--max-old-space-size={max(1, memory_bytes >> 20)}", str(NODE_HOST),
                 f"--in={to_child}", f"--out={from_child}", str(bundle_file)],
                cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.output, stderr=self.output,
                pass_fds=(to_child, from_child), env=child_env)
        finally:
            os.close(to_child)
            os.close(from_child)
        self._buffer = b""
        self.eof = False                              # the child closed its end
        _CHILDREN.append(self)
        self.send({"op": "load", "env": env})

    def send(self, message: Any) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        try:
            while data:
                data = data[os.write(self._w, data):]
        except OSError:
            pass  # the child is gone: the next read reports it

    def read(self, timeout: float) -> dict | None:
        """The next message, or None if the child exited or did not answer in time."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._r], [], [], remaining)[0]:
                return None
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                self.eof = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def tail(self, limit: int = 2000) -> str:
        """The end of what the child wrote to stdout and stderr."""
        self.output.seek(0, os.SEEK_END)
        size = self.output.tell()
        self.output.seek(max(0, size - limit))
        return self.output.read().decode("utf-8", "replace").strip()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for fd in (self._w, self._r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.output.close()
        if self in _CHILDREN:
            _CHILDREN.remove(self)


_CHILDREN: list[_Child] = []


@atexit.register
def _kill_children() -> None:
    for child in list(_CHILDREN):
        child.close()


class NodeEngine(Bridge):
    """The Node.js side of a bundle: runs its ``"use node"`` actions, step by step."""

    def __init__(self, bundle: Bundle, env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.bundle = bundle
        assert bundle.node_file is not None, "a bundle without \"use node\" modules"
        self.node_file: Path = bundle.node_file
        self.source_map = SourceMap(bundle.node_source_map or {}, bundle.cache_dir)
        self._frame = re.compile(r"\(?" + re.escape(str(self.node_file)) + r":(\d+):(\d+)\)?")
        self._child: _Child | None = None
        self._timers: dict[int, float] = {}
        self._owners: dict[int, _Child] = {}       # the child each execution runs in
        self._env: dict[str, str] = dict(env or {})   # process.env at load, then per call
        self._manifest: dict | None = None

    # -- the manifest: computed once per bundle by a short-lived node, cached beside it --------
    @property
    def manifest(self) -> dict:
        """``{"functions": [...]}`` as the embedded engine's manifest lists them."""
        if self._manifest is None:
            self._manifest = self._load_manifest()
        return self._manifest

    def _load_manifest(self) -> dict:
        cached = Path(f"{self.node_file}.manifest.json")
        if cached.exists():
            return json.loads(cached.read_text("utf-8"))
        node = shutil.which("node")
        if node is None:  # the actions are still registered: calling one says what to install
            return {"functions": exported_actions(self.node_file.read_text("utf-8"))}
        try:
            proc = subprocess.run([node, str(NODE_HOST), "--manifest", str(self.node_file)],
                                  cwd=self.bundle.project, capture_output=True, text=True,
                                  timeout=REPLY_TIMEOUT_S, check=False,
                                  env=_child_env())
        except subprocess.TimeoutExpired:
            raise BundleError(f"Loading the \"use node\" modules of {self.bundle.project} took "
                              f"more than {REPLY_TIMEOUT_S:.0f} s.") from None
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise BundleError(f"Loading the \"use node\" modules of {self.bundle.project} failed:\n"
                              f"{self.map_stack(proc.stderr.strip())}")
        out = json.loads(lines[-1])
        if not out["ok"]:
            error = json.loads(out["error"])
            raise BundleError(f"{error['message']}\n{self.map_stack(error.get('stack', ''))}".strip())
        manifest = {"functions": out["functions"]}
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}")
        tmp.write_text(json.dumps(manifest), "utf-8")
        os.replace(tmp, cached)
        return manifest

    def map_stack(self, stack: str, *, app_only: bool = False) -> str:
        """Node's frames in the node bundle, mapped to the project's files."""
        return self.source_map.map_stack(self._frame.sub(r"(<input>:\1:\2)", stack), app_only=app_only)

    # -- the child ---------------------------------------------------------------------------
    def _ensure_child(self, function: str, memory_bytes: int | None = None) -> _Child:
        """The running child; a new one if none runs, or (when no call is under way in it)
        if it was started with another memory limit than ``memory_bytes``."""
        child = self._child
        if child is not None and child.process.poll() is None and (
                memory_bytes in (None, child.memory_bytes) or child in self._owners.values()):
            return child
        if child is not None:
            child.close()
            self._child = None
        node = shutil.which("node")
        if node is None:
            raise _node_missing(function)
        child = _Child(node, self.node_file, self.bundle.project, self._env,
                       memory_bytes or NODE_MEMORY_BYTES)
        ready = child.read(REPLY_TIMEOUT_S)
        if ready is None or ready.get("t") != "ready":
            self._fail(child, function, "did not start")
        if "error" in ready:  # type: ignore[operator]
            child.close()
            error = json.loads(ready["error"])  # type: ignore[index]
            raise ConvexSimError(f"{function}: loading the \"use node\" modules failed: "
                                 f"{error['name']}: {error['message']}\n"
                                 f"{self.map_stack(error.get('stack', ''), app_only=True)}".rstrip())
        version = str(ready.get("node", "0"))  # type: ignore[union-attr]
        if int(version.split(".")[0]) < MIN_NODE_MAJOR:
            child.close()
            raise _node_missing(function, version)
        self._child = child
        return child

    def _fail(self, child: _Child, function: str, what: str) -> None:
        if child.eof:  # it is exiting: its exit code says more than a timeout would
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
        code = child.process.poll()
        state = f"exited with code {code}" if code is not None else what
        tail = child.tail()
        self._discard(child)
        if code is not None and "JavaScript heap out of memory" in tail:
            raise out_of_memory(function, child.memory_bytes)
        raise NodeProcessError(
            f"{function}: the Node.js process running \"use node\" actions {state}"
            + (f"; its output ends with:\n{tail}" if tail else "."))

    def _discard(self, child: _Child) -> None:
        """Stop ``child`` (the next call starts a new one; calls under way in it are lost)."""
        child.close()
        if self._child is child:
            self._child = None

    def _command(self, execution: Execution, message: dict, *, timed: bool = True) -> dict:
        """Send one command for ``execution`` and serve the child's syscalls until it is idle.
        While the child works on a ``timed`` command, the execution's time runs: past its
        limit, the child is stopped (it may be in an endless loop) and the call fails."""
        function = execution.host.function
        child = self._ensure_child(function)
        if self._owners.get(execution.id) is not child:
            raise NodeProcessError(f"{function}: the Node.js process running it was restarted "
                                   "(after a failure of another call), so this call was lost.")
        child.send(message)
        self._stack.append(execution)
        try:
            while True:
                reply = self._reply(child, execution, timed)
                kind = reply["t"]
                if kind == "idle":
                    self._timers[execution.id] = reply["timer"]  # type: ignore[index]
                    return reply  # type: ignore[return-value]
                if kind == "log":
                    self._on_log(reply["level"], reply["text"])  # type: ignore[index]
                elif kind == "done":
                    self._on_done(reply["id"], self._mapped_outcome(reply["outcome"]))  # type: ignore[index]
                elif kind == "ok":
                    return reply  # type: ignore[return-value]
                else:
                    child.send({"r": self._answer(kind, reply)})  # type: ignore[arg-type]
                    if self._abort is not None:   # Ctrl-C (or the like) while Python answered
                        abort, self._abort = self._abort, None
                        self._discard(child)         # the child is mid-call: it cannot go on
                        raise abort
        except BaseException as exc:
            if not isinstance(exc, ConvexSimError):   # the child is mid-call: it cannot go on
                self._discard(child)
            raise
        finally:
            self._stack.pop()

    def _reply(self, child: _Child, execution: Execution, timed: bool) -> dict:
        """The child's next message; its wait counts against a ``timed`` execution's limit."""
        function = execution.host.function
        if not timed:
            reply = child.read(REPLY_TIMEOUT_S)
            if reply is None:
                self._fail(child, function, f"did not answer within {REPLY_TIMEOUT_S:.0f} s")
            return reply  # type: ignore[return-value]
        started = time.monotonic()
        try:
            reply = child.read(max(execution.budget, 0.0))
        finally:
            execution.budget -= time.monotonic() - started
        if reply is None:
            if not child.eof and child.process.poll() is None:   # still working: out of time
                self._discard(child)
                raise user_timeout(function, execution.seconds)
            self._fail(child, function, "stopped answering")
        return reply  # type: ignore[return-value]

    def _answer(self, kind: str, request: dict) -> str:
        if kind == "sync":
            return self._on_sync(request["op"], request["payload"])
        if kind == "async":
            answer = self._on_async(request["op"], request["payload"])
            site, execution = self._frame.sub(r"(<input>:\1:\2)", request.get("site") or ""), self._stack[-1]
            if answer[0] == "~":      # a step: named with its call site if it fails or dangles
                execution.call_sites[answer[1:]] = site
            elif answer[0] == "!":
                execution.sites[len(execution.errors) - 1] = site
            return answer
        if kind == "seed":
            return self._on_seed(request["id"])
        return "!" + json.dumps({"message": f"convex-sim: unknown request {kind!r} from node_host"})

    def _mapped_outcome(self, outcome: str) -> str:
        """A thrown error's stack with the node bundle's path in the embedded engine's form."""
        if outcome[0] != "!":
            return outcome
        error = json.loads(outcome[1:])
        error["stack"] = self._frame.sub(r"(<input>:\1:\2)", error.get("stack") or "")
        return "!" + json.dumps(error)

    # -- the execution interface of Engine ------------------------------------------------------
    def set_env(self, env: dict[str, str]) -> None:
        """``process.env`` for the app; a running child gets it before its next call."""
        if env != self._env:
            self._env = dict(env)
            if self._child is not None and self._child.process.poll() is None:
                self._child.send({"op": "env", "env": self._env})
                if self._child.read(REPLY_TIMEOUT_S) is None:
                    self._fail(self._child, "process.env", "did not answer")

    def start(self, host: SyscallHost, kind: str, path: str, args_json: str, now_ms: float,
              route: str | None = None) -> Execution:
        """Begin an execution of the action at ``path`` and run it as far as it goes."""
        execution = Execution(next(self._ids), host, kind)
        self._executions[execution.id] = execution
        try:
            child = self._ensure_child(host.function, execution.limits.node_memory_bytes)
            self._owners[execution.id] = child
            self._command(execution, {"op": "invoke", "id": execution.id, "kind": kind,
                                      "path": path, "args": args_json, "now": now_ms})
        except BaseException:
            self._executions.pop(execution.id, None)
            self._owners.pop(execution.id, None)
            raise
        return execution

    def settle(self, execution: Execution, request_id: str, result: str, now_ms: float) -> None:
        """Answer a pending async syscall (``"=json"`` or ``"!error"``) and run on."""
        site = execution.call_sites.pop(request_id, "")
        if result[0] == "!" and execution.errors:
            execution.sites[len(execution.errors) - 1] = site
        self._command(execution, {"op": "settle", "id": execution.id, "request": request_id,
                                  "result": result, "now": now_ms})

    def fire_timer(self, execution: Execution, now_ms: float) -> bool:
        """Run the execution's earliest virtual timer; False if it has none."""
        reply = self._command(execution, {"op": "fire", "id": execution.id, "now": now_ms})
        return bool(reply.get("fired"))

    def next_timer_due(self, execution: Execution) -> float | None:
        """When the execution's earliest virtual timer is due (ms), or None if it has none."""
        due = self._timers.get(execution.id, -1)
        return None if due < 0 else float(due)

    def forget(self, execution: Execution) -> None:
        """Drop an execution (finished, or abandoned by its driver)."""
        self._timers.pop(execution.id, None)
        owner = self._owners.pop(execution.id, None)
        if execution.outcome is None:
            self._executions.pop(execution.id, None)
            if owner is not None and owner is self._child and owner.process.poll() is None:
                self._owners[execution.id] = owner
                try:
                    self._command(execution, {"op": "forget", "id": execution.id}, timed=False)
                finally:
                    self._owners.pop(execution.id, None)

    def close(self) -> None:
        """Stop the child (the next call starts a new one)."""
        if self._child is not None:
            self._child.close()
            self._child = None


def exported_actions(code: str) -> list[dict]:
    """The export names of a node bundle's modules, read from esbuild's output (where no
    Node.js can load it): each listed as a public action without validators."""
    found = re.search(r"var modules = \{(.*?)\};", code, re.DOTALL)
    entries = []
    for module, variable in re.findall(r'"([^"]+)": (\w+)', found.group(1) if found else ""):
        block = re.search(r"__export\(" + re.escape(variable) + r", \{(.*?)\}\);", code, re.DOTALL)
        for name in re.findall(r"(\w+): \(\) =>", block.group(1) if block else ""):
            entries.append({"path": f"{module}:{name}", "kind": "action", "visibility": "public",
                            "args": '{"type":"any"}', "returns": "null"})
    return entries


_ENGINES: dict[str, NodeEngine] = {}


def node_engine_for(bundle: Bundle, env: dict[str, str] | None = None) -> NodeEngine:
    """The shared Node.js engine of ``bundle`` loaded with ``process.env`` ``env`` (its child
    starts on the first call)."""
    key = loaded_with(bundle, env)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = NodeEngine(bundle, env)
    return engine
