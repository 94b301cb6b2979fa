"""The query builder: ``ctx.db.query(table).with_index(...).filter(...).order(...)``.

A query streams documents from one index range of a transaction's snapshot
(plus its own buffered writes). The transaction records only the part of
the range actually consumed, so ``take(5)`` depends on five rows, not on the
whole range. Pagination cursors are index keys, not offsets, so they stay
valid when documents are inserted or deleted around them.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from . import limits
from .database import TOP, Transaction, field_value
from .errors import IndexRangeError, InvalidValueError, QueryError, UnknownIndexError
from .pagination import paginate, pagination_opts_validator  # noqa: F401 (re-exported)
from .schema import BY_CREATION_TIME, TableDefinition
from .validators import Float64Validator, ObjectValidator, OptionalValidator, Validator
from .values import (
    RANK_STRING,
    UNDEFINED,
    check_value,
    copy_value,
    format_value,
    sort_key,
)

# --- Index ranges -------------------------------------------------------------------------


class IndexRangeBuilder:
    """The ``q`` of ``with_index(name, lambda q: ...)``.

    Convex's rule (convex-backend ``crates/common/src/query.rs``, ``IndexRange::compile``):
    the fields compared with ``eq``, plus the one field given a lower bound
    (``gt``/``gte``) and/or an upper bound (``lt``/``lte``), must be a prefix of the
    index's fields, equalities first. The calls may come in any order.
    """

    _SYMBOLS: ClassVar[dict[str, str]] = {"eq": "==", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    __slots__ = ("_coerce", "_exprs", "_fields", "_index", "_prefix", "parts")

    def __init__(self, index: str, key_fields: tuple[str, ...], coerce: Callable[[str, Any], Any]) -> None:
        self._index = index
        self._fields = key_fields
        self._coerce = coerce
        self._exprs: list[tuple[str, str, tuple]] = []  # (method, field, key), in call order
        self.parts: list[tuple[str, str, Any]] = []   # (field, symbol, value), formatted on demand
        #: The keys while every call so far is an ``eq`` on the index's next field (the common
        #: case, whose bounds need no more); None once one is not.
        self._prefix: list[tuple] | None = []

    def _key(self, field: str, value: Any, method: str) -> tuple:
        """The key of ``value`` (an ASCII string, the commonest, needs none of this: its key
        is ``(RANK_STRING, value)``, as ``_add`` makes it)."""
        if value is UNDEFINED:  # a missing field: the lowest key (convexOrUndefinedToJson)
            return sort_key(UNDEFINED)
        try:
            value = check_value(self._coerce(field, value))
        except InvalidValueError as exc:
            raise IndexRangeError(f'withIndex {method}("{field}", ...): {exc}') from None
        return sort_key(value)

    def _add(self, method: str, field: str, value: Any) -> IndexRangeBuilder:
        if type(field) is not str:
            raise IndexRangeError(f"withIndex {method}(): the field must be a str, got {format_value(field)}")
        key = (RANK_STRING, value) if type(value) is str and value.isascii() else self._key(field, value, method)
        prefix = self._prefix
        if prefix is not None:
            if method == "eq" and len(prefix) < len(self._fields) and self._fields[len(prefix)] == field:
                prefix.append(key)
            else:
                self._prefix = None
        self._exprs.append((method, field, key))
        self.parts.append((field, self._SYMBOLS[method], value))
        return self

    def eq(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("eq", field, value)

    def gt(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("gt", field, value)

    def gte(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("gte", field, value)

    def lt(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("lt", field, value)

    def lte(self, field: str, value: Any) -> IndexRangeBuilder:
        return self._add("lte", field, value)

    def bounds(self) -> tuple[tuple, tuple]:
        """The inclusive key bounds ``(lo, hi)`` this range denotes."""
        if self._prefix is not None:   # the common case: equalities in the index's order
            return tuple(self._prefix), (*self._prefix, TOP)
        equalities: dict[str, tuple] = {}
        lower: tuple[tuple, bool] | None = None   # (key, inclusive)
        upper: tuple[tuple, bool] | None = None
        inequality: str | None = None
        for (method, field, key), (_, symbol, value) in zip(self._exprs, self.parts, strict=True):
            if method == "eq":
                if field in equalities:
                    raise self._already("equality", field, symbol, value)
                equalities[field] = key
                continue
            if (lower if method in ("gt", "gte") else upper) is not None:
                raise self._already("lower" if method in ("gt", "gte") else "upper", field, symbol, value)
            if inequality is not None and inequality != field:
                raise IndexRangeError(
                    f"Upper and lower bounds in `range` can only be applied to a single index field. "
                    f'This query against index {self._index} attempted to set a range bound on both '
                    f'"{inequality}" and "{field}". Consider using `filter` instead.')
            inequality = field
            if method in ("gt", "gte"):
                lower = (key, method == "gte")
            else:
                upper = (key, method == "lte")
        if inequality is not None and inequality in equalities:
            raise self._already("inequality", inequality, "==", equalities[inequality])
        self._check_prefix(equalities, inequality)
        prefix = tuple(equalities[f] for f in self._fields if f in equalities)
        lo: tuple = prefix
        hi: tuple = (*prefix, TOP)
        if lower:
            key, inclusive = lower
            lo = (*prefix, key) if inclusive else (*prefix, key, TOP)
        if upper:
            key, inclusive = upper
            hi = (*prefix, key, TOP) if inclusive else (*prefix, key)
        return lo, hi

    def _check_prefix(self, equalities: dict[str, tuple], inequality: str | None) -> None:
        """Some order of the compared fields must be a prefix of the index's fields."""
        rank = {f: i for i, f in enumerate(self._fields)}
        for field in [*equalities, *([inequality] if inequality else [])]:
            if field not in rank:
                raise IndexRangeError(
                    f'The index range included a comparison with "{field}", but {self._index} with '
                    f"fields {list(self._fields)} doesn't index this field.")
        used = [*sorted(equalities, key=rank.__getitem__), *([inequality] if inequality else [])]
        for position, field in enumerate(used):
            if field != self._fields[position]:
                raise IndexRangeError(
                    f"Tried to query index {self._index} but the query didn't use the index fields "
                    f"in order. Index fields: {list(self._fields)}; query fields: {used}; first "
                    f'incorrect field: "{field}" (Incorrect field used in withIndex, expected '
                    f'"{self._fields[position]}", got "{field}").')

    def _already(self, bound: str, field: str, symbol: str, value: Any) -> IndexRangeError:
        return IndexRangeError(f'Already defined {bound} bound in index range. Can\'t add "{field}" '
                               f"{symbol} {format_value(value)}.")


