"""Reading an untrusted snapshot ZIP within size caps.

A member's declared size is checked against the caps before it is opened, and the bytes
actually inflated are counted while it is read, so a ZIP bomb stops at the cap rather than
after the memory is spent. JSON Lines members are read a line at a time (a line is capped
too), each line decoded as UTF-8 and parsed with its nesting bounded. Every problem is a
:class:`SnapshotError` naming the file, the member and the line.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import IO, Any

from ..errors import ConvexSimError, InvalidValueError
from ..values import from_json

try:
    from lzma import LZMAError
except ImportError:  # pragma: no cover - Python built without lzma
    class LZMAError(Exception):  # type: ignore[no-redef]
        """Stand-in: no LZMA member can be read then."""

#: Default cap on the bytes read from all members together (uncompressed): 1 GiB.
DEFAULT_MAX_BYTES = 1 << 30
#: Default cap on one member's size (uncompressed): 256 MiB.
DEFAULT_MAX_MEMBER_BYTES = 256 << 20
#: Longest JSON Lines line (a Convex document is at most 1 MiB; its export JSON is longer).
MAX_LINE_BYTES = 16 << 20
#: Deepest nesting of a JSON line (a Convex document nests at most 16 levels).
MAX_JSON_DEPTH = 64
_CHUNK = 1 << 20
#: What reading a damaged member raises inside ``zipfile`` and its decompressors.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, LZMAError, EOFError, OSError, ValueError,
               RuntimeError, NotImplementedError, struct.error)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class SnapshotError(ConvexSimError):
    """A snapshot ZIP that cannot be loaded: the file, member, line and field are in the
    message, with what was expected and what came."""


def kind(value: Any) -> str:
    """What sort of JSON value ``value`` is, for "got ..." in messages."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an int64", float: "a number", str: "a string",
             bytes: "bytes", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def too_deep(text: str) -> bool:
    """Whether the JSON ``text`` nests deeper than :data:`MAX_JSON_DEPTH` (brackets inside
    strings do not count); cheap when it holds few brackets."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    steps = map(_STEP.__getitem__, _BRACKETS.findall(_STRING.sub("", text)))
    return max(accumulate(steps, initial=0)) > MAX_JSON_DEPTH


class SnapshotArchive:
    """An open snapshot ZIP whose members are read within ``max_bytes`` (all members) and
    ``max_member_bytes`` (each), uncompressed."""

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> None:
        for name, cap in (("max_bytes", max_bytes), ("max_member_bytes", max_member_bytes)):
            if type(cap) is not int or cap < 1:
                raise ValueError(f"load_snapshot: {name} must be a positive int, got {cap!r}")
        self.source = Path(path)
        self.max_bytes, self.max_member_bytes = max_bytes, max_member_bytes
        self.spent = 0   # bytes inflated so far, all members
        try:
            self._zip = zipfile.ZipFile(self.source)
            self.names: list[str] = self._zip.namelist()
        except FileNotFoundError:
            raise SnapshotError(f"{self.source}: no such snapshot file") from None
        except _ZIP_ERRORS as exc:
            raise SnapshotError(f"{self.source}: not a ZIP file: {exc}") from None

    def __enter__(self) -> SnapshotArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def error(self, member: str, line: int | None, message: str) -> SnapshotError:
        """A :class:`SnapshotError` for ``member`` (and ``line``) of this file."""
        where = member if line is None else f"{member}:{line}"
        return SnapshotError(f"{self.source}: {where}: {message}")

    def _open(self, member: str) -> IO[bytes]:
        try:
            info = self._zip.getinfo(member)
        except KeyError:
            raise SnapshotError(f"{self.source}: member {member!r} is missing") from None
        size = info.file_size
        if size > self.max_member_bytes:
            raise SnapshotError(f"{self.source}: member {member!r} declares {size:,} bytes; the cap "
                                f"is {self.max_member_bytes:,} (raise max_member_bytes to load it)")
        self._charge(member, size)
        try:
            return self._zip.open(info)
        except _ZIP_ERRORS as exc:
            raise SnapshotError(f"{self.source}: member {member!r} is corrupt: {exc}") from None

    def _charge(self, member: str, size: int) -> None:
        if self.spent + size > self.max_bytes:
            raise SnapshotError(
                f"{self.source}: the snapshot holds more than {self.max_bytes:,} bytes, the cap: "
                f"member {member!r} takes {size:,} after {self.spent:,} (raise max_bytes to load it)")

    def _count(self, member: str, read: int, chunk: bytes) -> int:
        """Count ``chunk`` (the member's bytes so far were ``read``) against the caps."""
        read += len(chunk)
        if read > self.max_member_bytes:
            raise SnapshotError(f"{self.source}: member {member!r} holds more than "
                                f"{self.max_member_bytes:,} bytes, the cap (raise max_member_bytes)")
        self._charge(member, len(chunk))
        self.spent += len(chunk)
        return read

    def read(self, member: str) -> bytes:
        """All of ``member``'s bytes (a stored file), within the caps."""
        chunks, read = [], 0
        with self._guard(member, None), self._open(member) as stream:
            while chunk := stream.read(_CHUNK):
                read = self._count(member, read, chunk)
                chunks.append(chunk)
        return b"".join(chunks)

    def lines(self, member: str) -> Iterator[tuple[int, Any]]:
        """``(line number, value)`` for each non-blank line of the JSON Lines ``member``,
        values decoded from Convex's export JSON."""
        limit = min(MAX_LINE_BYTES, self.max_member_bytes)
        number = read = 0
        with self._guard(member, None):
            stream = self._open(member)
        with stream:
            while True:
                number += 1
                with self._guard(member, number):
                    raw = stream.readline(limit + 1)
                if not raw:
                    return
                read = self._count(member, read, raw)
                if len(raw) > limit:
                    raise self.error(member, number, f"expected a line of at most {limit:,} bytes, "
                                                     "got a longer one")
                if raw.strip():
                    yield number, self._parse(member, number, raw)

    def _parse(self, member: str, number: int, raw: bytes) -> Any:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(member, number, f"expected UTF-8 text, got byte 0x{raw[exc.start]:02x} "
                                             f"at column {exc.start + 1}") from None
        if too_deep(text):
            raise self.error(member, number, f"expected JSON nested at most {MAX_JSON_DEPTH} deep, "
                                             "got deeper nesting")
        try:
            data = json.loads(text)
        except ValueError as exc:   # JSONDecodeError, or an integer too long to convert
            raise self.error(member, number, f"expected a JSON document, got invalid JSON ({exc})") from None
        try:
            return from_json(data)
        except InvalidValueError as exc:
            raise self.error(member, number, f"expected a Convex value in export JSON, got {exc}") from None

    def _guard(self, member: str, line: int | None) -> _Guard:
        return _Guard(self, member, line)


class _Guard:
    """Turns what a damaged member raises while it is read into a :class:`SnapshotError`."""

    __slots__ = ("archive", "line", "member")

    def __init__(self, archive: SnapshotArchive, member: str, line: int | None) -> None:
        self.archive, self.member, self.line = archive, member, line

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind_: type | None, exc: BaseException | None, tb: object) -> bool:
        if exc is not None and isinstance(exc, _ZIP_ERRORS) and not isinstance(exc, SnapshotError):
            where = "" if self.line is None else f" (line {self.line})"
            raise SnapshotError(f"{self.archive.source}: member {self.member!r} is corrupt{where}: "
                                f"{exc}") from None
        return False
