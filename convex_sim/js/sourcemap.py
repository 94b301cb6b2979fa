"""Mapping positions in a bundle back to the ``.ts`` files they came from (Source Map v3).

The embedded engine reports stack frames as ``(<input>:LINE:COLUMN)`` in the
bundle; :class:`SourceMap` turns them into ``convex/bank.ts:12:7``, and
:meth:`SourceMap.app_frames` picks out the frames in the app's own files (the
user's call site first), for the ``at convex/bank.ts:12:7 (transfer)`` notes
errors carry.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_FRAME = re.compile(r"\(<input>:(\d+)(?::(\d+))?\)")
#: A frame's function name: ``at name (<input>:3:5)``.
_NAME = re.compile(r"^\s*at (?:async )?(.*?) \(")


def _vlq_values(segment: str) -> list[int]:
    """Decode one base64 VLQ segment into its integers."""
    values, shift, value = [], 0, 0
    for ch in segment:
        digit = _B64[ch]
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        shift = value = 0
    return values


class Frame(NamedTuple):
    """One stack frame in an app file: the JavaScript function's name and the ``.ts`` position."""

    name: str
    file: str
    line: int
    column: int

    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class SourceMap:
    """Generated position (1-based line and column) → (source file, original line, column),
    from a v3 source map. Lines are decoded when first asked for; the first segment of each
    line is kept at once, for frames without a column."""

    def __init__(self, data: dict, base: Path | None = None, line_offset: int = 0) -> None:
        # Nothing is decoded until a stack needs it: most loads never map a frame, and a
        # bundle's map has hundreds of thousands of segments.
        self._data, self._base, self._line_offset = data, base, line_offset
        self._ready = False

    def _decode(self) -> None:
        """Index the mappings: each line's first original position, and its raw segments."""
        data = self._data
        self._sources = [self._display(s, self._base) for s in data.get("sources", [])]
        self._lines: dict[int, tuple[str, int]] = {}
        #: Each generated line's segments, and the (source, line, column) state before it.
        self._raw: dict[int, tuple[str, tuple[int, int, int]]] = {}
        self._decoded: dict[int, list[tuple[int, int, int, int]]] = {}
        source = original = column = 0
        for number, line in enumerate(data.get("mappings", "").split(";"), start=1 + self._line_offset):
            if line:
                self._raw[number] = (line, (source, original, column))
            for segment in filter(None, line.split(",")):
                fields = _vlq_values(segment)
                if len(fields) < 4:
                    continue
                source += fields[1]
                original += fields[2]
                column += fields[3]
                self._lines.setdefault(number, (self._sources[source], original + 1))
        self._ready = True

    @staticmethod
    def _display(source: str, base: Path | None) -> str:
        """``../../../convex/bank.ts`` → ``convex/bank.ts`` (relative to the project)."""
        if base is None:
            return source
        resolved = (base / source).resolve()
        for parent in resolved.parents:
            if (parent / "convex").is_dir() and (parent / "node_modules").is_dir():
                return resolved.relative_to(parent).as_posix()
        return source

    def lookup(self, line: int) -> tuple[str, int] | None:
        """Where generated ``line`` came from, or None."""
        if not self._ready:
            self._decode()
        return self._lines.get(line)

    def locate(self, line: int, column: int) -> tuple[str, int, int] | None:
        """Where generated ``line`` at (1-based) ``column`` came from: file, line, column."""
        segments = self._segments(line)
        best = None
        for generated, source, original, original_column in segments:
            if generated > column - 1:
                break
            best = (self._sources[source], original + 1, original_column + 1)
        if best is None and segments:
            _generated, source, original, original_column = segments[0]
            best = (self._sources[source], original + 1, original_column + 1)
        return best

    def _segments(self, line: int) -> list[tuple[int, int, int, int]]:
        """Generated line ``line``'s mapped segments: (column, source, line, column), 0-based."""
        if not self._ready:
            self._decode()
        decoded = self._decoded.get(line)
        if decoded is None:
            text, (source, original, column) = self._raw.get(line, ("", (0, 0, 0)))
            decoded, generated = [], 0
            for segment in filter(None, text.split(",")):
                fields = _vlq_values(segment)
                generated += fields[0]
                if len(fields) < 4:
                    continue
                source, original, column = source + fields[1], original + fields[2], column + fields[3]
                decoded.append((generated, source, original, column))
            self._decoded[line] = decoded
        return decoded

    def _where(self, match: re.Match[str]) -> tuple[str, int, int | None] | None:
        line = int(match.group(1))
        if match.group(2) is not None:
            return self.locate(line, int(match.group(2)))
        found = self.lookup(line)
        return None if found is None else (found[0], found[1], None)

    def map_stack(self, stack: str, *, app_only: bool = False) -> str:
        """Rewrite ``(<input>:N:C)`` frames as ``(file.ts:line:column)``; with ``app_only`` keep
        only frames in the app's own files (not ``node_modules``)."""
        out = []
        for frame in stack.splitlines():
            match = _FRAME.search(frame)
            where = self._where(match) if match else None
            if where is not None:
                file, line, column = where
                place = f"{file}:{line}" + (f":{column}" if column is not None else "")
                frame = frame[:match.start()] + f"({place})" + frame[match.end():]  # type: ignore[union-attr]
            if app_only and (where is None or "node_modules/" in where[0]):
                continue
            if frame.strip():
                out.append(frame.rstrip())
        return "\n".join(out)

    def app_frames(self, stack: str) -> list[Frame]:
        """The frames of ``stack`` in the app's own files, innermost (the call site) first. A
        frame outside the bundle (the host's own JavaScript) below an app frame ends the list:
        what lies beyond belongs to the function that called this one."""
        frames: list[Frame] = []
        for text in stack.splitlines():
            match = _FRAME.search(text)
            if match is None:
                continue
            where = self._where(match)
            if where is None:
                if frames:
                    break
                continue
            file, line, column = where
            if "node_modules/" in file:
                continue
            name = _NAME.match(text)
            frames.append(Frame(name.group(1) if name else "", file, line, column or 0))
        return frames


def first_position(stack: str) -> tuple[int, int | None] | None:
    """The bundle line and column of a stack's innermost frame in the bundle, or None."""
    match = _FRAME.search(stack)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)) if match.group(2) is not None else None
