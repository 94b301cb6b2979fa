"""The trace file: versioned JSON Lines, written atomically, read as a stream.

A trace is a header line, then one event a line (docs/trace-format.md). The
writer puts each event into ``<path>.partial`` with one ``write`` of the whole
line and renames the file to ``<path>`` on close, so a finished trace appears
whole, and a process killed mid-run leaves every event written before it, at
most the last line torn. The reader yields events one at a time (memory bounded
by the longest line, which is capped), checks every field it knows, skips a
torn last line with a note, and names the file, line and field of anything it
cannot read.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..clock import MAX_TIME_MS
from ..errors import ConvexError, ConvexSimError
from ..jsonlines import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LINE_BYTES, check_type, describe, read_lines
from ..values import from_json, to_json

FORMAT = "convex-sim-trace"
VERSION = 1
#: Event types a reader accepts; ``fetch`` and ``scheduled_run`` belong to the container
#: event (``call``, ``http_request``, ``clock_advance``) written after them.
EVENT_TYPES = frozenset({"call", "http_request", "clock_advance", "scheduled_run", "fetch"})
CONTAINERS = frozenset({"call", "http_request", "clock_advance"})
CALL_KINDS = ("query", "mutation", "action", "run")
CLOCK_OPS = ("advance_time", "finish_in_progress_scheduled_functions", "finish_all_scheduled_functions")

#: The fields a reader checks, per line kind: name -> (JSON types, required). Fields not
#: listed are kept and ignored. Values in Convex's JSON encoding are checked apart.
_WHEN = {"start": ("number or null", False), "end": ("number or null", False)}
_HTTP = {"method": ("str", True), "url": ("str", True), "headers": ("object or null", False),
         "status": ("int", False), "response_headers": ("object or null", False)}
FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "header": {"app": ("str or null", False), "seed": ("int or null", False),
               "clock_start": ("number or null", False), "fetches": ("str or null", False),
               "source": ("str or null", False)},
    "call": {"kind": ("str", True), "client": ("str or null", False), "args": ("object or null", False),
             "identity": ("object or null", False), "snapshot_ts": ("int or null", False),
             "commit_ts": ("int or null", False), "error": ("object", False),
             "writes": ("array", False), **_WHEN},
    "http_request": {**_HTTP, "client": ("str or null", False), "identity": ("object or null", False),
                     **_WHEN},
    "clock_advance": {"op": ("str", True), "args": ("array", False), "from": ("number or null", False),
                      "to": ("number or null", False)},
    "scheduled_run": {"path": ("str", True), "job": ("str or null", False),
                      "outcome": ("str or null", False), "at": ("number or null", False)},
    "fetch": {**_HTTP, "status": ("int", True)},
}
#: Fields holding Convex-encoded values, per event type (checked by decoding them).
_VALUES = {"call": ("args", "result"), "http_request": ("body", "response_body"),
           "fetch": ("body", "response_body"), "scheduled_run": (), "clock_advance": ()}
_BYTES = {"http_request": ("body", "response_body"), "fetch": ("body", "response_body")}


class TraceError(ConvexSimError):
    """A trace file that cannot be read: its file and line are in the message."""


class TraceWriter:
    """Appends events to a trace: ``<path>.partial`` while open, renamed to ``path`` on close.

    Each line goes out in one ``os.write`` of the whole line (nothing is buffered in the
    process), so the partial file always holds whole lines up to the last event, and a
    process killed mid-write can tear only the last one.
    """

    def __init__(self, path: str | os.PathLike[str], header: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        self.events = 0
        self._write({"format": FORMAT, "version": VERSION, **header})

    def _write(self, obj: Mapping[str, Any]) -> None:
        if self._fd is None:
            raise TraceError(f"trace {self.path} is closed; no more events can be written")
        data = (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
        written = os.write(self._fd, data)
        while written < len(data):   # a regular file takes it all at once, short of a full disk
            written += os.write(self._fd, data[written:])

    def write(self, event: Mapping[str, Any]) -> None:
        """Append one event (``type`` first) as one line."""
        self.events += 1
        self._write(event)

    def close(self) -> None:
        """Finish the trace: fsync, then rename the partial file onto ``path``."""
        if self._fd is None:
            return
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        os.replace(self.partial, self.path)


class TraceReader:
    """Reads a trace lazily: ``header`` at once, then ``events()`` yields ``(line, event)``.

    Lines longer than ``max_line_bytes`` or nested deeper than ``max_depth`` are errors.
    A torn last line (a writer killed in the middle of it) is skipped, and ``notes`` says so
    once ``events()`` has reached it.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                 max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.path = Path(path)
        self.max_line_bytes, self.max_depth = max_line_bytes, max_depth
        self.notes: list[str] = []
        if not self.path.is_file():
            raise TraceError(f"{self.path}: no such trace file")
        with open(self.path, "rb") as file:
            first = next(self._lines(file, 1, None), None)
        if first is None:
            raise TraceError(f"{self.path}: empty file; a trace starts with its header line")
        line, header = first
        where = f"{self.path}:{line}"
        if line != 1:
            raise TraceError(f"{where}: expected the header on line 1, found a blank line before it")
        if header.get("format") != FORMAT:
            raise TraceError(f"{where}: not a convex-sim trace: expected format "
                             f"{FORMAT!r}, got {describe(header.get('format'))}")
        if type(header.get("version")) is not int or header["version"] != VERSION:
            raise TraceError(f"{where}: unknown trace format version "
                             f"{describe(header.get('version'))}; this convex-sim reads version {VERSION}")
        _check_fields(header, FIELDS["header"], where)
        clock_start = header.get("clock_start")
        if clock_start is not None and not 0 <= clock_start <= MAX_TIME_MS:
            raise TraceError(f"{where}: field 'clock_start' expected a time in ms between 0 and "
                             f"{MAX_TIME_MS:.0f}, got {describe(clock_start)}")
        self.header = header

    def _lines(self, file: Any, first_line: int, torn: list[str] | None) -> Iterator[tuple[int, dict]]:
        for line, obj in read_lines(file, lambda n: f"{self.path}:{n}", TraceError, first_line=first_line,
                                    max_line_bytes=self.max_line_bytes, max_depth=self.max_depth,
                                    torn=torn):
            if not isinstance(obj, dict):
                raise TraceError(f"{self.path}:{line}: expected a JSON object, got {describe(obj)}")
            yield line, obj

    def events(self) -> Iterator[tuple[int, dict]]:
        """Every event with its line number (the header is line 1), in file order, each
        checked (``check_event``); a torn last line ends it with a note in ``notes``."""
        self.notes = []
        with open(self.path, "rb") as file:
            file.readline(self.max_line_bytes + 1)
            for line, event in self._lines(file, 2, self.notes):
                check_event(event, f"{self.path}:{line}")
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


