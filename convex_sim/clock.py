"""The virtual clock: the single source of time for a simulator.

Like ``trio.testing.MockClock``, it moves only when told to. Time is in
milliseconds since the Unix epoch, as Convex's ``Date.now()`` and
``_creationTime`` are.
"""

from __future__ import annotations

import datetime as _dt

#: 2024-01-01T00:00:00Z: where every simulator's clock starts unless told otherwise.
DEFAULT_START_MS = 1_704_067_200_000.0


#: The latest time the clock may reach: the largest a JavaScript ``Date`` holds (year 275760).
MAX_TIME_MS = 8_640_000_000_000_000.0


def check_duration(ms: object, now_ms: float = DEFAULT_START_MS) -> float:
    """``ms`` as a float, if it is a finite number of milliseconds >= 0 that keeps a clock at
    ``now_ms`` within :data:`MAX_TIME_MS`; else ValueError."""
    if type(ms) not in (int, float) or not 0 <= ms < float("inf"):
        raise ValueError(f"advance_time: ms must be a finite number >= 0, got {ms!r}")
    if now_ms + ms > MAX_TIME_MS:
        raise ValueError(
            f"advance_time: {ms!r} ms from {now_ms:.0f} passes the latest time a clock can show "
            f"({MAX_TIME_MS:.0f} ms, the largest JavaScript Date: year 275760); advance by at "
            f"most {MAX_TIME_MS - now_ms:.0f} ms.")
    return float(ms)


def iso_ms(ms: float) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC: ``2024-01-01T00:00:00Z`` (``.250Z`` when
    the time has a fraction of a second)."""
    when = _dt.datetime.fromtimestamp(ms / 1000.0, _dt.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{when.microsecond // 1000:03d}Z" if when.microsecond else "Z")


class VirtualClock:
    """Milliseconds since the epoch; never goes backwards."""

    # Invariant: now_ms only grows.
    __slots__ = ("now_ms",)

    def __init__(self, start_ms: float = DEFAULT_START_MS) -> None:
        if not isinstance(start_ms, (int, float)) or isinstance(start_ms, bool) or start_ms < 0:
            raise ValueError(f"VirtualClock: start_ms must be a number >= 0, got {start_ms!r}")
        self.now_ms = float(start_ms)

    def advance(self, ms: float) -> float:
        """Move forward by ``ms`` (>= 0) and return the new time."""
        self.now_ms += check_duration(ms, self.now_ms)
        return self.now_ms

    def set(self, now_ms: float) -> None:
        """Move to ``now_ms``, which must not be in the past."""
        if now_ms < self.now_ms:
            raise ValueError(f"The virtual clock cannot go backwards ({now_ms} < {self.now_ms}).")
        self.now_ms = float(now_ms)

    def __repr__(self) -> str:
        return f"VirtualClock(now_ms={self.now_ms})"
