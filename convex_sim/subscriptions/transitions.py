"""What a client receives and keeps: transitions, the bounded log of them, and the rules of
keeping (how many, in what canonical form values are compared)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from ..errors import ConvexSimError
from ..values import to_json

#: How many transitions a client keeps by default (``Client.keep_transitions``).
KEEP_TRANSITIONS = 100
#: How many entries each subscription's ``history`` keeps by default (``Client.keep_history``).
KEEP_HISTORY = 100


class SubscriptionError(ConvexSimError):
    """A client used wrongly: a call while disconnected, a paginated query without cursor args."""


def check_keep(name: str, keep: int | None) -> int | None:
    """``keep`` if it is None or an int >= 0 (how many entries to keep), else SubscriptionError."""
    if keep is not None and (type(keep) is not int or keep < 0):
        raise SubscriptionError(f"{name} must be None (keep everything) or an int >= 0, got {keep!r}")
    return keep


def canonical_text(value: Any) -> str:
    """A value as canonical JSON text: equal for equal Convex values."""
    return json.dumps(to_json(value), sort_keys=True, separators=(",", ":"))


@dataclass(slots=True)
class Transition:
    """One message to a client: the new values of its changed subscriptions at ``ts``.

    ``shown`` holds each update in canonical form, and ``computed_at`` the
    timestamp each update was computed at (the same as ``ts`` unless delivery
    is broken). Subscriptions not in a transition keep their previous values,
    so replaying the transitions rebuilds the client's whole view at any point.
    """

    ts: int
    updates: dict[int, Any]
    shown: dict[int, str]
    computed_at: dict[int, int] = field(default_factory=dict)


class TransitionLog(Sequence[Transition]):
    """A client's transitions, oldest first: the latest ones kept, the earlier ones dropped.

    It reads like a list of the kept transitions (``len``, indexing, slicing,
    iteration); ``append`` adds one. ``received`` counts every transition ever
    appended and ``dropped`` those let go; ``view`` is what the dropped ones
    left (each subscription's shown value after the last of them, at
    ``view_ts``), which is all :func:`check_consistency` needs of them.
    """

    def __init__(self) -> None:
        # Invariant: received == dropped + len(_kept); view is the merged ``shown`` of the dropped.
        self._kept: deque[Transition] = deque()
        self.dropped = 0
        self.view: dict[int, str] = {}
        self.view_ts: int | None = None

    @property
    def received(self) -> int:
        """Every transition appended so far, kept or dropped."""
        return self.dropped + len(self._kept)

    def append(self, transition: Transition) -> None:
        self._kept.append(transition)

    def drop_oldest(self, keep: int) -> None:
        """Let the oldest transitions go until ``keep`` remain."""
        kept = self._kept
        while len(kept) > keep:
            transition = kept.popleft()
            self.view.update(transition.shown)
            self.view_ts = transition.ts
            self.dropped += 1

    def rewind(self, received: int) -> bool:
        """Forget the transitions after the first ``received`` (a state restore); False, and
        nothing done, if some of those after it were already dropped (see :meth:`restart`)."""
        if received < self.dropped:
            return False
        while len(self._kept) > received - self.dropped:
            self._kept.pop()
        return True

    def restart(self, received: int, view: dict[int, str], ts: int | None) -> None:
        """Start afresh after ``received`` transitions, whose view was ``view`` at ``ts``."""
        self._kept.clear()
        self.dropped, self.view, self.view_ts = received, view, ts

    def __len__(self) -> int:
        return len(self._kept)

    def __iter__(self) -> Iterator[Transition]:
        return iter(self._kept)

    @overload
    def __getitem__(self, index: int) -> Transition: ...

    @overload
    def __getitem__(self, index: slice) -> list[Transition]: ...

    def __getitem__(self, index: int | slice) -> Transition | list[Transition]:
        if isinstance(index, slice):
            return list(self._kept)[index]
        return self._kept[index]

    def __repr__(self) -> str:
        return f"<TransitionLog {len(self._kept)} kept of {self.received} received>"
