"""Operations (``Op``, ``Flow``), the client a flow gets, and schedule strings."""

from __future__ import annotations

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
    """A client flow: ``async def flow(client)`` making several calls, as a UI would.

    ``client.query/mutation/action`` are awaited; each call is one or more steps.
    """

    fn: Callable[[Any], Any]
    identity: UserIdentity | dict | None = None
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or getattr(self.fn, "__name__", "flow")


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


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"op{i}"


def schedule_string(choices: Sequence[int]) -> str:
    """Compact form: ``"ABAB"`` (``"0,1,0,1"`` beyond 26 operations)."""
    if all(c < 26 for c in choices):
        return "".join(_letter(c) for c in choices)
    return ",".join(str(c) for c in choices)


def parse_schedule(text: str) -> list[int]:
    text = text.strip()
    if "," in text or text.isdigit():
        return [int(p) for p in text.split(",") if p.strip()]
    if not all("A" <= c <= "Z" for c in text):
        raise ExplorationError(f"A schedule is letters like 'ABBA' or indices like '0,1,1,0', got {text!r}")
    return [ord(c) - ord("A") for c in text]
