"""Mapping lines of a bundle back to the ``.ts`` files they came from (Source Map v3).

The embedded engine reports stack frames as ``(<input>:LINE)`` in the bundle;
:class:`SourceMap` turns them into ``convex/bank.ts:12``.
"""

from __future__ import annotations

import re
from pathlib import Path

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_FRAME = re.compile(r"\(<input>:(\d+)(?::\d+)?\)")


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


class SourceMap:
    """Generated line (1-based) → (source file, original line), from a v3 source map."""

    def __init__(self, data: dict, base: Path | None = None, line_offset: int = 0) -> None:
        sources = [self._display(s, base) for s in data.get("sources", [])]
        self._lines: dict[int, tuple[str, int]] = {}
        source = original = 0
        for number, line in enumerate(data.get("mappings", "").split(";"), start=1 + line_offset):
            for segment in filter(None, line.split(",")):
                fields = _vlq_values(segment)
                if len(fields) < 4:
                    continue
                source += fields[1]
                original += fields[2]
                self._lines.setdefault(number, (sources[source], original + 1))

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
        return self._lines.get(line)

    def map_stack(self, stack: str, *, app_only: bool = False) -> str:
        """Rewrite ``(<input>:N)`` frames as ``(file.ts:line)``; with ``app_only`` keep
        only frames in the app's own files (not ``node_modules``)."""
        out = []
        for frame in stack.splitlines():
            match = _FRAME.search(frame)
            where = self.lookup(int(match.group(1))) if match else None
            if where is not None:
                frame = frame[:match.start()] + f"({where[0]}:{where[1]})" + frame[match.end():]  # type: ignore[union-attr]
            if app_only and (where is None or "node_modules/" in where[0]):
                continue
            if frame.strip():
                out.append(frame.rstrip())
        return "\n".join(out)
