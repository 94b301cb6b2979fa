"""Reading JSON Lines input that may be torn, damaged or hostile: traces and history files.

Each line is read as bytes with a size cap (a longer line is refused after reading at
most one byte more than the cap), decoded as UTF-8, parsed as one JSON value (``NaN``
and ``Infinity`` are not JSON) and its nesting depth bounded, so code that walks the
value afterwards cannot exhaust the stack. A last line with no newline at its end that
does not parse is *torn*: a writer stopped in the middle of it. Whether that is an error
or a note is the caller's choice. Every problem is raised as the caller's error class,
its message starting with where it is.

``check_type`` and ``describe`` give field errors one wording: ``field 'x' expected str
or null, got 5``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from .errors import ConvexSimError

#: Default cap on one line, newline included: a call event holds its arguments and its
#: result (16 MiB each at most in Convex) with room to spare.
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
#: Default cap on how deeply arrays and objects nest in one line. Convex values nest at
#: most 16 levels; an event or a key adds a few around them.
DEFAULT_MAX_DEPTH = 64

#: JSON type names as messages spell them, with the Python types each admits.
_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "number": (int, float), "bool": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),),
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _too_deep(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels in ``value`` (iteratively)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def describe(value: Any, limit: int = 80) -> str:
    """A value for an error message: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def parse_line(raw: bytes | str, where: str, error: type[ConvexSimError], *,
               max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """One line as a JSON value; ``error(f"{where}: ...")`` for anything else."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{where}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset "
                        f"{exc.start} of the line)") from None
    else:
        text = raw
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise error(f"{where}: nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not JSON ({exc.msg} at column {exc.colno}): "
                    f"{describe(text.strip())}") from None
    except ValueError as exc:   # NaN, Infinity, an integer of thousands of digits
        raise error(f"{where}: not JSON ({exc})") from None
    opened = text.count("[") + text.count("{")   # fewer brackets than the limit: no need to walk
    if opened > max_depth and _too_deep(value, max_depth):
        raise error(f"{where}: nested deeper than {max_depth} levels")
    return value


def read_lines(source: IO[bytes] | Iterable[bytes | str], where: Callable[[int], str],
               error: type[ConvexSimError], *, first_line: int = 1,
               max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, max_depth: int = DEFAULT_MAX_DEPTH,
               torn: list[str] | None = None) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of ``source`` (a binary file, read
    line by line within the cap, or an iterable of lines).

    A torn last line raises ``error`` unless ``torn`` is a list: then a note naming it
    is appended there and reading stops.
    """
    number = first_line - 1
    for raw, last in _capped(source, max_line_bytes):
        number += 1
        if len(raw) > max_line_bytes:
            raise error(f"{where(number)}: line longer than {max_line_bytes} bytes, the limit "
                        "(max_line_bytes, --max-line-bytes)")
        if not raw.strip():
            continue
        try:
            value = parse_line(raw, where(number), error, max_depth=max_depth)
        except ConvexSimError:
            if not last or raw.endswith(b"\n" if isinstance(raw, bytes) else "\n"):
                raise
            if torn is None:
                raise error(f"{where(number)}: truncated last line (no newline at its end): "
                            f"{describe(raw[:80])}") from None
            torn.append(f"{where(number)}: torn last line (no newline at its end and not "
                        "complete JSON), skipped: the writer stopped in the middle of it")
            return
        yield number, value


def _capped(source: IO[bytes] | Iterable[bytes | str], cap: int) -> Iterator[tuple[bytes | str, bool]]:
    """``(line, is the last)`` for each line of ``source``; from a file, each line is read
    holding at most ``cap + 1`` bytes."""
    readline = getattr(source, "readline", None)
    if readline is not None:
        while raw := readline(cap + 1):
            yield raw, not raw.endswith(b"\n" if isinstance(raw, bytes) else "\n")
        return
    previous = None
    for raw in source:
        if previous is not None:
            yield previous, False
        previous = raw
    if previous is not None:
        yield previous, True


@functools.cache
def _accepted(kinds: str) -> tuple[tuple[type, ...], bool]:
    types = tuple(t for kind in kinds.split(" or ") for t in _KINDS[kind])
    return types, bool in types


def check_type(value: Any, kinds: str, where: str, field: str, error: type[ConvexSimError]) -> Any:
    """``value`` if its JSON type is one of ``kinds`` (``"int or null"``); else ``error``
    naming the field, what was expected and what came. A bool is not a number here."""
    types, bools = _accepted(kinds)
    if isinstance(value, types) and (bools or not isinstance(value, bool)):
        return value
    raise error(f"{where}: field {field!r} expected {kinds}, got {describe(value)}")
