"""Explored frontends: the app's own client code, its network steered by the explorer.

``Frontend("src/counterPage.js")`` names a file of the project whose default export is
``async (client, ui) => ...``: the page's logic, given a real ``ConvexClient`` (the project's
installed ``convex/browser``, unchanged) and ``ui.event(name)``, a promise that resolves when the
user does ``name``. Passed to ``sim.explore`` beside ``Op``/``Flow``, it becomes lanes, each an
operation of the schedule:

* ``↑``: the server receives the client's next message (a mutation then runs, begin and commit);
* ``↓``: the client receives the server's next message (a query result, a mutation's reply);
* ``page``: the user's next event (``ui.event``) happens;
* ``drop`` (with ``drops=N``): the connection drops, losing what is in flight either way; the
  client's reconnect (its own back-off timer, on its virtual clock) is that lane's next step.

Each direction is in order, as on one WebSocket; everything else is the explorer's choice. The
page runs in the embedded engine with its own virtual clock and seeded ``Math.random``. The
server side speaks the sync protocol through :class:`~.protocol.SyncSession`, as the served
WebSocket does, and pushes a ``Transition`` to the page after every commit.

After each schedule the page's *views* are checked: every set of values its ``onUpdate``
callbacks had been given at one moment must be what the queries returned at one single
timestamp of the schedule (an optimistic update that shows a value the server never has, or
two queries shown at different times, fail). The page's own errors fail the schedule as an
operation's do.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _quickjs

from ..errors import ConvexError, ConvexSimError
from ..explore import Actor, Failure, Pending, StepRecord
from ..functions import MUTATION, QUERY
from ..js.bundler import (
    ENGINE_TARGET,
    BundleError,
    find_convex_package,
    relative_errors,
    run_esbuild,
)
from ..js.engine import JsError, new_context
from ..runtime import stable_seed
from ..subscriptions import View, check_views
from ..subscriptions.transitions import canonical_text
from ..values import from_json, to_json
from .protocol import Call, ProtocolError, SyncSession, decode_ts

_HERE = Path(__file__).parent
_HARNESS = "".join(p.read_text("utf-8") for p in (_HERE.parent / "js" / "sandbox.js", _HERE / "frontend.js"))
#: The deployment URL the page is given (nothing listens there: its socket is virtual).
PAGE_URL = "https://convex-sim.invalid"
#: At most this many timers fire while a page settles after one step (a page whose timers
#: keep re-arming at zero delay would never settle).
MAX_TIMERS_PER_STEP = 1000


class FrontendError(ConvexSimError):
    """A frontend script that cannot run: missing, not bundling, or misusing ``ui``."""


@dataclass(frozen=True)
class Frontend:
    """A page of the app to explore (see the module docstring): ``script`` is a path inside
    the project (``ConvexSim.from_project``'s folder, or ``project``), ``name`` labels its
    lanes, ``drops`` is how many connection drops a schedule may have."""

    script: str
    name: str = "page"
    drops: int = 0
    project: str | None = None

    def __post_init__(self) -> None:
        if type(self.drops) is not int or self.drops < 0:
            raise FrontendError(f"Frontend({self.script!r}): drops must be an int >= 0, got {self.drops!r}")

    def lanes(self) -> list[Actor]:
        """The operations this page stands for in a schedule."""
        # the network first: a schedule that leaves the rest to the default order (lowest
        # lane first) delivers what is in flight before the user's next event
        lanes: list[Actor] = [UpLane(self), DownLane(self), PageLane(self)]
        if self.drops:
            lanes.append(DropLane(self))
        return lanes

    @property
    def label(self) -> str:
        return self.name

    def code(self, sim: Any) -> str:
        """The page's bundled script, for the project ``sim`` runs (or ``project``)."""
        root = self.project or getattr(getattr(sim, "project", None), "path", None)
        if root is None:
            raise FrontendError("Frontend: the simulator runs no TypeScript project; give project=... "
                                "or make it with ConvexSim.from_project.")
        return page_code(str(root), self.script)


# --- The page's code, bundled with the project's esbuild ----------------------------------------


@functools.lru_cache(maxsize=32)
def _bundle(root: str, script: str, stamp: tuple[int, int]) -> str:
    """The page's script with the project's ``convex/browser``, as one script for the engine."""
    del stamp  # part of the cache key: an edited script is bundled again
    convex_package = find_convex_package(Path(root))
    name = hashlib.sha256(json.dumps([root, script]).encode()).hexdigest()[:24]
    out = convex_package.parent / ".cache" / "convex-sim" / f"frontend-{name}.js"
    out.parent.mkdir(parents=True, exist_ok=True)
    entry = (f"import script from {json.dumps(str(Path(root) / script))};\n"
             'import { ConvexClient } from "convex/browser";\n'
             'import { convexToJson } from "convex/values";\n'
             'import { getFunctionName } from "convex/server";\n'
             "globalThis.__frontApp = { script, ConvexClient, convexToJson, getFunctionName };\n")
    build = {"entrySource": entry, "resolveDir": root, "outfile": str(out), "platform": "browser",
             "format": "iife", "target": ENGINE_TARGET, "externalPackages": []}
    [result] = run_esbuild(Path(root), convex_package, [build], Path(root) / script)
    if result["errors"]:
        raise FrontendError(f"Bundling the frontend {script} failed:\n"
                            f"{relative_errors(chr(10).join(result['errors']), Path(root))}")
    return out.read_text("utf-8")


def page_code(root: str, script: str) -> str:
    """The bundled page of ``script`` (a path inside ``root``); a clear error if it is missing."""
    path = Path(root) / script
    if not path.is_file():
        raise FrontendError(f"Frontend: no file {script} in the project {root}.")
    stat = path.stat()
    try:
        return _bundle(root, script, (stat.st_mtime_ns, stat.st_size))
    except BundleError as exc:
        raise FrontendError(str(exc)) from None


# --- One schedule's page: its engine, channels and what it showed ------------------------------


@dataclass
class Page:
    """One frontend in one schedule: the client's engine, both directions of its connection,
    the server's session for it and the views it showed."""

    frontend: Frontend
    execution: Any
    up: collections.deque[str] = field(default_factory=collections.deque)
    down: collections.deque[str] = field(default_factory=collections.deque)
    session: SyncSession | None = None
    opening: bool = False
    drops_left: int = 0
    views: list[View] = field(default_factory=list)
    current: dict[tuple[str, str], str] = field(default_factory=dict)
    observed: bool = False
    logs: list[str] = field(default_factory=list)
    seen_ts: int = 0
    #: A mutation or action of the page is running on the server (its lane goes on).
    calling: bool = False
    #: The query set changed and the page has not been sent its results yet: the server
    #: reads what the client sent before it answers (a mutation sent again after a reconnect
    #: is answered before the results it already is in).
    stale: bool = False
    #: Mutations run, by (session, request id): their reply and commit timestamp (the backend
    #: keeps these so a mutation sent again after a reconnect runs once).
    completed: dict[tuple[str, int], tuple[dict[str, Any], int | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sim = self.execution.sim
        code = self.frontend.code(sim)
        self.drops_left = self.frontend.drops
        self.seen_ts = sim.db.latest_ts
        self.ctx = ctx = new_context()
        ctx.set_memory_limit(256 << 20)
        ctx.add_callable("__py_send", self.up.append)
        ctx.add_callable("__py_socket", self._socket)
        ctx.add_callable("__py_close", self._closed)
        ctx.add_callable("__py_observe", self._observe)
        ctx.add_callable("__py_log", lambda level, text: self.logs.append(f"[{level}] {text}"))
        seed = stable_seed(self.execution.x.seed, "frontend", self.frontend.name)
        ctx.add_callable("__py_seed", lambda: ",".join(str((seed >> (16 * i)) & 0xFFFF) for i in range(4)))
        try:
            ctx.eval(_HARNESS)
            ctx.eval(code)
        except _quickjs.JSException as exc:
            raise FrontendError(f"Loading the frontend {self.frontend.script} failed: {exc}") from None
        self._call("__front.start", PAGE_URL, float(sim.db.clock.now_ms))

    # -- callbacks from the page -----------------------------------------------------------------
    def _socket(self, _url: str) -> None:
        self.opening = True

    def _closed(self) -> None:
        """The client closed its socket itself: the server forgets the session."""
        self.session = None
        self.up.clear()
        self.down.clear()

    def _observe(self, text: str) -> None:
        seen = json.loads(text)
        key = (seen["path"], seen["args"])
        if "error" in seen:
            self.current[key] = "error:" + seen["error"]
        else:
            self.current[key] = canonical_text(from_json(seen["value"]))
        self.observed = True

    # -- driving it ------------------------------------------------------------------------------
    def _call(self, name: str, *args: Any) -> Any:
        try:
            result = self.ctx.eval(name)(*args)
            self._settle()
        except _quickjs.JSException as exc:
            raise FrontendError(f"The frontend {self.frontend.script} failed: {exc}") from None
        return result

    def _settle(self) -> None:
        """Run the page's jobs and due timers until it waits; open a socket it asked for."""
        run_due = self.ctx.eval("__front.runDue")
        for _ in range(MAX_TIMERS_PER_STEP):
            while self.ctx.execute_pending_job():
                pass
            if self.opening:
                self.opening = False
                self.session = SyncSession()
                self.ctx.eval("__front.open")()
                continue
            next_due = run_due()   # the timers due now ran; when the next one is due
            if next_due < 0 or next_due > self.status()["now"]:
                return
        raise FrontendError(f"The frontend {self.frontend.script} kept arming timers due at once.")

    def status(self) -> dict[str, Any]:
        return json.loads(self.ctx.eval("__front.status()"))

    @property
    def connected(self) -> bool:
        return self.session is not None

    def end_step(self, record: StepRecord, *touched: str) -> None:
        """After a step of this page's lanes: what it touched, and the view it left."""
        record.touches = record.touches | {f"{self.frontend.name}:{t}" for t in touched}
        if self.observed:
            self.observed = False
            self.views.append(View(record.number, dict(self.current)))

    # -- the server side ---------------------------------------------------------------------------
    def reply_for_query(self, path: str, args: dict[str, Any], reads: list[Any]) -> dict[str, Any]:
        """A subscribed query's result at the latest commit, as the protocol carries it."""
        runtime = self.execution.runtime
        try:
            fn = runtime.resolve(path, QUERY, public_only=True)
            value, txn = runtime.call_query(fn, args, None, seed=stable_seed(path, self.execution.db.latest_ts))
            reads.extend(txn.reads)
            return {"status": "success", "value": to_json(value)}
        except Exception as exc:   # the client is told, as the backend tells it
            return error_reply(exc)

    def push_transition(self) -> list[Any]:
        """Send the page its queries' results at the latest commit; the reads that took."""
        reads: list[Any] = []
        if self.session is not None:
            db = self.execution.db
            self.down.append(json.dumps(self.session.transition(
                db.latest_ts, lambda path, args: self.reply_for_query(path, args, reads))))
            self.seen_ts = db.latest_ts
            self.stale = False
        return reads

    def answer(self, call: Call, reply: dict[str, Any], ts: int | None) -> None:
        """Reply to a call, then move the page to the latest commit (as the backend's sync worker
        does after every response: the client waits for a transition past a mutation's commit)."""
        self.down.append(json.dumps(SyncSession.response(call, reply, ts)))
        self.push_transition()

    def after_step(self, record: StepRecord) -> None:
        """Any step that committed: the backend pushes the new results to the page."""
        if (self.execution.db.latest_ts != self.seen_ts and self.session is not None and self.session.queries
                and not self.stale):
            self.push_transition()
            record.touches = record.touches | {f"{self.frontend.name}:down"}


def error_reply(exc: BaseException) -> dict[str, Any]:
    """A failed call as the HTTP API and the protocol report it."""
    if isinstance(exc, ConvexError):
        return {"status": "error", "errorMessage": str(exc), "errorData": to_json(exc.data)}
    if isinstance(exc, JsError):
        return {"status": "error", "errorMessage": f"Uncaught {exc.js_name}: {exc.js_message}"}
    return {"status": "error", "errorMessage": str(exc)}


def page_of(execution: Any, frontend: Frontend) -> Page:
    """``frontend``'s page in ``execution`` (made by its first lane)."""
    page = execution.world.get(frontend)
    if page is None:
        page = execution.world[frontend] = Page(frontend, execution)
        execution.after_step.append(page.after_step)
    return page


# --- The lanes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lane(Actor):
    frontend: Frontend

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"{self.frontend.name} {self.kind}"

    kind = "lane"


@dataclass(frozen=True)
class PageLane(_Lane):
    """The user's events, in the order the page's script waits for them."""

    kind = "page"

    def prepare(self, sim: Any) -> None:
        self.frontend.code(sim)

    def blocked(self, execution: Any) -> bool:
        status = page_of(execution, self.frontend).status()
        return status["parked"] is None and not status["done"]

    def steps(self, execution: Any) -> Generator[Pending, None, Any]:
        page = page_of(execution, self.frontend)
        while True:
            status = page.status()
            yield Pending("event", status["parked"] or "page")
            status = page.status()
            if status["done"]:
                break
            page._call("__front.resume")
            page.end_step(execution.record("event", f"{self.frontend.name}: {status['parked']}"), "page", "up")
        status = page.status()
        page.end_step(execution.record("done", f"{self.frontend.name} finished"), "page")
        if status["error"] is not None:
            error = json.loads(status["error"])
            raise JsError(f"frontend {self.frontend.script}", error.get("name", "Error"),
                          error.get("message", ""), error.get("stack", ""))
        return from_json(status["result"])

    def failure(self, execution: Any) -> Failure | None:
        page = execution.world.get(self.frontend)
        if page is None:
            return None
        if not page.status()["done"]:
            return Failure("frontend", f"frontend {self.frontend.name}: the page's script did not finish "
                                       "(it waits for a reply that never came)")
        return views_failure(page)


@dataclass(frozen=True)
class UpLane(_Lane):
    """The server receives the client's messages, in order."""

    kind = "↑"

    def blocked(self, execution: Any) -> bool:
        page = page_of(execution, self.frontend)
        return not (page.calling or (page.connected and page.up))

    def steps(self, execution: Any) -> Generator[Pending, None, None]:
        page = page_of(execution, self.frontend)
        name = self.frontend.name
        while True:
            yield Pending("receive", f"{name} ↑")
            session, text = page.session, page.up.popleft()
            assert session is not None   # not blocked: connected
            try:
                message = session.parse(text)
                kind = message["type"]
                if kind in ("Mutation", "Action"):
                    yield from self._call(execution, page, session.call(message))
                    continue
                if kind == "ModifyQuerySet":
                    session.modify(message)
                    page.stale = True
                elif kind == "Connect":
                    session.connect(message)
                reads = page.push_transition() if page.stale and not page.up else []
                page.end_step(execution.record("receive", f"{name} ↑ {kind}", snapshot_ts=execution.db.latest_ts,
                                               reads=tuple(reads)), "up", "down")
            except ProtocolError as exc:
                raise FrontendError(f"frontend {name} sent a malformed message: {exc}") from None

    def _call(self, execution: Any, page: Page, call: Call) -> Generator[Pending, None, None]:
        """Run a mutation or action the page asked for (its steps are the explorer's), then
        queue its reply (lost if the connection dropped meanwhile)."""
        runtime, session = execution.runtime, page.session
        kind = MUTATION if call.kind == "Mutation" else "action"
        assert session is not None
        key = (session.session_id, call.request_id)
        if kind == MUTATION and key in page.completed:   # sent again after a reconnect
            reply, ts = page.completed[key]
            page.end_step(execution.record("receive", f"{self.frontend.name} ↑ Mutation {call.path} again: "
                                                      "answered from its first run"), "up", "down")
            page.answer(call, reply, ts)
            return
        lane = execution.current_op
        before = len(execution.records)
        ts = None
        if page.stale and not page.up:
            page.push_transition()
        page.calling = True
        try:
            fn = runtime.resolve(call.path, kind, public_only=True)
            steps = (execution.mutation_steps if kind == MUTATION else execution.action_steps)(fn, call.args, None)
            try:
                next(steps)   # its first pause is this step's: the message arrives and the call starts
            except StopIteration as stop:   # an action that awaited nothing
                value = stop.value
            else:
                value = yield from _tagged(steps, page, execution, lane)
            ts = execution.db.latest_ts
            reply = {"status": "success", "value": to_json(value)}
        except Exception as exc:
            reply = error_reply(exc)
        finally:
            page.calling = False
        if len(execution.records) == before:
            execution.record("receive", f"{self.frontend.name} ↑ {call.kind} {call.path}: {reply['status']}")
        page.end_step(execution.records[-1], "up", "down")
        if kind == MUTATION:
            page.completed[key] = (reply, ts)
        if page.session is session:
            page.answer(call, reply, ts)


def _tagged(steps: Generator[Pending, None, Any], page: Page, execution: Any,
            lane: int) -> Generator[Pending, None, Any]:
    """``yield from steps``, marking each record the lane makes as touching the page's uplink."""
    marked = len(execution.records)
    try:
        pending = steps.send(None)
        while True:
            for record in execution.records[marked:]:
                if record.op == lane:
                    page.end_step(record, "up")
            marked = len(execution.records)
            yield pending
            pending = steps.send(None)
    except StopIteration as stop:
        for record in execution.records[marked:]:
            if record.op == lane:
                page.end_step(record, "up")
        return stop.value


@dataclass(frozen=True)
class DownLane(_Lane):
    """The client receives the server's messages, in order."""

    kind = "↓"

    def blocked(self, execution: Any) -> bool:
        page = page_of(execution, self.frontend)
        return not (page.connected and page.down)

    def steps(self, execution: Any) -> Generator[Pending, None, None]:
        page = page_of(execution, self.frontend)
        while True:
            yield Pending("deliver", f"{self.frontend.name} ↓")
            text = page.down.popleft()
            message = json.loads(text)
            what = message["type"]
            if what == "Transition":
                what += f" to ts {decode_ts(message['endVersion']['ts'])}"
            page._call("__front.deliver", text)
            page.end_step(execution.record("deliver", f"{self.frontend.name} ↓ {what}"), "down", "page", "up")


@dataclass(frozen=True)
class DropLane(_Lane):
    """Connection drops (what is in flight is lost) and the client's reconnects."""

    kind = "drop"

    def blocked(self, execution: Any) -> bool:
        page = page_of(execution, self.frontend)
        if page.connected:
            return not (page.drops_left > 0 and (page.up or page.down))
        return False   # disconnected: its reconnect timer is the next step

    def steps(self, execution: Any) -> Generator[Pending, None, None]:
        page = page_of(execution, self.frontend)
        name = self.frontend.name
        while page.drops_left > 0 or not page.connected:
            yield Pending("drop", name)
            if page.connected:
                lost = len(page.up) + len(page.down)
                page.drops_left -= 1
                page.session = None
                page.up.clear()
                page.down.clear()
                page._call("__front.drop")
                page.end_step(execution.record("drop", f"{name}: connection dropped ({lost} message(s) lost)"),
                              "page", "up", "down")
            else:
                for _ in range(MAX_TIMERS_PER_STEP):
                    page._call("__front.fireNext")
                    if page.connected:
                        break
                page.end_step(execution.record("reconnect", f"{name}: reconnected"), "page", "up", "down")


# --- The check of what the page showed --------------------------------------------------------------


def views_failure(page: Page) -> Failure | None:
    """The first view of the page that no single timestamp of the schedule had, judged by the
    subscription-consistency checker (:func:`~convex_sim.subscriptions.check_views`)."""
    execution = page.execution
    start = execution.x.start_ts
    times = [start, *(c.ts for c in execution.db.commits_after(start))]
    problem = check_views(page.views, times, execution.runtime)
    if problem is None:
        return None
    return Failure("subscription", f"frontend {page.frontend.name}: {problem}")