# --- Filter expressions ---------------------------------------------------------------


class Expr:
    """A filter expression node; evaluate with ``expr(doc)``."""

    __slots__ = ("_eval", "_text", "field_path", "operators")

    def __init__(self, evaluate: Callable[[dict], Any], text: str, operators: int,
                 field_path: str | None = None) -> None:
        self._eval, self._text, self.operators = evaluate, text, operators
        self.field_path = field_path  # set for q.field(...): lets literals take the field's type

    def __call__(self, doc: dict) -> Any:
        return self._eval(doc)

    @property
    def text(self) -> str:
        """The whole expression, literals in full: what a pagination cursor's fingerprint hashes."""
        return self._text

    def __repr__(self) -> str:   # shortened for messages, as format_value shortens values
        text = self._text
        return text if len(text) <= 200 else text[:197] + "..."

    def __bool__(self) -> bool:
        raise QueryError(
            f"A filter expression ({self!r}) was used as a Python bool. Combine "
            "expressions with q.and_(...), q.or_(...), q.not_(...), not with and/or/not/if.")

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        raise QueryError(
            f"Filter expressions are compared with q.eq(a, b), not ==: {self!r} == "
            f"{format_value(other)}")

    __hash__ = None  # type: ignore[assignment]


def _operand(x: Any) -> Expr:
    """An expression, or a literal value (``UNDEFINED`` stands for a missing field)."""
    if isinstance(x, Expr):
        return x
    value = x if x is UNDEFINED else check_value(x)
    return Expr(lambda _doc: value, repr(value), 0)


