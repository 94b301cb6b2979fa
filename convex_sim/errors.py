"""The error types of convex-sim.

Two families, kept apart on purpose:

* :class:`ConvexError` is the app's own error, raised by app code to send
  structured ``data`` to the caller (as ``ConvexError`` does in Convex).
* :class:`ConvexSimError` and its subclasses are raised by the simulator for
  every misuse: a value that does not match a validator, a write in a query,
  an unknown table or index, an exceeded limit, too much contention. Their
  messages are plain sentences naming the function, the field path, what was
  expected and what came.
"""

from __future__ import annotations

import os
from typing import Any

#: The folder of the convex_sim package (its own frames start with it).
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class ConvexError(Exception):
    """An application error whose ``data`` reaches the caller unchanged."""

    def __init__(self, data: Any = None) -> None:
        self.data = data
        super().__init__(data if isinstance(data, str) else repr(data))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConvexError) and other.data == self.data

    def __hash__(self) -> int:
        return hash(repr(self.data))


class ConvexSimError(Exception):
    """Base class of every error the simulator raises for a misuse."""


class AppCodeError(Exception):
    """An exception the app's JavaScript threw, carried into Python (``convex_sim.js.JsError``):
    the app's own error, as a Python app's exception is, so pytest shows the app's lines
    rather than convex-sim's frames."""


class InvalidValueError(ConvexSimError, ValueError):
    """A Python object that is not a Convex value, or breaks a document rule."""


class ValidationError(ConvexSimError, ValueError):
    """A value that does not match its validator."""


class SchemaError(ConvexSimError):
    """A schema or table definition that Convex would reject."""


class InvalidIdError(ConvexSimError, ValueError):
    """A string that is not a document ID, or an ID of another table."""


class UnknownTableError(ConvexSimError, KeyError):
    """A table that the schema does not declare."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownIndexError(ConvexSimError, KeyError):
    """An index that the table does not declare."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class IndexRangeError(ConvexSimError):
    """An index range expression that breaks Convex's ``withIndex`` rules."""


class QueryError(ConvexSimError):
    """A query used in a way Convex forbids (ordered twice, iterated twice, ...)."""


class LimitExceededError(ConvexSimError):
    """A per-transaction or per-document limit was exceeded."""


class UserTimeoutError(LimitExceededError):
    """App code ran longer than its user-code time limit (1 s for a query or mutation, 10 min
    for an action). As in Convex, app code cannot catch it: it ends the whole call, nested
    calls included."""


class OutOfMemoryError(LimitExceededError):
    """App JavaScript used more memory than its limit (64 MiB in Convex's runtime, 512 MiB in
    Node.js). The engine frees what the call allocated and serves the next call."""


class ContentionError(ConvexSimError):
    """A mutation kept conflicting with concurrent commits and gave up."""


class WriteConflict(ConvexSimError):
    """A transaction's read set was invalidated by a concurrent commit.

    Raised by :meth:`Transaction.commit`; the runtime retries the mutation.
    ``conflict`` describes the first write that intersected the read set.
    """

    def __init__(self, message: str, conflict: Any = None) -> None:
        super().__init__(message)
        self.conflict = conflict


class TransactionClosedError(ConvexSimError):
    """A transaction used after it committed or was aborted."""


class WrongContextError(ConvexSimError, AttributeError):
    """A ``ctx`` attribute that this kind of function does not have: ``ctx.db`` in an action,
    ``ctx.run_mutation`` in a query. Also an ``AttributeError``, so ``hasattr`` stays false."""


class WriteInReadOnlyError(WrongContextError):
    """A write attempted from a query (or another read-only context)."""


#: What each kind of function offers instead of a ctx attribute it lacks: name -> kinds -> hint.
_ELSEWHERE: dict[str, tuple[tuple[str, ...], str]] = {
    "db": (("action",), "actions have no ctx.db; read and write through "
           "`await ctx.run_query(...)` / `await ctx.run_mutation(...)`"),
    "run_mutation": (("query",), "queries are read-only; call it from a mutation or an action"),
    "run_action": (("query", "mutation"), "only actions run actions; schedule it with "
                   "ctx.scheduler.run_after(0, ...) from a mutation"),
    "vector_search": (("query", "mutation"), "vector search runs in actions only"),
}
#: The same for TypeScript functions, whose ctx members are camelCase (convex-js
#: ``registration_impl.js``: a query's ctx has no ``runMutation``, ``runAction`` or ``scheduler``).
_ELSEWHERE_TS: dict[str, tuple[tuple[str, ...], str]] = {
    "db": (("action",), "actions have no ctx.db; read and write through "
           "`await ctx.runQuery(...)` / `await ctx.runMutation(...)`"),
    "runMutation": (("query",), "queries are read-only; call it from a mutation or an action"),
    "runAction": (("query", "mutation"), "only actions run actions; schedule it with "
                  "ctx.scheduler.runAfter(0, ...) from a mutation"),
    "scheduler": (("query",), "queries are read-only; schedule from a mutation or an action"),
    "vectorSearch": (("query", "mutation"), "vector search runs in actions only"),
}


def wrong_context(kind: str, name: str, function: str, *,
                  typescript: bool = False) -> WrongContextError | None:
    """The error for ``ctx.<name>`` in a ``kind`` function, if ``name`` is a ctx attribute of
    another kind of function; None for a name no context has. ``typescript`` names the
    TypeScript ctx members (``runMutation``)."""
    kinds, hint = (_ELSEWHERE_TS if typescript else _ELSEWHERE).get(name, ((), ""))
    if kind not in kinds:
        return None
    article = "an" if kind == "action" else "a"
    return WrongContextError(f"ctx.{name} is not available in {function} ({article} {kind}): {hint}.")


def read_only_write(op: str, function: str) -> WriteInReadOnlyError:
    """The error for ``ctx.db.<op>`` (a write) in a query."""
    return WriteInReadOnlyError(
        f"queries are read-only: ctx.db.{op} is not available in {function}; use a mutation.")


def add_note(exc: BaseException, note: str) -> BaseException:
    """Attach ``note`` to ``exc`` once (PEP 678), keeping its type."""
    notes = getattr(exc, "__notes__", ())
    if note not in notes:
        exc.add_note(note)
    return exc


def hide_simulator_frames(excinfo: Any) -> bool:
    """convex-sim's modules set ``__tracebackhide__`` to this: pytest then leaves their frames
    out of a failure report, so the app's own line follows the test's. An exception that is
    neither an app error nor a misuse error and was raised inside convex-sim (a simulator
    bug) keeps them; ``pytest --full-trace`` always shows every frame."""
    exc = getattr(excinfo, "value", None)
    if exc is None or isinstance(exc, ConvexError | ConvexSimError | AppCodeError):
        return True
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is None or not tb.tb_frame.f_code.co_filename.startswith(PACKAGE_DIR)
