"""What an uncaught ``TypeError`` from a TypeScript function meant, when it came from using
what that kind of function's ``ctx`` lacks: a query's ``ctx.db.insert``, ``ctx.runMutation``
or ``ctx.scheduler``, a mutation's ``ctx.runAction``, an action's ``ctx.db``.

The member is missing in Convex too (convex-js ``registration_impl.js`` builds each kind's
ctx), and V8 names it (``ctx.db.insert is not a function``); quickjs-ng says only ``not a
function``, so the bundle's text where the error arose says which member it was, and the
error becomes the one a Python app gets (``WriteInReadOnlyError``, ``WrongContextError``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import ConvexSimError, hide_simulator_frames, read_only_write, wrong_context
from .sourcemap import SourceMap, first_position

__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours

#: What quickjs-ng says when app code calls, or reads a member of, what a ctx lacks.
NOT_A_FUNCTION = "not a function"
UNDEFINED_MEMBER = re.compile(r"cannot read property '([\w$]+)' of undefined")
#: A call of a ctx member that some kind of function lacks (``db.`` before a write).
_CTX_CALL = re.compile(r"(\bdb\s*\??\.\s*)?\b(insert|patch|replace|delete|runMutation|runAction|vectorSearch)\s*\(")
DB_WRITES = frozenset({"insert", "patch", "replace", "delete"})
#: How many bundle lines before a frame's may hold the start of the call it is in.
CALL_LINES = 4


def _still_open(text: str) -> bool:
    """Whether a call whose arguments start with ``text`` is still open at its end."""
    return text.count("(") >= text.count(")")


def ctx_misuse(kind: str, function: str, name: str, message: str, stack: str,
               source_map: SourceMap, lines: Sequence[str]) -> ConvexSimError | None:
    """The misuse behind an uncaught JavaScript error ``name: message`` of ``function`` (a
    ``kind``), thrown at ``stack``'s first frame in the bundle whose ``lines`` are given; None
    if it is not one. quickjs-ng places the error near the call (at the object before it, or
    the last argument read), so the call is the last on that line starting before there, else
    the first after it, else the last still open on the lines before (one written over several
    lines). Where it places a member read is less exact: the whole line is searched."""
    position = first_position(stack) if name == "TypeError" else None
    if position is None:
        return None
    line, column = position
    source = source_map.locate(line, column or 1)
    if source is None or "node_modules/" in source[0]:   # not the app's own code
        return None
    before = lines[max(0, line - 1 - CALL_LINES):line - 1]
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    if message == NOT_A_FUNCTION:
        on_line = list(_CTX_CALL.finditer(current))
        earlier = "\n".join([*before, current])
        calls = ([c for c in on_line if c.start(2) < (column or 0)][-1:] or on_line[:1]
                 or [c for c in _CTX_CALL.finditer(earlier) if _still_open(earlier[c.end():])][-1:])
        if not calls:
            return None
        on_db, member = calls[-1].groups()
        if member in DB_WRITES:
            return read_only_write(member, function) if on_db and kind == "query" else None
        return wrong_context(kind, member, function, typescript=True)
    undefined = UNDEFINED_MEMBER.fullmatch(message)
    text = "\n".join([*before, current])
    owner = undefined and re.search(rf"\.(scheduler|db)\??\.{re.escape(undefined.group(1))}\b", text)
    return wrong_context(kind, owner.group(1), function, typescript=True) if owner else None