def _number_op(name: str, a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta not in (int, float) or tb not in (int, float) or ta is not tb:
        raise QueryError(
            f"q.{name}() needs two numbers of the same type (both int64 or both float64), got "
            f"{format_value(a)} and {format_value(b)}")
    if name == "add":
        return _wrap(a + b) if ta is int else a + b
    if name == "sub":
        return _wrap(a - b) if ta is int else a - b
    if name == "mul":
        return _wrap(a * b) if ta is int else a * b
    if ta is int:
        if b == 0:
            raise QueryError(f"q.{name}(): int64 division by zero")
        quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        return quotient if name == "div" else a - b * quotient   # JS BigInt semantics
    if name == "div":
        return a / b if b else (math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1, b))
    return math.fmod(a, b) if b else math.nan


def _wrap(n: int) -> int:
    return (n + 2**63) % 2**64 - 2**63


class FilterBuilder:
    """The ``q`` of ``.filter(lambda q: ...)``: Convex's filter expression set."""

    def __init__(self, coerce: Callable[[str, Any], Any]) -> None:
        self._coerce = coerce

    def field(self, path: str) -> Expr:
        if not isinstance(path, str) or not path:
            raise QueryError(f"q.field() expects a field path string, got {path!r}")
        return Expr(lambda doc: field_value(doc, path), f'q.field("{path}")', 0, path)

    def _compare(self, name: str, a: Any, b: Any, test: Callable[[tuple, tuple], bool]) -> Expr:
        a, b = self._coerce_pair(a, b)
        ea, eb = _operand(a), _operand(b)
        return Expr(lambda doc: test(sort_key(ea(doc)), sort_key(eb(doc))),
                    f"q.{name}({ea.text}, {eb.text})", 1 + ea.operators + eb.operators)

    def _coerce_pair(self, a: Any, b: Any) -> tuple[Any, Any]:
        path_a = a.field_path if isinstance(a, Expr) else None
        path_b = b.field_path if isinstance(b, Expr) else None
        if path_a and not isinstance(b, Expr):
            b = self._coerce(path_a, b)
        if path_b and not isinstance(a, Expr):
            a = self._coerce(path_b, a)
        return a, b

    def eq(self, a: Any, b: Any) -> Expr:
        return self._compare("eq", a, b, lambda x, y: x == y)

    def neq(self, a: Any, b: Any) -> Expr:
        return self._compare("neq", a, b, lambda x, y: x != y)

    def lt(self, a: Any, b: Any) -> Expr:
        return self._compare("lt", a, b, lambda x, y: x < y)

    def lte(self, a: Any, b: Any) -> Expr:
        return self._compare("lte", a, b, lambda x, y: x <= y)

    def gt(self, a: Any, b: Any) -> Expr:
        return self._compare("gt", a, b, lambda x, y: x > y)

    def gte(self, a: Any, b: Any) -> Expr:
        return self._compare("gte", a, b, lambda x, y: x >= y)

    def _arith(self, name: str, a: Any, b: Any) -> Expr:
        a, b = self._coerce_pair(a, b)
        ea, eb = _operand(a), _operand(b)
        return Expr(lambda doc: _number_op(name, ea(doc), eb(doc)),
                    f"q.{name}({ea.text}, {eb.text})", 1 + ea.operators + eb.operators)

    def add(self, a: Any, b: Any) -> Expr:
        return self._arith("add", a, b)

    def sub(self, a: Any, b: Any) -> Expr:
        return self._arith("sub", a, b)

    def mul(self, a: Any, b: Any) -> Expr:
        return self._arith("mul", a, b)

    def div(self, a: Any, b: Any) -> Expr:
        return self._arith("div", a, b)

    def mod(self, a: Any, b: Any) -> Expr:
        return self._arith("mod", a, b)

    def neg(self, a: Any) -> Expr:
        ea = _operand(a)

        def negate(doc: dict) -> Any:
            x = ea(doc)
            if type(x) not in (int, float):
                raise QueryError(f"q.neg() needs a number, got {format_value(x)}")
            return _wrap(-x) if type(x) is int else -x

        return Expr(negate, f"q.neg({ea.text})", 1 + ea.operators)

    def and_(self, *exprs: Any) -> Expr:
        parts = [_operand(e) for e in exprs]
        return Expr(lambda doc: all(p(doc) is True for p in parts),
                    f"q.and_({', '.join(p.text for p in parts)})", 1 + sum(p.operators for p in parts))

    def or_(self, *exprs: Any) -> Expr:
        parts = [_operand(e) for e in exprs]
        return Expr(lambda doc: any(p(doc) is True for p in parts),
                    f"q.or_({', '.join(p.text for p in parts)})", 1 + sum(p.operators for p in parts))

    def not_(self, expr: Any) -> Expr:
        inner = _operand(expr)
        return Expr(lambda doc: inner(doc) is not True, f"q.not_({inner.text})", 1 + inner.operators)


