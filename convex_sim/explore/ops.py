"""Operations (``Op``, ``Flow``), the client a flow gets, and schedule strings."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConvexSimError
from ..functions import ACTION, MUTATION, QUERY
from ..runtime import Step, UserIdentity


class ExplorationError(ConvexSimError):
    """Bad input to ``explore`` (an unknown strategy, an op that is not an Op, ...)."""


# --- Operations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One call to run concurrently: a mutation, action or query, as ``identity``."""

    ref: Any
    args: Any = None
    identity: UserIdentity | dict | None = None

    @property
    def label(self) -> str:
        return str(getattr(self.ref, "path", self.ref))


@dataclass(frozen=True)
class Flow:
    """A client flow: ``async def flow(client)`` (or ``flow(client, args)`` when ``args`` is
    given) making several calls, as a UI would; ``name`` labels it in reports.

    ``client.query/mutation/action`` are awaited; each call is one or more steps.
    A lambda without ``name=`` is labelled by where it is written (``lambda at
    test_cart.py:12``).
    """

    fn: Callable[..., Any]
    args: dict[str, Any] | None = None
    identity: UserIdentity | dict | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ExplorationError(f"Flow: fn must be an async function taking a client, got {self.fn!r}")
        if self.args is not None and not isinstance(self.args, dict):
            raise ExplorationError(f"Flow({self.label}): args must be a dict or None, got {self.args!r}")
        if type(self.name) is not str:
            raise ExplorationError(f"Flow: name must be a str, got {self.name!r}")

    @property
    def label(self) -> str:
        """``name``, else the function's name, else (a lambda) where it is written."""
        if self.name:
            return self.name
        name = getattr(self.fn, "__name__", "")
        code = getattr(self.fn, "__code__", None)
        if (name and name != "<lambda>") or code is None:
            return name or type(self.fn).__name__
        return f"lambda at {os.path.basename(code.co_filename)}:{code.co_firstlineno}"

    def call(self, client: Any) -> Any:
        """The flow's coroutine for ``client``."""
        return self.fn(client) if self.args is None else self.fn(client, self.args)


class Actor:
    """An operation whose steps are written outside the explorer, such as one lane of an
    explored frontend (:class:`convex_sim.serve.Frontend`): for each schedule,
    :meth:`steps` makes its step generator (yielding ``execution.pause(...)`` before each
    step), :meth:`blocked` says it cannot step now, and :meth:`failure` judges the finished
    schedule. An actor is not a transaction: an exploration with one skips the
    serializability check. ``label`` names it in reports."""

    label: str = "actor"

    def prepare(self, sim: Any) -> None:
        """Check and build what the actor needs, once, before any schedule (its input errors
        are raised by ``explore`` itself)."""

    def steps(self, execution: Any) -> Any:
        """The generator of this actor's steps in ``execution``; its return value is the
        actor's result."""
        raise NotImplementedError

    def blocked(self, execution: Any) -> bool:
        """True while the actor waits for another one (an empty channel, a pending reply)."""
        return False

    def failure(self, execution: Any) -> Any:
        """Why the finished schedule fails, as a ``Failure``, or None."""
        return None


def expand(ops: Sequence[Any]) -> list[Any]:
    """The operations ``ops`` stand for: an object with ``lanes()`` (a frontend) is its lanes."""
    out: list[Any] = []
    for op in ops:
        lanes = getattr(op, "lanes", None)
        out.extend(lanes() if callable(lanes) and not isinstance(op, Op | Flow) else [op])
    return out


class FlowClient:
    """What a :class:`Flow` gets: a browser-like client calling public functions."""

    def __init__(self, runtime: Any, identity: UserIdentity | None) -> None:
        self._runtime, self._identity = runtime, identity

    def _step(self, kind: str, ref: Any, args: Any) -> Step:
        fn = self._runtime.resolve(ref, kind, public_only=True)
        return Step(kind, fn, args, self._identity)

    def query(self, ref: Any, args: Any = None) -> Step:
        return self._step(QUERY, ref, args)

    def mutation(self, ref: Any, args: Any = None) -> Step:
        return self._step(MUTATION, ref, args)

    def action(self, ref: Any, args: Any = None) -> Step:
        return self._step(ACTION, ref, args)


def op_letter(i: int) -> str:
    """How reports name operation ``i``: ``A``..``Z``, then ``op26``, ``op27``, ..."""
    return chr(ord("A") + i) if i < 26 else f"op{i}"


def schedule_string(choices: Sequence[int]) -> str:
    """Compact form: ``"ABAB"`` (``"0,1,0,1"`` beyond 26 operations)."""
    if all(c < 26 for c in choices):
        return "".join(op_letter(c) for c in choices)
    return ",".join(str(c) for c in choices)


def parse_schedule(text: str, ops: int | None = None) -> list[int]:
    """Op indices from a schedule string; with ``ops``, every index must name one of them."""
    text = text.strip()
    if "," in text or text.isdigit():
        choices = [int(p) for p in text.split(",") if p.strip()]
    elif all("A" <= c <= "Z" for c in text):
        choices = [ord(c) - ord("A") for c in text]
    else:
        raise ExplorationError(f"A schedule is letters like 'ABBA' or indices like '0,1,1,0', got {text!r}")
    if ops is not None:
        bad = sorted({c for c in choices if not 0 <= c < ops})
        if bad:
            names = ", ".join(op_letter(i) for i in range(ops))
            raise ExplorationError(f"schedule {text!r} names op {', '.join(op_letter(c) for c in bad)}, but there "
                                   f"are only {ops} op(s): {names}")
    return choices
