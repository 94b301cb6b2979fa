"""Schemas: ``define_schema`` and ``define_table`` with their indexes.

Every index is checked when it is defined: a legal, unused name; fields that
exist in the table's validator; no system field (Convex appends
``_creationTime`` and ``_id`` to every index as tie-breakers). Each table
also has the built-in indexes ``by_id`` and ``by_creation_time``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import SchemaError
from .validators import AnyValidator, ObjectValidator, UnionValidator, Validator, _as_validator

SYSTEM_FIELDS = ("_id", "_creationTime")
BY_ID = "by_id"
BY_CREATION_TIME = "by_creation_time"
RESERVED_INDEX_NAMES = (BY_ID, BY_CREATION_TIME)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_FIELD_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_identifier(name: Any, what: str) -> str:
    """Table and index names: letters, digits and ``_``, starting with a letter."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise SchemaError(
            f"Invalid {what} {name!r}: expected an identifier of at most 64 characters that "
            "starts with a letter and holds only letters, digits and underscores.")
    return name


@dataclass(frozen=True)
class IndexDefinition:
    """A database index: ``fields`` as declared, ``key_fields`` with the tie-breakers."""

    name: str
    fields: tuple[str, ...]

    @property
    def key_fields(self) -> tuple[str, ...]:
        if self.name == BY_ID:
            return ("_id",)
        if self.name == BY_CREATION_TIME:
            return ("_creationTime", "_id")
        return (*self.fields, "_creationTime", "_id")


@dataclass(frozen=True)
class SearchIndexDefinition:
    name: str
    search_field: str
    filter_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class VectorIndexDefinition:
    name: str
    vector_field: str
    dimensions: int
    filter_fields: tuple[str, ...] = ()


BUILTIN_INDEXES = {
    BY_ID: IndexDefinition(BY_ID, ("_id",)),
    BY_CREATION_TIME: IndexDefinition(BY_CREATION_TIME, ("_creationTime",)),
}


@dataclass
class TableDefinition:
    """A table's document validator and its indexes. Build it with ``define_table``."""

    document: Validator
    indexes: dict[str, IndexDefinition] = field(default_factory=dict)
    search_indexes: dict[str, SearchIndexDefinition] = field(default_factory=dict)
    vector_indexes: dict[str, VectorIndexDefinition] = field(default_factory=dict)

    def index(self, name: str, fields: Sequence[str]) -> TableDefinition:
        """Declare a database index over ``fields`` (in order)."""
        self._check_new_index_name(name)
        fields = self._check_fields(name, fields, allow_empty=False)
        self.indexes[name] = IndexDefinition(name, fields)
        return self

    def search_index(self, name: str, *, search_field: str,
                     filter_fields: Sequence[str] = ()) -> TableDefinition:
        """Declare a full-text search index over the string field ``search_field``."""
        self._check_new_index_name(name)
        (search_field,) = self._check_fields(name, [search_field], allow_empty=False)
        filters = self._check_fields(name, filter_fields, allow_empty=True)
        self.search_indexes[name] = SearchIndexDefinition(name, search_field, filters)
        return self

    def vector_index(self, name: str, *, vector_field: str, dimensions: int,
                     filter_fields: Sequence[str] = ()) -> TableDefinition:
        """Declare a vector index over ``vector_field`` (arrays of ``dimensions`` floats)."""
        from .limits import MAX_VECTOR_DIMENSIONS, MIN_VECTOR_DIMENSIONS

        self._check_new_index_name(name)
        (vector_field,) = self._check_fields(name, [vector_field], allow_empty=False)
        if type(dimensions) is not int or not MIN_VECTOR_DIMENSIONS <= dimensions <= MAX_VECTOR_DIMENSIONS:
            raise SchemaError(
                f"Vector index {name!r}: dimensions must be an int from {MIN_VECTOR_DIMENSIONS} "
                f"to {MAX_VECTOR_DIMENSIONS}, got {dimensions!r}.")
        filters = self._check_fields(name, filter_fields, allow_empty=True)
        self.vector_indexes[name] = VectorIndexDefinition(name, vector_field, dimensions, filters)
        return self

    def all_indexes(self) -> dict[str, IndexDefinition]:
        """The database indexes a query may use, built-ins included."""
        return {**BUILTIN_INDEXES, **self.indexes}

    # -- checks --------------------------------------------------------------------
    def _check_new_index_name(self, name: str) -> None:
        check_identifier(name, "index name")
        if name in RESERVED_INDEX_NAMES:
            raise SchemaError(f"Index name {name!r} is reserved for Convex's built-in index.")
        if name in self.indexes or name in self.search_indexes or name in self.vector_indexes:
            raise SchemaError(f"Duplicate index name {name!r} in this table.")

    def _check_fields(self, index: str, fields: Sequence[str], allow_empty: bool) -> tuple[str, ...]:
        if isinstance(fields, str) or not isinstance(fields, Sequence):
            raise SchemaError(f"Index {index!r}: fields must be a list of field names, got {fields!r}.")
        if not fields and not allow_empty:
            raise SchemaError(f"Index {index!r} must have at least one field.")
        if len(set(fields)) != len(fields):
            raise SchemaError(f"Index {index!r} lists a field twice: {list(fields)}.")
        for name in fields:
            if not isinstance(name, str) or not name:
                raise SchemaError(f"Index {index!r}: field names must be non-empty strings, got {name!r}.")
            if name in SYSTEM_FIELDS:
                raise SchemaError(
                    f"Index {index!r} cannot include {name!r}: Convex appends _creationTime and "
                    "_id to every index automatically.")
            if not _has_field(self.document, name.split(".")[0]):
                raise SchemaError(
                    f"Index {index!r} uses field {name!r}, which the table's validator does not have.")
        return tuple(fields)


