"""Seeded generation of differential call sequences: what an app's ``call_sequences`` is
built from (``scenarios.ts_bank``, ``scenarios.ts_inventory``, ``scenarios.convex_test_app``).

An app lists *makers*, each a function of a :class:`SequenceBuilder` returning one call (or
``None`` when it has nothing to make yet, e.g. no earlier reservation to confirm); the
builder draws from one seeded ``random.Random``, so the same seed gives the same sequences.
It also keeps time in bounds: an app whose crons convex-test does not run keeps every
sequence before the first cron run (``limit_ms``), knowing how far ahead its functions
schedule (``max_delay_ms``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Sequence
from typing import Any

from .calls import Call, result_ref


class SequenceBuilder:
    """One sequence under construction: the calls so far, the random source, and an upper
    bound on how far the clock has moved."""

    def __init__(self, rng: random.Random, *, limit_ms: float = math.inf, max_delay_ms: float = 0.0) -> None:
        self.rng, self.calls = rng, []
        self.limit_ms, self.max_delay_ms = limit_ms, max_delay_ms
        self.elapsed_ms = 0.0   # the clock moved at most this far from the start

    def choice(self, options: Sequence[Any]) -> Any:
        return self.rng.choice(options)

    def call(self, kind: str, path: str, args: dict | None = None, identity: dict | None = None) -> Call:
        """A function call (``kind`` query, mutation or action)."""
        return {"kind": kind, "path": path, "args": args or {}, **({"identity": identity} if identity else {})}

    def advance(self, ms: float) -> Call | None:
        """Move the clock ``ms``, unless that could run a job past ``limit_ms``."""
        if self.elapsed_ms + ms + self.max_delay_ms > self.limit_ms:
            return None
        self.elapsed_ms += ms
        return {"kind": "advance", "ms": float(ms)}

    def finish_scheduled(self) -> Call | None:
        """Run every pending scheduled function (the clock moves to the last one's time)."""
        if self.elapsed_ms + self.max_delay_ms > self.limit_ms:
            return None
        self.elapsed_ms += self.max_delay_ms
        return {"kind": "finishScheduled"}

    @staticmethod
    def fetch(path: str, method: str = "GET", json: Any = None) -> Call:
        """An HTTP request to the app's HTTP actions."""
        return {"kind": "fetch", "path": path, "method": method, **({"json": json} if json is not None else {})}

    def earlier(self, paths: Collection[str], key: str | None = None) -> dict | None:
        """A reference to the value an earlier call to one of ``paths`` returned (``key``: one
        field of it), or None if there is no such call yet."""
        found = [i for i, c in enumerate(self.calls) if c.get("path") in paths]
        return result_ref(self.rng.choice(found), key) if found else None


#: A maker: one call for the sequence being built, or None for "nothing to make yet".
Maker = Callable[[SequenceBuilder], "Call | None"]


def generate(makers: Sequence[Maker], count: int, *, seed: int = 0, max_calls: int = 8,
             limit_ms: float = math.inf, max_delay_ms: float = 0.0) -> list[list[Call]]:
    """``count`` sequences of 1 to ``max_calls`` calls, each drawn from ``makers``."""
    rng = random.Random(seed)
    sequences = []
    for _ in range(count):
        builder = SequenceBuilder(rng, limit_ms=limit_ms, max_delay_ms=max_delay_ms)
        length = rng.randint(1, max_calls)
        for _ in range(4 * length):    # a maker with nothing to make yet is drawn again
            if len(builder.calls) == length:
                break
            call = rng.choice(makers)(builder)
            if call is not None:
                builder.calls.append(call)
        sequences.append(builder.calls)
    return sequences


__all__ = ["Maker", "SequenceBuilder", "generate"]