# -- checking one event ------------------------------------------------------------------------

def _check_fields(obj: Mapping[str, Any], fields: Mapping[str, tuple[str, bool]], where: str,
                  prefix: str = "") -> None:
    for name, (kinds, required) in fields.items():
        if name in obj:
            check_type(obj[name], kinds, where, prefix + name, TraceError)
        elif required:
            raise TraceError(f"{where}: missing field {prefix + name!r} ({kinds})")


def _one_of(value: Any, choices: tuple[str, ...], where: str, name: str) -> None:
    if value not in choices:
        raise TraceError(f"{where}: field {name!r} expected one of {', '.join(choices)}, "
                         f"got {describe(value)}")


def _first_bad(value: Any, path: str) -> str:
    """The path of the innermost part of ``value`` that Convex's JSON encoding refuses."""
    if isinstance(value, dict) and not (len(value) == 1 and next(iter(value)).startswith("$")):
        children = [(f"{path}.{key}", child) for key, child in value.items()]
    elif isinstance(value, list):
        children = [(f"{path}[{i}]", child) for i, child in enumerate(value)]
    else:
        return path
    for where, child in children:
        try:
            from_json(child)
        except ConvexSimError:
            return _first_bad(child, where)
    return path


def decode_field(value: Any, where: str, name: str) -> Any:
    """A field in Convex's JSON encoding, decoded; a TraceError naming the innermost bad part."""
    try:
        return from_json(value)
    except ConvexSimError as exc:
        raise TraceError(f"{where}: field {_first_bad(value, name)!r}: {exc}") from None


