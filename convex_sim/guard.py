"""The determinism guard: what app code sees while it runs.

While a function executes, ``random`` draws from a generator seeded for that
execution, ``time.time()``/``datetime.now()`` read the virtual clock (through
time-machine, re-used while the clock stays put), and network access from
queries and mutations is refused (an audit hook for sockets, a wrapper on
httpx's ``send``). Outside app code everything behaves as usual: the global
``random`` generator is never read or changed.
"""

from __future__ import annotations

import contextvars
import hashlib
import random
import sys
from collections.abc import Callable
from typing import Any

import httpx
import time_machine

from .errors import ConvexSimError, hide_simulator_frames
from .functions import ACTION

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours


class NondeterminismError(ConvexSimError):
    """App code did something a deterministic function may not (await I/O, use the network)."""


class NetworkNotAllowedError(NondeterminismError):
    """A query or mutation tried to reach the network."""


_CURRENT: contextvars.ContextVar[CallFrame | None] = contextvars.ContextVar("convex_sim_call", default=None)


class CallFrame:
    """The state of one top-level function execution while its app code runs."""

    __slots__ = ("_rng", "_seed", "function", "kind", "now_ms", "offline")

    def __init__(self, function: str, kind: str, now_ms: float, seed: int | tuple) -> None:
        """``seed`` is an int, or a tuple digested into one only if app code uses ``random``."""
        self.function, self.kind, self.now_ms, self._seed = function, kind, now_ms, seed
        self._rng: random.Random | None = None
        self.offline = False  # refuse un-mocked outbound HTTP (convex_sim.offline)

    @property
    def seed(self) -> int:
        if isinstance(self._seed, tuple):
            self._seed = stable_seed(*self._seed)
        return self._seed

    def rng(self) -> random.Random:
        """This execution's own generator (created on first use), behind ``random.*``."""
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng


def stable_seed(*parts: Any) -> int:
    """A 64-bit seed from ``parts`` that is the same in every process (unlike ``hash`` of a
    string, which ``PYTHONHASHSEED`` randomizes)."""
    digest = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


_last_travel: tuple[float, time_machine.travel] | None = None


def _travel_to(now_ms: float) -> time_machine.travel:
    """A time-machine destination at ``now_ms``; the last one is reused (the virtual clock
    rarely moves between calls, and building one costs more than starting it)."""
    global _last_travel
    if _last_travel is None or _last_travel[0] != now_ms:
        _last_travel = (now_ms, time_machine.travel(now_ms / 1000.0, tick=False))
    return _last_travel[1]


def run_guarded(frame: CallFrame, body: Callable[..., Any], *args: Any) -> Any:
    """Run ``body(*args)`` as app code of ``frame``: seeded ``random``, virtual time, no network.

    Re-entrant: nested calls inside running app code just run.
    """
    if _CURRENT.get() is not None:
        return body(*args)
    token = _CURRENT.set(frame)
    last = _last_travel
    traveller = last[1] if last is not None and last[0] == frame.now_ms else _travel_to(frame.now_ms)
    traveller.start()
    try:
        return body(*args)
    finally:
        traveller.stop()
        _CURRENT.reset(token)


#: The ``random`` module functions that draw from (or reseed) its hidden global generator.
_RANDOM_FUNCTIONS = (
    "betavariate", "binomialvariate", "choice", "choices", "expovariate", "gammavariate", "gauss",
    "getrandbits", "getstate", "lognormvariate", "normalvariate", "paretovariate", "randbytes",
    "randint", "random", "randrange", "sample", "seed", "setstate", "shuffle", "triangular",
    "uniform", "vonmisesvariate", "weibullvariate",
)


def _dispatching(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def dispatch(*args: Any, **kwargs: Any) -> Any:
        frame = _CURRENT.get()
        if frame is None:
            return original(*args, **kwargs)
        return getattr(frame.rng(), name)(*args, **kwargs)

    dispatch.__name__ = dispatch.__qualname__ = name
    dispatch.__doc__ = original.__doc__
    dispatch.__wrapped__ = original  # type: ignore[attr-defined]
    return dispatch


def _install_random_dispatch() -> None:
    """Make ``random.random()`` & co. draw from the running function's own seeded generator.

    Outside app code they behave exactly as before (the global generator); the
    global generator's state is never read or changed by the simulator.
    """
    if getattr(random.random, "__wrapped__", None) is not None:
        return
    for name in _RANDOM_FUNCTIONS:
        original = getattr(random, name, None)
        if original is not None:
            setattr(random, name, _dispatching(name, original))


_install_random_dispatch()


_NETWORK_EVENTS = frozenset({"socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                             "socket.sendto", "socket.bind"})
_HOOK_INSTALLED = False


def _refuse_in_transactions(what: str) -> None:
    frame = _CURRENT.get()
    if frame is not None and frame.kind != ACTION:
        raise NetworkNotAllowedError(
            f"{frame.function}: {frame.kind}s cannot use the network ({what}); Convex runs "
            "queries and mutations deterministically. Move the request to an action.")


def _audit_hook(event: str, _args: tuple) -> None:
    if event in _NETWORK_EVENTS:
        _refuse_in_transactions(event)


def _guard_httpx() -> None:
    """httpx requests (mocked by respx or not) are refused in queries and mutations too."""
    for cls in (httpx.Client, httpx.AsyncClient):
        original = cls.send
        if getattr(original, "__convex_sim_guard__", False):
            continue

        def send(self: Any, request: httpx.Request, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            _refuse_in_transactions(f"httpx {request.method} {request.url}")
            return _original(self, request, *args, **kwargs)

        send.__convex_sim_guard__ = True  # type: ignore[attr-defined]
        send.__wrapped__ = original  # type: ignore[attr-defined]
        cls.send = send  # type: ignore[method-assign]


def install_network_guard() -> None:
    """Refuse network access from queries and mutations (once per process): sockets through
    an audit hook, httpx at its ``send``."""
    global _HOOK_INSTALLED
    if not _HOOK_INSTALLED:
        sys.addaudithook(_audit_hook)
        _guard_httpx()
        _HOOK_INSTALLED = True
