"""Strategies from validators: values, function arguments and documents that the app accepts.

The strategy for each validator comes from the ``convex_sim_register_strategy`` hook
(:mod:`convex_sim.hooks`); the built-ins answer last, so a plugin can override any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from ..errors import ConvexSimError
from ..schema import SchemaDefinition, _without_system_fields
from ..validators import Validator, as_object_validator

#: Fields overridden by name: ``{"amount": st.integers(0, 100)}`` applies at any depth.
Fields = Mapping[str, st.SearchStrategy[Any]]


class StrategyError(ConvexSimError, TypeError):
    """A strategy cannot be built: no strategy for a validator, no args validator, no table."""


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy for one validator may use: the sim (IDs of existing documents), the
    per-field-name overrides, and size bounds for arrays, records, strings and bytes."""

    sim: Any = None
    fields: Fields = field(default_factory=dict)
    max_size: int = 5

    def strategy(self, validator: Validator, path: tuple = ()) -> st.SearchStrategy[Any]:
        """The strategy for ``validator`` at ``path``: an override by field name, else the
        first plugin (built-ins last) that answers ``convex_sim_register_strategy``."""
        if path and isinstance(path[-1], str) and path[-1] in self.fields:
            return self.fields[path[-1]]
        from ..hooks import hook

        found = hook().convex_sim_register_strategy(validator=validator, path=path, context=self)
        if found is None:
            where = f" at {'.'.join(map(str, path))}" if path else ""
            raise StrategyError(f"no strategy for validator {validator!r}{where}; register one "
                                "with the convex_sim_register_strategy hook")
        return found


def _check_fields(fields: Fields | None) -> dict[str, st.SearchStrategy[Any]]:
    out = dict(fields or {})
    for name, strategy in out.items():
        if not isinstance(strategy, st.SearchStrategy):
            raise StrategyError(f"fields[{name!r}] must be a Hypothesis strategy, got {strategy!r}")
    return out


def from_validator(validator: Validator | Mapping[str, Validator], *, sim: Any = None,
                   fields: Fields | None = None, max_size: int = 5) -> st.SearchStrategy[Any]:
    """Values that pass ``validator``: ``from_validator(v.object({...}), sim=sim)``.

    ``v.id(table)`` draws the ID of an existing document of ``table`` in ``sim`` (read
    when the value is drawn; Hypothesis shrinks toward the oldest document); without a
    sim it draws well-formed IDs of no particular table. ``fields`` overrides the
    strategy of a field by name at any depth; ``max_size`` bounds arrays, records,
    strings and bytes.
    """
    if type(max_size) is not int or max_size < 0:
        raise StrategyError(f"from_validator: max_size must be an int >= 0, got {max_size!r}")
    try:
        validator = as_object_validator(validator, "from_validator")
    except TypeError as exc:
        raise StrategyError(str(exc)) from None
    context = StrategyContext(sim=sim, fields=_check_fields(fields), max_size=max_size)
    return context.strategy(validator)


def args_for(sim: Any, function: Any, *, fields: Fields | None = None,
             max_size: int = 5) -> st.SearchStrategy[dict]:
    """Arguments ``function`` (``"bank:transfer"`` or a reference) accepts, from its ``args``
    validator; Python and TypeScript functions alike. IDs come from ``sim``'s documents."""
    fn = sim.registry.resolve(function, caller="args_for")
    if fn.args is None:
        raise StrategyError(f"args_for: {fn.path or function} declares no args validator, so its "
                            "arguments are unknown; give it args= (or draw them yourself)")
    return from_validator(fn.args, sim=sim, fields=fields, max_size=max_size)


def documents_for(schema: SchemaDefinition, table: str, *, sim: Any = None,
                  fields: Fields | None = None, max_size: int = 5) -> st.SearchStrategy[dict]:
    """Document bodies (no system fields) that ``table``'s validator in ``schema`` accepts,
    ready for ``ctx.db.insert(table, doc)``. IDs they hold come from ``sim``'s documents."""
    if not isinstance(schema, SchemaDefinition):
        raise StrategyError(f"documents_for: schema must come from define_schema(...), got {schema!r}")
    definition = schema.table(table)
    if definition is None:
        known = ", ".join(sorted(schema.tables)) or "none"
        raise StrategyError(f"documents_for: the schema has no table {table!r} (tables: {known})")
    return from_validator(_without_system_fields(definition.document), sim=sim, fields=fields,
                          max_size=max_size)
