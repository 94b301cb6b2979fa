"""Document rules: Convex's value and per-document limits, checked in one pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import limits
from ..errors import InvalidValueError
from ..validators import check_flat_object
from ..values import (
    COMMIT_TS,
    MAX_VALUE_NESTING,
    UNDEFINED,
    check_field_name,
    check_value,
    format_path,
    too_nested,
    value_size,
)

#: What ``_id`` and ``_creationTime`` add to a document's size.
_SYSTEM_FIELDS_SIZE = value_size({"_id": "x" * 32, "_creationTime": 0.0}) - value_size({})
_SCALARS = (bool, float, bytes, type(None), type(COMMIT_TS))


def check_document(body: Mapping[str, Any]) -> tuple[dict, int]:
    """Check a document body against Convex's value and per-document rules, in one pass.

    Returns the normalized body and the document's size in bytes (system
    fields included). Raises :class:`InvalidValueError` naming the field path.
    """
    if len(body) > limits.MAX_DOCUMENT_FIELDS:
        raise InvalidValueError(
            f"document has {len(body)} fields; the limit is {limits.MAX_DOCUMENT_FIELDS}.")
    doc, size, depth = _walk(body, ())
    size += _SYSTEM_FIELDS_SIZE
    if size > limits.MAX_DOCUMENT_BYTES:
        raise InvalidValueError(
            f"document is {size:,} bytes; the limit is {limits.MAX_DOCUMENT_BYTES:,} bytes (1 MiB).")
    if depth > limits.MAX_NESTING_DEPTH:
        raise InvalidValueError(
            f"document nests {depth} levels deep; the limit is {limits.MAX_NESTING_DEPTH}.")
    return doc, size


def check_flat_document(body: dict, validator: Any) -> tuple[dict, int] | None:
    """:func:`check_document` and ``validator.check`` in one pass, for the commonest document
    (see :func:`~convex_sim.validators.check_flat_object`). None: not such a document; take
    the full path, which says what is wrong.

    Same result as the two checks: the fields in the validator's order, the size with
    system fields."""
    flat = check_flat_object(body, validator)
    if flat is None:
        return None
    doc, size = flat
    if not validator.document_names:   # the doc's names are the validator's (check_flat_object)
        return None
    size += _SYSTEM_FIELDS_SIZE
    if size > limits.MAX_DOCUMENT_BYTES or len(doc) > limits.MAX_DOCUMENT_FIELDS:
        return None
    return doc, size


def _walk(value: Any, path: tuple) -> tuple[Any, int, int]:
    """(normalized value, size, nesting depth) of a value inside a document."""
    t = type(value)
    if t is str:
        if value.isascii():
            return value, 2 + len(value), 0
        return value, 2 + len(check_value(value, path).encode("utf-8")), 0
    if t is float:
        return value, 9, 0
    if t is int:
        return check_value(value, path), 9, 0
    if t in _SCALARS:
        return value, value_size(value), 0
    if (t is dict or t is list or t is tuple) and len(path) >= MAX_VALUE_NESTING:
        raise too_nested(len(path), path)   # past any document's limit: stop before recursing on
    if t is dict:
        out, size, depth = {}, 2, 0
        for name, item in value.items():
            if item is UNDEFINED:
                continue
            if type(name) is not str or name[:1] in ("_", "$") or len(name) > limits.MAX_FIELD_NAME_LENGTH \
                    or not (name.isascii() and name.isprintable()):
                _check_name(name, path)   # "_" is refused at the top level only
            out[name], item_size, item_depth = _walk(item, (*path, name))
            size += len(name) + 1 + item_size
            depth = max(depth, item_depth)
        return out, size, depth + 1
    if t is list or t is tuple:
        if len(value) > limits.MAX_ARRAY_LENGTH:
            raise InvalidValueError(
                f"array at {format_path(path)} has {len(value)} elements; the limit is "
                f"{limits.MAX_ARRAY_LENGTH}.")
        items, size, depth = [], 2, 0
        for i, item in enumerate(value):
            normalized, item_size, item_depth = _walk(item, (*path, i))
            items.append(normalized)
            size += item_size
            depth = max(depth, item_depth)
        return items, size, depth + 1
    return check_value(value, path), 0, 0  # raises: not a Convex value


def _check_name(name: Any, path: tuple) -> None:
    """Raise for a field name Convex refuses at ``path``: any object's rules (values.py), and at
    a document's top level (``()``) no ``_`` first (reserved for system fields) and at most
    ``MAX_FIELD_NAME_LENGTH`` characters (Convex docs, "Limits": nested keys may be longer)."""
    check_field_name(name, path)
    if not path and name.startswith("_"):
        raise InvalidValueError(f"field {name!r} starts with '_', which is reserved for system fields.")
    if not path and len(name) > limits.MAX_FIELD_NAME_LENGTH:
        raise InvalidValueError(
            f"field name {name[:20]!r}... is {len(name)} characters; the limit for a document's "
            f"top-level fields is {limits.MAX_FIELD_NAME_LENGTH}.")
