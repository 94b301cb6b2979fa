"""The built-in strategies, one per validator kind, answering the
``convex_sim_register_strategy`` hook last (see ``convex_sim.hooks``), so plugins may
override them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from ..ids import RANDOM_BYTES, encode_id
from ..validators import (
    AnyValidator,
    ArrayValidator,
    BooleanValidator,
    BytesValidator,
    Float64Validator,
    IdValidator,
    Int64Validator,
    LiteralValidator,
    NullValidator,
    ObjectValidator,
    OptionalValidator,
    RecordValidator,
    StringValidator,
    UnionValidator,
    Validator,
)
from ..values import INT64_MAX, INT64_MIN

#: Field names and record keys: what every Convex document accepts.
_KEYS = st.from_regex(r"[a-z][a-zA-Z0-9_]{0,7}", fullmatch=True)


def _text(context: Any) -> st.SearchStrategy[str]:
    return st.text(max_size=4 * context.max_size)


def _any_value(context: Any) -> st.SearchStrategy[Any]:
    scalars = (st.none() | st.booleans() | st.integers(INT64_MIN, INT64_MAX) | st.floats()
               | _text(context) | st.binary(max_size=context.max_size))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=context.max_size)
                        | st.dictionaries(_KEYS, inner, max_size=context.max_size), max_leaves=8)


_ID_CHOICES = 1 << 16


def existing_ids(sim: Any, table: str) -> list[str]:
    """IDs of ``table``'s documents in ``sim`` at its latest commit, oldest first."""
    txn = sim.db.begin("hypothesis", read_only=True)
    return [doc["_id"] for doc in txn.scan(table, "by_creation_time")]


def _id(validator: IdValidator, context: Any) -> st.SearchStrategy[str]:
    if context.sim is None:
        return st.builds(encode_id, st.integers(10_001, 10_100), st.binary(min_size=RANDOM_BYTES,
                                                                           max_size=RANDOM_BYTES))

    @st.composite
    def existing(draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
        ids = existing_ids(context.sim, validator.table)
        if not ids:
            from ._values import StrategyError

            raise StrategyError(f'{validator!r}: table "{validator.table}" has no documents to draw '
                                "an ID from; insert some first (convex_sim.data.seed_table)")
        # A fixed-width draw, whatever the table's size: replaying a choice sequence stays
        # valid when the table grew meanwhile. Shrinks toward the oldest document.
        return ids[draw(st.integers(0, _ID_CHOICES - 1)) % len(ids)]

    return existing()


def _object(validator: ObjectValidator, path: tuple, context: Any) -> st.SearchStrategy[dict]:
    required, optional = {}, {}
    for name, item in validator.fields.items():
        if isinstance(item, OptionalValidator):
            optional[name] = context.strategy(item.inner, (*path, name))
        else:
            required[name] = context.strategy(item, (*path, name))
    return st.fixed_dictionaries(required, optional=optional)


def _record(validator: RecordValidator, path: tuple, context: Any) -> st.SearchStrategy[dict]:
    keys = _KEYS if isinstance(validator.keys, StringValidator) else context.strategy(validator.keys, path)
    return st.dictionaries(keys, context.strategy(validator.values, (*path, "*")),
                           max_size=context.max_size)


_SCALARS: dict[type, Callable[[Any], st.SearchStrategy[Any]]] = {
    StringValidator: _text,
    Float64Validator: lambda context: st.floats(),
    Int64Validator: lambda context: st.integers(INT64_MIN, INT64_MAX),
    BooleanValidator: lambda context: st.booleans(),
    NullValidator: lambda context: st.none(),
    BytesValidator: lambda context: st.binary(max_size=context.max_size),
    AnyValidator: _any_value,
}


def builtin_strategy(validator: Validator, path: tuple, context: Any) -> Any:
    """The built-in strategy for every ``v.*`` validator."""
    scalar = _SCALARS.get(type(validator))
    if scalar is not None:
        return scalar(context)
    if isinstance(validator, IdValidator):
        return _id(validator, context)
    if isinstance(validator, LiteralValidator):
        return st.just(validator.value)
    if isinstance(validator, OptionalValidator):
        return context.strategy(validator.inner, path)
    if isinstance(validator, ArrayValidator):
        return st.lists(context.strategy(validator.element, (*path, "*")), max_size=context.max_size)
    if isinstance(validator, ObjectValidator):
        return _object(validator, path, context)
    if isinstance(validator, RecordValidator):
        return _record(validator, path, context)
    if isinstance(validator, UnionValidator):
        return st.one_of([context.strategy(m, path) for m in validator.members])
    return None
