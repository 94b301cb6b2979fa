"""Steps: what an action awaits, and the event loop an action runs on.

An action is a coroutine. Every awaited ``ctx`` call is a :class:`Step` handed
to whoever drives the action (the test handle performs each at once; the
explorer interleaves them with other work), and the step's result is sent
back in. Several steps may be outstanding at once (``asyncio.gather`` of ctx
calls, the twin of ``Promise.all``): the driver receives them one at a time,
in the order they were awaited.

Each running action has an event loop of its own whose time is the
simulator's virtual clock. When the action has nothing left to do but wait:

* steps are outstanding: the driver gets the next one;
* only a timer is pending (``asyncio.sleep``): the driver gets a ``sleep``
  step, which moves the virtual clock (running the scheduled functions that
  fall due), and the timer fires;
* nothing at all is pending: the action is stuck, and :class:`ActionStuckError`
  names it. No path waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import selectors
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import limits
from .errors import PACKAGE_DIR, ConvexSimError, LimitExceededError, add_note, hide_simulator_frames

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours

if TYPE_CHECKING:
    from .clock import VirtualClock
    from .functions import ConvexFunction

#: The kind of the step an action yields when it waits for time to pass.
SLEEP = "sleep"
#: Step kinds whose ctx call is spelled otherwise than ``ctx.<kind>``.
_CALL_NAMES = {"scheduler.schedule": "ctx.scheduler.run_after/run_at"}


class ActionStuckError(ConvexSimError):
    """An action awaits something that can never finish (no ctx call, timer or I/O pending)."""


class UnawaitedCallError(ConvexSimError):
    """An action returned while a ctx call it made was never awaited (so it never ran)."""


def _caller_line() -> tuple[str, int]:
    """File and line of the nearest frame outside convex_sim and generated code (such as a
    dataclass's ``__init__``): the app code making a call."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith((PACKAGE_DIR, "<")):
        frame = frame.f_back  # type: ignore[assignment]
    return ("", 0) if frame is None else (frame.f_code.co_filename, frame.f_lineno)


@dataclass(eq=False)  # hashable by identity: asyncio.gather keys its awaitables
class Step:
    """One awaited ctx call of an action: run ``fn`` with ``args`` as ``identity``."""

    kind: str                     # "query" | "mutation" | "action" | "sleep" | a service's own
    fn: ConvexFunction | None
    args: Any
    identity: Any
    payload: Any = None           # service steps (scheduler, storage, sleep) carry their data
    awaited: bool = False         # set once awaited; an action may not return before that
    where: tuple[str, int] = ("", 0)  # file and line of the app code that made the call

    def __post_init__(self) -> None:
        task = ActionTask.current()
        if task is not None and self.kind != SLEEP:
            self.where = _caller_line()
            task.made.append(self)

    def __await__(self) -> Generator[Any, Any, Any]:
        self.awaited = True
        task = ActionTask.current()
        if task is None:
            raise ConvexSimError(
                f"{self.describe()} was awaited outside the action that created it; await ctx "
                "calls directly in the action's own code.")
        return (yield from task.post(self).__await__())

    def describe(self) -> str:
        if self.kind == SLEEP:
            return f"sleep {self.payload:g} ms"
        target = self.fn.path if self.fn is not None else self.kind
        return f"{self.kind} {target}"

    def call(self) -> str:
        """The ctx call that made this step, as app code spells it: ``ctx.run_mutation("a:b")``."""
        name = f"ctx.run_{self.kind}" if self.kind in ("query", "mutation", "action") \
            else _CALL_NAMES.get(self.kind, f"ctx.{self.kind}")
        return f'{name}("{self.fn.path}")' if self.fn is not None else f"{name}(...)"

    def made_at(self) -> str:
        """``file:line`` (relative to the working directory) of the app code that made it."""
        path, line = self.where
        return f"{os.path.relpath(path)}:{line}" if path else "an unknown line"


class _IdleSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """The loop's selector: where the loop would block, ask ``on_idle`` first."""

    on_idle: Callable[[float | None], bool] | None = None
    own_fds: frozenset[int] = frozenset()

    def select(self, timeout: float | None = None) -> list:
        if self.on_idle is None or (timeout is not None and timeout <= 0):
            return super().select(timeout)
        if len(self.get_map()) > len(self.own_fds):  # real I/O in flight (a network request)
            events = super().select(timeout)
            if events or timeout is None:
                return events
        if self.on_idle(timeout):
            return super().select(0)
        return super().select(timeout)


class _ActionLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is a simulator's virtual clock (set while an action runs)."""

    def __init__(self) -> None:
        self.selector = _IdleSelector()
        super().__init__(self.selector)
        self.selector.own_fds = frozenset(self.selector.get_map())  # the loop's self-pipe
        self.clock: VirtualClock | None = None
        # A timer fires when it is due within this many seconds: at epoch-sized times a
        # float second has ~0.2 µs of precision, finer than the default (1 ns) can see.
        self._clock_resolution = 1e-6
        self.tasks: list[asyncio.Task] = []  # the tasks of the running action (all_tasks is slow)
        self.set_task_factory(_recording_task)

    def time(self) -> float:
        return self.clock.now_ms / 1000.0 if self.clock is not None else super().time()

    def is_clean(self) -> bool:
        """Nothing left on the loop, so the next action may reuse it."""
        return not getattr(self, "_ready", True) and not getattr(self, "_scheduled", True) \
            and all(t.done() for t in self.tasks)


def _recording_task(loop: _ActionLoop, coro: Any, **kwargs: Any) -> asyncio.Task:
    task = asyncio.Task(coro, loop=loop, **kwargs)
    loop.tasks.append(task)
    return task


class ActionTask:
    """Runs one action's coroutine on an event loop of its own, pausing where it waits.

    ``advance`` runs the action until it waits on steps (returns the next one)
    or finishes (``StopIteration`` with its result). Nothing else runs on the
    loop meanwhile, so the interleaving is exactly what the driver chooses.
    """

    _pool = threading.local()  # loops of finished actions, reused (one costs ~30 µs to make)
    _running: contextvars.ContextVar[ActionTask | None] = contextvars.ContextVar(
        "convex_sim_action", default=None)

    # Invariant: _queue holds the posted steps not yet handed out, oldest first, each with
    # the future its awaiter waits on (None for a sleep); _current is the one handed out.
    def __init__(self, coro: Any, function: str, clock: VirtualClock) -> None:
        self._coro, self._function, self._clock = coro, function, clock
        self._started_ms = clock.now_ms
        self._loop: _ActionLoop | None = None
        self._task: asyncio.Task | None = None
        self._gate: asyncio.Future | None = None
        self._queue: deque[tuple[Step, asyncio.Future | None]] = deque()
        self._current: tuple[Step, asyncio.Future | None] | None = None
        self._stuck = ""  # why the action cannot go on: "stuck" or "timeout"
        self.made: list[Step] = []  # every ctx call the action made, awaited or not

    @classmethod
    def current(cls) -> ActionTask | None:
        return cls._running.get()

    def post(self, step: Step) -> asyncio.Future:
        """Called from inside the action: queue ``step`` for the driver; await its result."""
        assert self._loop is not None
        waiter = self._loop.create_future()
        self._queue.append((step, waiter))
        gate = self._gate
        if gate is not None and not gate.done() and not getattr(self._loop, "_ready", True):
            gate.set_result(None)  # nothing else can run before the loop idles: stop now
        return waiter

    def _on_idle(self, timeout: float | None) -> bool:
        """The loop has nothing ready: wake the driver (True) or let the loop wait (False)."""
        gate = self._gate
        if gate is None or gate.done():
            return False
        if not self._queue:
            if timeout is None:
                self._stuck = "stuck"
            else:
                ms = timeout * 1000.0
                elapsed = self._clock.now_ms + ms - self._started_ms
                if elapsed > limits.MAX_ACTION_MS:
                    self._stuck = "timeout"
                else:
                    self._queue.append((Step(SLEEP, None, None, None, ms), None))
        gate.set_result(None)
        return True

    def advance(self, value: Any = None, error: BaseException | None = None) -> Step:
        """Send the result of the step handed out last (if any); return the next step."""
        loop = self._loop or self._borrow_loop()
        if self._task is None:
            token = self._running.set(self)
            try:
                self._task = loop.create_task(self._coro)
            finally:
                self._running.reset(token)
        elif self._current is not None:
            _step, waiter = self._current
            self._current = None
            if waiter is None:        # a sleep: its timer fires on its own once time moved
                if error is not None:
                    raise error
            elif error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(value)
        if not self._queue and not self._task.done():
            self._gate = gate = loop.create_future()
            self._task.add_done_callback(lambda _t: gate.done() or gate.set_result(None))
            loop.run_until_complete(gate)
            self._gate = None
        if self._task.done():
            dangling = [step for step in self.made if not step.awaited]
            if dangling and not self._task.cancelled():
                failed = self._task.exception()
                if failed is None:
                    raise self._dangling_error(dangling)
                add_note(failed, str(self._dangling_error(dangling)))
            raise StopIteration(self._task.result())
        if self._stuck:
            raise self._stuck_error()
        self._current = self._queue.popleft()
        return self._current[0]

    def _dangling_error(self, dangling: list[Step]) -> UnawaitedCallError:
        calls = "; ".join(f"{step.call()} at {step.made_at()}" for step in dangling)
        return UnawaitedCallError(
            f"{self._function} returned without awaiting {calls}, so "
            f"{'that call' if len(dangling) == 1 else 'those calls'} never ran. Every ctx call in "
            "an action must be awaited (`await ctx.run_mutation(...)`, or asyncio.gather for "
            "several at once); Convex reports such dangling operations too.")

    def _stuck_error(self) -> ConvexSimError:
        if self._stuck == "timeout":
            return LimitExceededError(
                f"{self._function}: Function execution timed out (maximum duration: "
                f"{limits.MAX_ACTION_MS / 1000:g}s of virtual time). See docs/limits.md.")
        return ActionStuckError(
            f"{self._function} is stuck: it awaits something that can never finish (no ctx "
            "call, timer or network request is pending), so it would wait forever.")

    def _borrow_loop(self) -> _ActionLoop:
        pool: list[_ActionLoop] = getattr(self._pool, "loops", None) or []
        self._pool.loops = pool
        loop = pool.pop() if pool else _ActionLoop()
        loop.clock = self._clock
        loop.selector.on_idle = self._on_idle
        self._loop = loop
        return loop

    def close(self) -> None:
        """Cancel what is left of the action (its driver gave up on it, or it finished) and
        give its loop back."""
        loop = self._loop
        if loop is None:
            self._coro.close()
            return
        self._loop = None
        loop.selector.on_idle = None
        leftover = [t for t in loop.tasks if not t.done()]
        for task in leftover:
            task.cancel()
        if leftover and not loop.is_running():
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
        loop.clock = None
        clean = loop.is_clean()
        loop.tasks.clear()
        if clean and not loop.is_running():
            self._pool.loops.append(loop)
        elif not loop.is_running():
            loop.close()


def pump(process: Generator[Step, Any, Any],
         perform: Callable[[Step], Generator[Any, None, Any]]) -> Generator[Any, None, Any]:
    """Drive an action process: each step it yields is done by ``perform(step)`` (a generator,
    so a driver may pause inside it), whose result or exception goes back into the action."""
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = process.throw(error) if error is not None else process.send(send)
        except StopIteration as done:
            return done.value
        try:
            send, error = (yield from perform(step)), None
        except Exception as exc:
            send, error = None, exc
