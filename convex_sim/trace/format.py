"""The trace file: versioned JSON Lines, written atomically, read as a stream.

A trace is a header line, then one event a line (docs/trace-format.md). The
writer flushes after every event into ``<path>.partial`` and renames it to
``<path>`` on close, so a finished trace appears whole, and a crash leaves every
event written before it in the ``.partial`` file. The reader yields events one
at a time (memory bounded by the longest line) and names the file and line of
anything it cannot read.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ..errors import ConvexError, ConvexSimError
from ..values import from_json, to_json

FORMAT = "convex-sim-trace"
VERSION = 1
#: Event types a reader accepts; ``fetch`` and ``scheduled_run`` belong to the container
#: event (``call``, ``http_request``, ``clock_advance``) written after them.
EVENT_TYPES = frozenset({"call", "http_request", "clock_advance", "scheduled_run", "fetch"})
CONTAINERS = frozenset({"call", "http_request", "clock_advance"})


class TraceError(ConvexSimError):
    """A trace file that cannot be read: its file and line are in the message."""


class TraceWriter:
    """Appends events to a trace: ``<path>.partial`` while open, renamed to ``path`` on close.

    Every event is flushed as it is written, so the partial file always holds
    whole lines up to the last event.
    """

    def __init__(self, path: str | os.PathLike[str], header: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = open(self.partial, "w", encoding="utf-8")  # noqa: SIM115
        self.events = 0
        self._write({"format": FORMAT, "version": VERSION, **header})

    def _write(self, obj: Mapping[str, Any]) -> None:
        if self._file is None:
            raise TraceError(f"trace {self.path} is closed; no more events can be written")
        self._file.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
        self._file.flush()

    def write(self, event: Mapping[str, Any]) -> None:
        """Append one event (``type`` first) and flush it."""
        self.events += 1
        self._write(event)

    def close(self) -> None:
        """Finish the trace: fsync, then rename the partial file onto ``path``."""
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        os.replace(self.partial, self.path)


class TraceReader:
    """Reads a trace lazily: ``header`` at once, then ``events()`` yields ``(line, event)``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise TraceError(f"{self.path}: no such trace file")
        with open(self.path, encoding="utf-8") as file:
            first = file.readline()
        if not first:
            raise TraceError(f"{self.path}: empty file; a trace starts with its header line")
        self.header = self._parse(first, 1)
        if self.header.get("format") != FORMAT:
            raise TraceError(f"{self.path}:1: not a convex-sim trace: expected format "
                             f"{FORMAT!r}, got {self.header.get('format')!r}")
        if self.header.get("version") != VERSION:
            raise TraceError(f"{self.path}:1: unknown trace format version "
                             f"{self.header.get('version')!r}; this convex-sim reads version {VERSION}")

    def _parse(self, text: str, line: int) -> dict:
        if not text.endswith("\n"):
            raise TraceError(f"{self.path}:{line}: truncated last line (no newline at its end): "
                             f"{text[:80]!r}")
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{self.path}:{line}: not JSON ({exc.msg} at column {exc.colno}): "
                             f"{text.strip()[:80]!r}") from None
        if not isinstance(obj, dict):
            raise TraceError(f"{self.path}:{line}: expected a JSON object, got {text.strip()[:80]!r}")
        return obj

    def events(self) -> Iterator[tuple[int, dict]]:
        """Every event with its line number (the header is line 1), in file order."""
        with open(self.path, encoding="utf-8") as file:
            file.readline()
            for line, text in enumerate(file, start=2):
                if not text.strip():
                    continue
                event = self._parse(text, line)
                kind = event.get("type")
                if kind not in EVENT_TYPES:
                    raise TraceError(f"{self.path}:{line}: unknown event type {kind!r} "
                                     f"(expected one of {', '.join(sorted(EVENT_TYPES))})")
                yield line, event

    def groups(self) -> Iterator[tuple[int, dict, list[dict]]]:
        """Each container event with the nested events (fetches, scheduled runs) before it."""
        nested: list[dict] = []
        for line, event in self.events():
            if event["type"] in CONTAINERS:
                yield line, event, nested
                nested = []
            else:
                nested.append(event)


# -- encodings shared by recorder, replayer and client wrappers ------------------------

def encode_identity(identity: Any) -> dict | None:
    """A ``UserIdentity`` (or a dict of its fields) as JSON: set fields only, claims inline."""
    if identity is None:
        return None
    fields = dataclasses.asdict(identity) if dataclasses.is_dataclass(identity) else dict(identity)
    claims = fields.pop("claims", None) or {}
    out = {k: x for k, x in fields.items() if x is not None}
    out.update(claims)
    return to_json(out)


def decode_identity(data: Any) -> dict | None:
    """The fields for ``sim.with_identity(**fields)`` from an encoded identity."""
    return None if data is None else from_json(data)


def encode_error(exc: BaseException) -> dict:
    """An error as the trace keeps it: ``type``, ``message`` and, for ConvexError, ``data``."""
    if isinstance(exc, ConvexError):
        return {"type": "ConvexError", "data": to_json(exc.data)}
    data = getattr(exc, "data", None)   # the convex client's ConvexError(message, data)
    if type(exc).__name__ == "ConvexError":
        return {"type": "ConvexError", "data": to_json(data)}
    return {"type": type(exc).__name__, "message": str(exc)}


def outcome_fields(result: Any = None, error: BaseException | None = None) -> dict:
    """``{"result": ...}`` or ``{"error": ...}`` for an event."""
    if error is not None:
        return {"error": encode_error(error)}
    return {"result": to_json(result)}