# --- Full-text and vector search ---------------------------------------------------------------

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens, as the search index sees a string."""
    return _TOKEN.findall(text.lower())


class SearchFilterBuilder:
    """The ``q`` of ``with_search_index(name, lambda q: q.search(field, text).eq(...))``."""

    def __init__(self, index: Any, where: str) -> None:
        self._index, self._where = index, where
        self.text: str | None = None
        self.equalities: list[tuple[str, Any]] = []

    def search(self, field: str, text: str) -> SearchFilterBuilder:
        if self.text is not None:
            raise QueryError(f"{self._where}: search() may be called once per search query.")
        if field != self._index.search_field:
            raise QueryError(f'{self._where}: search index "{self._index.name}" searches '
                             f'"{self._index.search_field}", not "{field}".')
        if not isinstance(text, str):
            raise QueryError(f"{self._where}: search text must be a str, got {format_value(text)}")
        self.text = text
        return self

    def eq(self, field: str, value: Any) -> SearchFilterBuilder:
        if field not in self._index.filter_fields:
            raise QueryError(f'{self._where}: "{field}" is not a filter field of search index '
                             f'"{self._index.name}" (filter fields: {list(self._index.filter_fields)}).')
        self.equalities.append((field, value if value is UNDEFINED else check_value(value)))
        return self


def relevance(tokens: list[str], terms: list[str]) -> float:
    """How well a document's tokens match the search terms; 0 when nothing matches.

    Each term matches a token exactly, the last one also as a prefix (search
    as you type). Scoring is a BM25-like sum of tf / (tf + 1) per term: Convex's
    exact scoring is unverified, so rely on its order, not its numbers.
    """
    score = 0.0
    for i, term in enumerate(terms):
        last = i == len(terms) - 1
        tf = sum(1 for t in tokens if t == term or (last and t.startswith(term)))
        score += tf / (tf + 1)
    return score


def vector_search(txn: Transaction, table: str, index: str, options: Mapping[str, Any]) -> list[dict]:
    """``ctx.vector_search``: the ``limit`` nearest documents by cosine similarity,
    ``[{"_id", "_score"}]``, best first, after the optional ``filter``."""
    definition = txn.db.table(table, function=txn.function).definition
    spec = definition.vector_indexes.get(index) if definition else None
    where = f"In {txn.function}: vector_search({table!r}, {index!r})"
    if spec is None:
        raise UnknownIndexError(f'{where}: no vector index "{index}" on table "{table}".')
    vector = options.get("vector") if isinstance(options, Mapping) else None
    if not isinstance(vector, list | tuple) or len(vector) != spec.dimensions or \
            not all(type(x) in (int, float) for x in vector):
        raise QueryError(f"{where}: vector must be {spec.dimensions} numbers, got {format_value(vector)}")
    limit = options.get("limit", 10)
    if type(limit) is not int or not 1 <= limit <= limits.MAX_VECTOR_RESULTS:
        raise QueryError(f"{where}: limit must be an int from 1 to {limits.MAX_VECTOR_RESULTS}, got {limit!r}")
    keep = options.get("filter")
    predicate = keep(_VectorFilter(spec, where)) if keep is not None else None
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    scored = []
    for doc in txn.scan(table, "by_creation_time", description=f"{table} (vector index {index})"):
        candidate = field_value(doc, spec.vector_field)
        if not isinstance(candidate, list) or len(candidate) != spec.dimensions:
            continue
        if predicate is not None and not predicate(doc):
            continue
        other = math.sqrt(sum(x * x for x in candidate)) or 1.0
        score = sum(a * b for a, b in zip(vector, candidate, strict=True)) / (norm * other)
        scored.append((-score, doc["_creationTime"], doc["_id"]))
    scored.sort()
    return [{"_id": doc_id, "_score": -neg} for neg, _ct, doc_id in scored[:limit]]


class _VectorFilter:
    """The ``q`` of a vector search ``filter``: ``q.eq(field, value)`` and ``q.or_(...)``."""

    def __init__(self, spec: Any, where: str) -> None:
        self._spec, self._where = spec, where

    def eq(self, field: str, value: Any) -> Callable[[dict], bool]:
        if field not in self._spec.filter_fields:
            raise QueryError(f'{self._where}: "{field}" is not a filter field of vector index '
                             f'"{self._spec.name}" (filter fields: {list(self._spec.filter_fields)}).')
        key = sort_key(check_value(value))
        return lambda doc: sort_key(field_value(doc, field)) == key

    def or_(self, *predicates: Callable[[dict], bool]) -> Callable[[dict], bool]:
        return lambda doc: any(p(doc) for p in predicates)


# --- Queries ------------------------------------------------------------------------------


class Query:
    """A query over one table, built step by step and consumed once."""

    __slots__ = ("_consumed", "_definition", "_filters", "_index", "_index_fields", "_indexed", "_order", "_range",
                 "_range_parts", "_search", "_search_text", "_table", "_txn")

    def __init__(self, txn: Transaction, table: str) -> None:
        self._txn = txn
        self._table = table
        stored = txn.tables.get(table) or txn.db.table(table, function=txn.function)
        self._definition: TableDefinition | None = stored.definition
        self._index_fields: dict[str, tuple[str, ...]] = stored.index_fields
        self._index = BY_CREATION_TIME
        self._range: tuple[tuple, tuple] = ((), (TOP,))
        self._range_parts: list[tuple[str, str, Any]] = []
        self._search_text = ""
        self._filters: list[Expr] = []
        self._order: str | None = None
        self._indexed = False
        self._consumed = False
        self._search: SearchFilterBuilder | None = None

    # -- building ----------------------------------------------------------------------
    def with_index(self, name: str, range_fn: Callable[[IndexRangeBuilder], Any] | None = None) -> Query:
        """Read from the index ``name``, limited by ``range_fn`` (see IndexRangeBuilder)."""
        if self._consumed:
            self._check_building("with_index")
        if self._indexed or self._filters or self._order:
            raise QueryError(f"{self._where()}: with_index must be the first call on a query, once.")
        if type(name) is not str:
            raise UnknownIndexError(f"{self._where()}: with_index expects an index name (str), got "
                                    f"{format_value(name)}")
        key_fields = self._index_fields.get(name) or self._txn.db.index_fields(
            self._table, name, self._txn.function)
        builder = IndexRangeBuilder(name, key_fields, self._coerce)
        if range_fn is not None:
            try:
                result = range_fn(builder)
            except IndexRangeError as exc:
                raise IndexRangeError(f"{self._where()}: {exc}") from None
            if result is not builder and result is not None:
                raise IndexRangeError(
                    f"{self._where()}: the with_index range function must return q (the range "
                    f"builder) or None, got {format_value(result)}")
        try:
            self._range = builder.bounds()
        except IndexRangeError as exc:
            raise IndexRangeError(f"{self._where()}: {exc}") from None
        self._index, self._indexed = name, True
        self._range_parts = builder.parts
        return self

    def with_search_index(self, name: str, search_fn: Callable[[SearchFilterBuilder], Any]) -> Query:
        """Full-text search: ``lambda q: q.search("body", "hello wor").eq("channel", c)``.

        Results come in relevance order (at most 1,024); ``order()`` is not allowed.
        The whole table counts as read, so any write to it re-runs the query.
        """
        self._check_building("with_search_index")
        if self._indexed or self._filters or self._order:
            raise QueryError(f"{self._where()}: with_search_index must be the first call on a query, once.")
        spec = self._definition.search_indexes.get(name) if self._definition else None
        if spec is None:
            raise UnknownIndexError(f'{self._where()}: cannot use search index "{name}" for table '
                                    f'"{self._table}" because it is not declared in the schema.')
        builder = SearchFilterBuilder(spec, self._where())
        search_fn(builder)
        if builder.text is None:
            raise QueryError(f"{self._where()}: the search function must call q.search(field, text).")
        terms = tokenize(builder.text)
        if len(terms) > limits.MAX_SEARCH_TERMS:
            raise limits.exceeded("search terms", limits.MAX_SEARCH_TERMS, len(terms), self._txn.function)
        self._search, self._indexed = builder, True
        self._search_text = f"search {spec.search_field} for {builder.text!r}"
        return self

    def filter(self, predicate: Callable[[FilterBuilder], Any]) -> Query:
        """Keep documents for which ``predicate(q)`` (an expression) is true."""
        self._check_building("filter")
        expr = predicate(FilterBuilder(self._coerce))
        if isinstance(expr, bool):
            expr = _operand(expr)
        if not isinstance(expr, Expr):
            raise QueryError(
                f"{self._where()}: a filter must return an expression built from q (like "
                f'q.eq(q.field("a"), 1)), got {format_value(expr)}')
        total = expr.operators + sum(f.operators for f in self._filters)
        if total > limits.MAX_FILTER_OPERATORS:
            raise limits.exceeded("filter operators", limits.MAX_FILTER_OPERATORS, total, self._txn.function)
        self._filters.append(expr)
        return self

    def order(self, order: str) -> Query:
        """``"asc"`` (default) or ``"desc"`` along the index; at most once."""
        self._check_building("order")
        if self._order is not None:
            raise QueryError(f"{self._where()}: order() may be called only once per query.")
        if self._search is not None:
            raise QueryError(f"{self._where()}: search results come in relevance order; order() is not allowed.")
        if order not in ("asc", "desc"):
            raise QueryError(f'{self._where()}: order must be "asc" or "desc", got {order!r}')
        self._order = order
        return self

    # -- consuming --------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict]:
        self._consume("iteration")
        for doc in self._stream(*self._range):
            yield copy_value(doc)

    def _description(self) -> _RangeDescription:
        return _RangeDescription(self._table, self._index, self._search_text, self._range_parts)

    def collect(self) -> list[dict]:
        """Every matching document."""
        return list(self)

    def take(self, n: int) -> list[dict]:
        """The first ``n`` matching documents; reads only as far as the ``n``-th."""
        if type(n) is not int or n < 0:
            raise QueryError(f"{self._where()}: take(n) expects an int >= 0, got {n!r}")
        self._consume("take")
        if not self._filters and self._search is None:  # the common case: no stream
            description = _RangeDescription(self._table, self._index, self._search_text, self._range_parts)
            return [copy_value(doc) for doc in self._txn.read(
                self._table, self._index, *self._range, self._order or "asc", description, n)]
        out: list[dict] = []
        if n == 0:
            return out
        for doc in self._stream(*self._range):
            out.append(copy_value(doc))
            if len(out) == n:
                break
        return out

    def first(self) -> dict | None:
        """The first matching document, or None."""
        found = self.take(1)
        return found[0] if found else None

    def unique(self) -> dict | None:
        """The only matching document, or None; more than one is an error."""
        found = self.take(2)
        if len(found) > 1:
            raise QueryError(
                f"{self._where()}: unique() found more than one document: "
                f"{found[0]['_id']} and {found[1]['_id']}")
        return found[0] if found else None

    def count(self) -> int:
        """How many documents the table holds (this transaction's writes included).

        As in Convex (convex-js ``QueryInitializerImpl.count``, the ``1.0/count`` syscall),
        it counts a whole table: call it on ``ctx.db.query(table)`` before any other method.
        The table becomes a read dependency; no document counts as read."""
        if self._indexed or self._filters or self._order:
            raise QueryError(f"{self._where()}: count() counts a whole table; call it on "
                             "ctx.db.query(table) directly, before with_index/filter/order.")
        self._consume("count")
        return self._txn.count(self._table)

    def paginate(self, options: Mapping[str, Any]) -> dict:
        """One page: ``{"page", "is_done", "continue_cursor", "split_cursor", "page_status"}``;
        options ``num_items``, ``cursor``, ``end_cursor``, ``maximum_rows_read``,
        ``maximum_bytes_read``. At most one per function execution. See
        :mod:`convex_sim.pagination` for the rules, which are Convex's."""
        return paginate(self, options)

    def fingerprint(self) -> str:
        """A hash of everything that decides this query's rows and their order (table, index
        and its fields, range, order, filters, search), as convex-backend's
        ``Query::fingerprint`` (crates/common/src/query.rs) hashes a query: pagination cursors
        carry it, so a cursor works only with the query that made it."""
        search = self._search
        fields = self._index_fields.get(self._index) or self._txn.db.index_fields(self._table, self._index)
        parts = (self._table, self._index, fields, self._range, self._order or "asc",
                 [f.text for f in self._filters],
                 (search.text, [(f, sort_key(x)) for f, x in search.equalities]) if search else None)
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]

    # -- internals -----------------------------------------------------------------
    def _stream(self, lo: tuple, hi: tuple) -> Iterator[dict]:
        if not self._filters and self._search is None:  # the common case, one generator less
            return self._txn.scan(self._table, self._index, lo, hi, self._order or "asc", self._description())
        return (doc for doc, matched in self._scan(lo, hi) if matched)

    def _scan(self, lo: tuple, hi: tuple) -> Iterator[tuple[dict, bool]]:
        """Every document of the range, with whether the filters keep it."""
        description = self._description()
        filters = self._filters
        docs = self._search_results(description) if self._search is not None else \
            self._txn.scan(self._table, self._index, lo, hi, self._order or "asc", description)
        for doc in docs:
            yield doc, all(f(doc) is True for f in filters)

    def _search_results(self, description: object) -> list[dict]:
        search = self._search
        assert search is not None and search.text is not None
        terms = tokenize(search.text)
        spec_field = search._index.search_field
        keys = [(f, sort_key(x)) for f, x in search.equalities]
        scored = []
        for doc in self._txn.scan(self._table, "by_creation_time", description=description):
            if any(sort_key(field_value(doc, f)) != k for f, k in keys):
                continue
            text = field_value(doc, spec_field)
            score = relevance(tokenize(text), terms) if isinstance(text, str) and terms else 0.0
            if score > 0:
                scored.append((-score, doc["_creationTime"], doc))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [doc for _score, _ct, doc in scored[:limits.MAX_SEARCH_RESULTS]]

    def _coerce(self, path: str, value: Any) -> Any:
        """A Python int given for a float64 field is JavaScript's number: make it a float."""
        if type(value) is int and _field_validator_is_float(self._definition, path):
            return float(value)
        return value

    def _check_building(self, method: str) -> None:
        if self._consumed:
            raise QueryError(f"{self._where()}: {method}() on a query that was already consumed.")

    def _consume(self, how: str) -> None:
        if self._consumed:
            raise QueryError(
                f"{self._where()}: a query can be consumed only once ({how} after a previous "
                "collect/take/first/unique/paginate/iteration). Build a new query.")
        self._consumed = True

    def _where(self) -> str:
        return f'In {self._txn.function}: query on "{self._table}"'


class _RangeDescription:
    """What a read range shows in reports (``accounts.by_owner [owner == 'ada']``), formatted
    only when someone looks."""

    __slots__ = ("_index", "_parts", "_search", "_table")

    def __init__(self, table: str, index: str, search: str, parts: list[tuple[str, str, Any]]) -> None:
        self._table, self._index, self._search, self._parts = table, index, search, parts

    def __str__(self) -> str:
        text = self._search or " and ".join(f"{f} {op} {format_value(x)}" for f, op, x in self._parts)
        return f"{self._table}.{self._index}" + (f" [{text}]" if text else "")


def _field_validator_is_float(definition: TableDefinition | None, path: str) -> bool:
    if definition is None:
        return False
    validator: Validator | None = definition.document
    for part in path.split("."):
        while isinstance(validator, OptionalValidator):
            validator = validator.inner
        if not isinstance(validator, ObjectValidator):
            return False
        validator = validator.fields.get(part)
    while isinstance(validator, OptionalValidator):
        validator = validator.inner
    return isinstance(validator, Float64Validator)