def _has_field(document: Validator, name: str) -> bool:
    if isinstance(document, AnyValidator):
        return True
    if isinstance(document, ObjectValidator):
        return name in document.fields
    if isinstance(document, UnionValidator):
        return any(_has_field(m, name) for m in document.members)
    return False


def define_table(document: Mapping[str, Validator] | Validator) -> TableDefinition:
    """A table whose documents match ``document`` (a dict of validators or a validator).

    As in Convex, the validator may declare the system fields ``_id`` and ``_creationTime``
    (they are dropped: every document has them), and every field name, at any depth and in
    every member of a union, must be an identifier."""
    validator = _as_validator(document)
    if not isinstance(validator, ObjectValidator | UnionValidator | AnyValidator):
        raise SchemaError(f"A table's documents must be objects; got the validator {validator!r}.")
    _check_field_names(validator, ())
    return TableDefinition(_without_system_fields(validator))


def _check_field_names(validator: Validator, path: tuple[str, ...]) -> None:
    """Every object field name under ``validator`` is an identifier (convex-backend
    ``IdentifierFieldName``: ``crates/convex/sync_types/src/identifier.rs``); top-level
    names starting with ``_`` other than the system fields are reserved."""
    if isinstance(validator, ObjectValidator):
        for name, inner in validator.fields.items():
            where = ".".join((*path, str(name)))
            if not path and name in SYSTEM_FIELDS:
                continue
            if not isinstance(name, str) or not _FIELD_IDENTIFIER.match(name) or set(name) == {"_"}:
                raise SchemaError(
                    f"Invalid field name {name!r} (at {where}): field names in a schema must be "
                    "identifiers of at most 64 characters that start with a letter or '_' and "
                    "hold only letters, digits and underscores.")
            if not path and name.startswith("_"):
                raise SchemaError(f"Field {name!r}: top-level field names may not start with '_' "
                                  "(reserved for the system fields _id and _creationTime).")
            _check_field_names(inner, (*path, name))
    for child in _children(validator):
        _check_field_names(child, path)


def _children(validator: Validator) -> tuple[Validator, ...]:
    """The validators directly inside a non-object validator (union members, array items...)."""
    if isinstance(validator, UnionValidator):
        return validator.members
    for attribute in ("inner", "element", "values"):
        child = getattr(validator, attribute, None)
        if isinstance(child, Validator):
            return (child,)
    return ()


def _without_system_fields(validator: Validator) -> Validator:
    """The table validator with top-level ``_id``/``_creationTime`` declarations dropped
    (convex-backend ``Validator::filter_top_level_system_fields``)."""
    if isinstance(validator, ObjectValidator) and any(f in validator.fields for f in SYSTEM_FIELDS):
        return ObjectValidator({k: f for k, f in validator.fields.items() if k not in SYSTEM_FIELDS})
    if isinstance(validator, UnionValidator):
        return UnionValidator(*(_without_system_fields(m) for m in validator.members))
    return validator


@dataclass
class SchemaDefinition:
    """The app's tables. Build it with ``define_schema``."""

    tables: dict[str, TableDefinition]
    schema_validation: bool = True
    strict_table_name_types: bool = True

    def table(self, name: str) -> TableDefinition | None:
        return self.tables.get(name)


def define_schema(tables: Mapping[str, TableDefinition], *, schema_validation: bool = True,
                  strict_table_name_types: bool = True) -> SchemaDefinition:
    """Declare the app's tables; with ``schema_validation`` every write is checked."""
    if not isinstance(tables, Mapping):
        raise SchemaError(f"define_schema expects a dict of table definitions, got {tables!r}.")
    for name, table in tables.items():
        check_identifier(name, "table name")
        if not isinstance(table, TableDefinition):
            raise SchemaError(f"Table {name!r}: expected define_table(...), got {table!r}.")
    return SchemaDefinition(dict(tables), schema_validation, strict_table_name_types)
