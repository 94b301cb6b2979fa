"""``query.paginate(...)``: one page of a query, as Convex's ``1.0/queryPage`` returns it.

The rules, from convex-backend ``crates/isolate/src/environment/udf/async_syscall.rs``
(``query_page``, ``read_page_from_query``) and ``crates/database/src/query/index_range.rs``:

* ``num_items`` must be at least 1; ``maximum_rows_read``/``maximum_bytes_read``, if
  given, must be greater than 0.
* Rows are read until the page holds ``num_items`` documents, the range ends, or a
  read budget is spent: ``maximum_rows_read`` rows scanned (filtered out or not), or
  ``maximum_bytes_read`` bytes of scanned documents (checked before each further row,
  so a page always scans at least one). A spent budget ends the page early with
  ``page_status == "SplitRequired"``; a page past three quarters of a budget (or of
  the transaction's read limits), or longer than 6,144 rows, says ``"SplitRecommended"``.
* ``is_done`` only when the range was read to its end: a page that fills up on the
  very last row is not done (the next page is empty and done). convex-test looks one
  row ahead here; Convex does not.
* ``split_cursor``: when more than two rows were scanned, the position after the
  middle one (``intermediate_cursors[len / 2]``), so a client can split the page in two.
* With ``end_cursor`` the page runs to that position whatever ``num_items`` and the
  budgets say, and ends there (not done).
* One ``paginate`` per function execution.

Cursors are index keys, not offsets, so they stay valid when documents are inserted
or deleted around them. A cursor also carries its query's fingerprint
(:meth:`~convex_sim.queries.Query.fingerprint`): used with another query (another range,
filter or order), it is refused with Convex's ``InvalidCursor`` error
(``crates/database/src/query/mod.rs``, ``DeveloperQuery::new_bounded`` and ``invalid_cursor``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import limits
from .database import BOTTOM, TOP, field_value
from .errors import ConvexError, QueryError
from .validators import v
from .values import UNDEFINED, copy_value, format_value, from_json, sort_key, to_json

if TYPE_CHECKING:
    from .queries import Query

END_CURSOR = "_end"
#: convex-backend async_syscall.rs ``SOFT_MAX_PAGE_LEN = soft_data_limit(8192)``.
SOFT_MAX_PAGE_LEN = 8192 * 3 // 4
_PAGINATED = "paginated"  # the transaction's extras key: this execution already paginated

#: The validator for a function argument that takes pagination options
#: (Convex's ``paginationOptsValidator``).
pagination_opts_validator = v.object({
    "num_items": v.number(),
    "cursor": v.union(v.string(), v.null()),
    "end_cursor": v.optional(v.union(v.string(), v.null())),
    "id": v.optional(v.number()),
    "maximum_rows_read": v.optional(v.number()),
    "maximum_bytes_read": v.optional(v.number()),
})

_KEYS = {"num_items": "numItems", "cursor": "cursor", "end_cursor": "endCursor",
         "maximum_rows_read": "maximumRowsRead", "maximum_bytes_read": "maximumBytesRead",
         "id": "id"}


class InvalidCursorError(ConvexError):
    """A cursor used with a query other than the one that made it: a ``ConvexError`` whose
    data is ``{"isConvexSystemError": True, "paginationError": "InvalidCursor"}``, as Convex
    throws it (``invalid_cursor`` in crates/database/src/query/mod.rs), so that a paginated
    client can start over."""

    MESSAGE = ("InvalidCursor: Tried to run a query starting from a cursor, but it looks like "
               "this cursor is from a different query.")

    def __init__(self) -> None:
        super().__init__({"isConvexSystemError": True, "paginationError": "InvalidCursor"})
        self.args = (self.MESSAGE,)


def encode_cursor(fingerprint: str, values: list[Any]) -> str:
    """A cursor of the query ``fingerprint`` for the position just after the index key ``values``."""
    payload = [fingerprint, [{"$undefined": None} if x is UNDEFINED else to_json(x) for x in values]]
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_cursor(cursor: str, fingerprint: str) -> tuple | None:
    """The index key a cursor of the query ``fingerprint`` points at, ``None`` for the end
    cursor; a cursor of another query is an :class:`InvalidCursorError`."""
    if cursor == END_CURSOR:
        return None
    try:
        cursor_fingerprint, values = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        decoded = [UNDEFINED if x == {"$undefined": None} else from_json(x) for x in values]
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise QueryError(f"paginate: {format_value(cursor)} is not a cursor returned by paginate.") from None
    if cursor_fingerprint != fingerprint:
        raise InvalidCursorError()
    return tuple(sort_key(x) for x in decoded)


def parse_options(options: Any, where: str) -> dict:
    """The options in snake_case (camelCase accepted), checked."""
    if not isinstance(options, Mapping):
        raise QueryError(f"{where}: paginate expects a dict like "
                         f'{{"num_items": 10, "cursor": None}}, got {format_value(options)}')
    camel = {c: s for s, c in _KEYS.items()}
    opts = {}
    for key, value in options.items():
        name = key if key in _KEYS else camel.get(key)
        if name is None:
            raise QueryError(f"{where}: paginate got an unknown option {key!r}; known options: {sorted(_KEYS)}")
        opts[name] = value
    for key in ("num_items", "maximum_rows_read", "maximum_bytes_read"):
        n = opts.get(key)
        if type(n) is float and n.is_integer():  # a JavaScript number, as v.number() gives
            opts[key] = n = int(n)
        if (n is not None or key == "num_items") and (type(n) is not int or n <= 0):
            raise QueryError(f"{where}: paginate {key} must be an int > 0, got {n!r}"
                             + (" (Convex: \"Must request at least 1 document while paginating\")"
                                if key == "num_items" else ""))
    for key in ("cursor", "end_cursor"):
        if opts.get(key) is not None and not isinstance(opts[key], str):
            raise QueryError(f"{where}: paginate {key} must be a str or None, got {opts[key]!r}")
    return opts


def paginate(query: Query, options: Mapping[str, Any]) -> dict:
    """One page of ``query``: ``{"page", "is_done", "continue_cursor", "split_cursor",
    "page_status"}`` (see the module docstring for the rules)."""
    where = query._where()
    opts = parse_options(options, where)
    txn = query._txn
    query._consume("paginate")
    result = _page(query, opts)
    if txn.extras.get(_PAGINATED):  # checked after the page is read, as query_page does
        raise QueryError(f"{where}: This query or mutation function ran multiple paginated "
                         "queries. Convex only supports a single paginated query in each function.")
    txn.extras[_PAGINATED] = True
    return result


def _page(query: Query, opts: dict) -> dict:
    txn = query._txn
    index, (lo, hi) = query._index, query._range
    descending = query._order == "desc"
    fingerprint = query.fingerprint()
    cursor_key = decode_cursor(opts["cursor"], fingerprint) if opts.get("cursor") else ()
    if cursor_key is None:  # the end cursor: nothing left
        return _result([], True, END_CURSOR, None, None)
    if cursor_key:
        lo, hi = (lo, (*cursor_key, BOTTOM)) if descending else ((*cursor_key, TOP), hi)
    end_cursor = opts.get("end_cursor")
    if end_cursor:
        end_key = decode_cursor(end_cursor, fingerprint)
        if end_key is not None:
            lo, hi = ((*end_key,), hi) if descending else (lo, (*end_key, TOP))
    pinned = bool(end_cursor)  # runs to its end cursor: no page size, no budgets
    max_rows = None if pinned else opts.get("maximum_rows_read")
    max_bytes = None if pinned else opts.get("maximum_bytes_read")
    page: list[dict] = []
    scanned: list[dict] = []
    status: str | None = None
    exhausted = False
    start_bytes = txn.bytes_read
    rows = query._scan(lo, hi)
    while pinned or len(page) < opts["num_items"]:
        if (max_rows is not None and len(scanned) >= max_rows) or \
                (max_bytes is not None and txn.bytes_read - start_bytes >= max_bytes):
            status = "SplitRequired"
            break
        row = next(rows, None)
        if row is None:
            exhausted = True
            break
        doc, matched = row
        scanned.append(doc)
        if matched:
            page.append(copy_value(doc))
    rows.close()
    key_fields = txn.db.index_fields(query._table, index)

    def after(doc: dict) -> str:
        return encode_cursor(fingerprint, [field_value(doc, f) for f in key_fields])

    if pinned and end_cursor != END_CURSOR:
        done, continue_cursor = False, end_cursor  # reached the pinned end, not the last row
    elif exhausted:
        done, continue_cursor = True, END_CURSOR
    else:
        done, continue_cursor = False, after(scanned[-1])
    split = after(scanned[len(scanned) // 2]) if len(scanned) > 2 else None
    if status is None and _approaching_limits(len(scanned), txn.bytes_read - start_bytes, max_rows,
                                              max_bytes, len(page)):
        status = "SplitRecommended"
    return _result(page, done, continue_cursor, split, status)


def _approaching_limits(rows: int, size: int, max_rows: int | None, max_bytes: int | None,
                        page_len: int) -> bool:
    """index_range.rs ``is_approaching_data_limit``: past 3/4 of a budget (capped by the
    transaction's limits), or a page longer than ``SOFT_MAX_PAGE_LEN``."""
    soft_rows = min(max_rows or limits.MAX_DOCUMENTS_READ, limits.MAX_DOCUMENTS_READ) * 3 // 4
    soft_bytes = min(max_bytes or limits.MAX_BYTES_READ, limits.MAX_BYTES_READ) * 3 // 4
    return rows > soft_rows or size > soft_bytes or page_len > SOFT_MAX_PAGE_LEN


def _result(page: list[dict], done: bool, continue_cursor: str, split: str | None,
            status: str | None) -> dict:
    return {"page": page, "is_done": done, "continue_cursor": continue_cursor,
            "split_cursor": split, "page_status": status}
