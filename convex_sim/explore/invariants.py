"""Invariants named by a query of the app: ``invariant="checks:noOversell"``.

A TypeScript project's invariant is most naturally a query of its own (it reads with the
same ``ctx.db`` as the rest of the app). Named by its function path, it runs at the latest
snapshot after every commit, as a Python ``invariant(ctx)`` does; it fails when it throws
or returns ``false``. A callable passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConvexError
from ..functions import QUERY
from .ops import ExplorationError

#: The seed an invariant query runs with: fixed, so checking draws nothing from the ops'.
INVARIANT_SEED = 0


def invariant_of(sim: Any, spec: Callable[[Any], Any] | str | None) -> Callable[[Any], Any] | None:
    """``spec`` as an invariant callable: a callable or None as given, a string as the app
    query it names (an ExplorationError if the app has no such query)."""
    if spec is None or callable(spec):
        return spec
    if not isinstance(spec, str):
        raise ExplorationError(f"invariant: expected a function of ctx or the path of a query "
                               f"(\"checks:noOversell\"), got {spec!r}")
    fn = sim.runtime.registry.resolve(spec, caller=f"invariant {spec!r}")
    if fn.kind != QUERY:
        raise ExplorationError(f"invariant {spec!r}: {fn.path} is a {fn.kind}; an invariant is a "
                               "query (it reads the data, and throws or returns false to fail)")

    def check(_ctx: Any) -> None:
        try:
            result, _txn = sim.runtime.call_query(fn, {}, None, seed=INVARIANT_SEED)
        except ConvexError as exc:
            raise AssertionError(f"{fn.path} threw ConvexError({exc.data!r})") from None
        except Exception as exc:   # the app's own error: its message is the failure
            message = str(exc).split("\n")[0].removeprefix(f"{fn.path}: ")
            raise AssertionError(f"{fn.path} threw {message}") from None
        if result is False:
            raise AssertionError(f"{fn.path} returned false")

    check.__name__ = check.__qualname__ = fn.path or spec
    return check