def check_event(event: Mapping[str, Any], where: str) -> None:
    """Raise TraceError (naming ``where``, the field, what was expected and what came)
    unless ``event`` is a well-formed trace event: a known ``type``, each known field of
    the right JSON type, values that decode, and what replay relies on present."""
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise TraceError(f"{where}: unknown event type {describe(kind)} "
                         f"(expected one of {', '.join(sorted(EVENT_TYPES))})")
    _check_fields(event, FIELDS[kind], where)
    for name in _VALUES[kind]:
        if name in event:
            decode_field(event[name], where, name)
    for name in _BYTES.get(kind, ()):
        decoded = decode_field(event.get(name), where, name)
        if decoded is not None and type(decoded) is not bytes:
            raise TraceError(f"{where}: field {name!r} expected {{\"$bytes\": base64}} or null, "
                             f"got {describe(event[name])}")
    for name in ("headers", "response_headers"):
        for key, value in (event.get(name) or {}).items():
            check_type(value, "str", where, f"{name}.{key}", TraceError)
    if "identity" in event:
        _check_identity(event["identity"], where)
    if kind == "call":
        _check_call(event, where)
    elif kind == "clock_advance":
        _one_of(event["op"], CLOCK_OPS, where, "op")
        args = event.get("args", [])
        for i, value in enumerate(args):
            check_type(value, "number", where, f"args[{i}]", TraceError)
        if event["op"] == "advance_time" and len(args) != 1:
            raise TraceError(f"{where}: field 'args' expected [ms] for advance_time, got {describe(args)}")
        if len(args) > 1:
            raise TraceError(f"{where}: field 'args' expected [] or [max_iterations] for "
                             f"{event['op']}, got {describe(args)}")


def _check_identity(identity: Any, where: str) -> None:
    decoded = decode_field(identity, where, "identity")
    for name in ("subject", "issuer", "token_identifier"):
        if decoded is not None and name in decoded:
            check_type(decoded[name], "str", where, f"identity.{name}", TraceError)


def _check_call(event: Mapping[str, Any], where: str) -> None:
    _one_of(event["kind"], CALL_KINDS, where, "kind")
    check_type(event.get("path"), "str or null" if event["kind"] == "run" else "str", where, "path",
               TraceError)
    error = event.get("error")
    if error is not None:
        _check_fields(error, {"type": ("str", True), "message": ("str or null", False)}, where, "error.")
        if "data" in error:
            decode_field(error["data"], where, "error.data")
    for i, write in enumerate(event.get("writes", [])):
        name = f"writes[{i}]"
        check_type(write, "object", where, name, TraceError)
        _check_fields(write, {"table": ("str", True), "id": ("str", True), "doc": ("object or null", True)},
                      where, f"{name}.")
        decode_field(write["doc"], where, f"{name}.doc")


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
    # A message may quote what the app refused (a lone surrogate): kept as its escape text.
    message = str(exc).encode("utf-8", "backslashreplace").decode("utf-8")
    return {"type": type(exc).__name__, "message": message}


def outcome_fields(result: Any = None, error: BaseException | None = None) -> dict:
    """``{"result": ...}`` or ``{"error": ...}`` for an event."""
    if error is not None:
        return {"error": encode_error(error)}
    return {"result": to_json(result)}
