"""Stopping app JavaScript from outside: the engine's interrupt handler, Ctrl-C, memory, stack.

quickjs-ng asks its runtime's *interrupt handler*, every few thousand bytecodes, whether to
stop; a yes throws an uncatchable error that unwinds every JavaScript frame back to Python.
The extension module (``_quickjs`` of edwh-quickjs-ng) only offers ``set_time_limit``, which
measures the process's ``clock()`` and refuses every call into Python while it is set, so
convex-sim installs its own handler with ``ctypes``, on the runtime the context wraps (the
extension sets no handler of its own unless ``set_time_limit`` was called). The handler asks
Python (taking the GIL, about a microsecond every few thousand bytecodes).

Ctrl-C: while JavaScript runs, the extension has released the GIL, so Python's own SIGINT
handler cannot run and the test process would ignore Ctrl-C. :class:`SigintDeferral` swaps in a
handler that only notes the signal; the interrupt handler sees the note and stops the
JavaScript, and the engine raises ``KeyboardInterrupt`` once the engine is consistent again.

Memory: the handler also reads how much the runtime has allocated (:func:`memory_gauge`), so a
call past its memory limit stops as Convex stops it (uncatchable). quickjs-ng's own memory
limit, set higher, catches a single allocation too big for what is left.
"""

from __future__ import annotations

import ctypes
import resource
import signal
import threading
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any

import _quickjs

from ..limits import JS_STACK_BYTES

#: ``int (*)(JSRuntime *rt, void *opaque)``: quickjs's JSInterruptHandler.
_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
#: The fields of the extension's RuntimeData that are read here: after the object header,
#: ``JSRuntime *runtime``; 80 bytes in all (edwh-quickjs-ng 0.x, CPython's usual header).
_RUNTIME_OFFSET = object.__basicsize__
_CONTEXT_SIZE = object.__basicsize__ + 64


def _library() -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL(_quickjs.__file__)
        lib.JS_SetInterruptHandler.argtypes = [ctypes.c_void_p, _HANDLER, ctypes.c_void_p]
        lib.JS_SetInterruptHandler.restype = None
        lib.JS_GetRuntimeOpaque.argtypes = [ctypes.c_void_p]
        lib.JS_GetRuntimeOpaque.restype = ctypes.c_void_p
        return lib
    except (OSError, AttributeError):
        return None


_LIB = _library()


def install_interrupt_handler(ctx: _quickjs.Context, should_stop: Callable[[], bool]) -> Any:
    """Make ``ctx``'s runtime ask ``should_stop()`` while JavaScript runs; the handle to keep
    alive as long as ``ctx``, or None (with a warning) where this build of the extension does
    not allow it: then app code runs without time limit and Ctrl-C waits for it."""
    runtime = _runtime_of(ctx)
    if runtime is None:
        warnings.warn("convex-sim cannot install its interrupt handler in this build of "
                      "edwh-quickjs-ng: JavaScript runs without user-code time limit and "
                      "Ctrl-C waits for it to finish.", RuntimeWarning, stacklevel=3)
        return None

    def handler(_runtime: int | None, _opaque: int | None) -> int:
        try:
            return 1 if should_stop() else 0
        except BaseException:  # nothing may escape into C; stopping is the safe answer
            return 1

    callback = _HANDLER(handler)
    _LIB.JS_SetInterruptHandler(runtime, callback, None)  # type: ignore[union-attr]
    return callback


def _runtime_of(ctx: _quickjs.Context) -> int | None:
    """The ``JSRuntime *`` of ``ctx``, checked: the runtime's opaque is the context object."""
    if _LIB is None or type(ctx).__basicsize__ != _CONTEXT_SIZE:
        return None
    runtime = ctypes.c_void_p.from_address(id(ctx) + _RUNTIME_OFFSET).value
    if not runtime or _LIB.JS_GetRuntimeOpaque(runtime) != id(ctx):
        return None
    return runtime


def memory_gauge(ctx: _quickjs.Context) -> Callable[[], int] | None:
    """A cheap reading of the bytes ``ctx``'s runtime has allocated (``malloc_size`` of its
    JSMallocState, found next to a limit set for the purpose), or None where it cannot be
    found. ``ctx.memory()`` says the same but walks every object."""
    runtime = _runtime_of(ctx)
    if runtime is None:
        return None
    mark = 0x5A17_C0DE_0123
    ctx.set_memory_limit(mark)
    try:
        words = [ctypes.c_size_t.from_address(runtime + 8 * i).value for i in range(64)]
    finally:
        ctx.set_memory_limit(0)  # none
    if mark not in words[1:] or words[words.index(mark) - 1] != ctx.memory()["malloc_size"]:
        return None
    size = ctypes.c_size_t.from_address(runtime + 8 * (words.index(mark) - 1))
    return lambda: size.value


class SigintDeferral:
    """While entered (in the main thread, where Python's default SIGINT handler is installed):
    SIGINT sets :attr:`caught` instead of raising ``KeyboardInterrupt`` at once. Re-entrant,
    and one for all engines (:data:`SIGINT`): a call may run JavaScript of several bundles."""

    def __init__(self) -> None:
        self.caught = False
        self._depth = 0
        self._previous: Any = None

    def _note(self, _signum: int, _frame: FrameType | None) -> None:
        self.caught = True

    def __enter__(self) -> SigintDeferral:
        if self._depth == 0:
            self.caught = False
            if (threading.current_thread() is threading.main_thread()
                    and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
                self._previous = signal.signal(signal.SIGINT, self._note)
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


SIGINT = SigintDeferral()


def stack_bytes() -> int:
    """The C stack JavaScript may use from where Python calls it: ``JS_STACK_BYTES``, or half
    of this thread's stack if that is smaller (the rest is for the Python frames around it)."""
    size = 0 if threading.current_thread() is threading.main_thread() else threading.stack_size()
    if not size:  # the main thread's, and by default (glibc) every thread's: RLIMIT_STACK
        soft, _hard = resource.getrlimit(resource.RLIMIT_STACK)
        size = soft if soft != resource.RLIM_INFINITY else 0
    return min(JS_STACK_BYTES, size // 2) if size else JS_STACK_BYTES
