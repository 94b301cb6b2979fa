"""Validators (``v``): runtime checks for arguments, return values and documents.

``validator.check(value)`` returns the value, normalized (tuples become lists,
an ``int`` given to ``v.float64()`` becomes a ``float``: a Python ``1`` is
JavaScript's number ``1``), or raises :class:`ValidationError`::

    Value does not match validator. Path: .author.name  Value: 3  Validator: v.string()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import limits
from .errors import ValidationError
from .values import (
    INT64_MAX,
    INT64_MIN,
    MAX_VALUE_NESTING,
    UNDEFINED,
    check_field_name,
    check_value,
    format_path,
    format_value,
    is_field_name,
    too_nested,
)

#: Given an ID string, the name of the table it belongs to (or None if not an ID).
IdResolver = Callable[[str], "str | None"]


class Validator:
    """Base class: a named check over Convex values."""

    is_optional = False

    def check(self, value: Any, path: tuple = (), ids: IdResolver | None = None) -> Any:
        raise NotImplementedError

    def _fail(self, value: Any, path: tuple, detail: str = "") -> ValidationError:
        text = (f"Value does not match validator. Path: {format_path(path)}  "
                f"Value: {format_value(value)}  Validator: {self!r}")
        return ValidationError(f"{detail} {text}" if detail else text)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and repr(other) == repr(self)

    def __hash__(self) -> int:
        return hash(repr(self))


class _Scalar(Validator):
    name = ""

    def __repr__(self) -> str:
        return f"v.{self.name}()"


class StringValidator(_Scalar):
    name = "string"

    def check(self, value, path=(), ids=None):
        if type(value) is not str:
            raise self._fail(value, path)
        return check_value(value, path)


class Float64Validator(_Scalar):
    name = "float64"

    def check(self, value, path=(), ids=None):
        t = type(value)
        if t is float:
            return value
        if t is int:
            return float(value)
        raise self._fail(value, path)


class Int64Validator(_Scalar):
    name = "int64"

    def check(self, value, path=(), ids=None):
        if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
            raise self._fail(value, path)
        return value


class _TypeValidator(_Scalar):
    """A scalar validator that accepts exactly one Python type."""

    python_type: type = type(None)

    def check(self, value, path=(), ids=None):
        if type(value) is not self.python_type:
            raise self._fail(value, path)
        return value


class BooleanValidator(_TypeValidator):
    name, python_type = "boolean", bool


class NullValidator(_TypeValidator):
    name, python_type = "null", type(None)


class BytesValidator(_TypeValidator):
    name, python_type = "bytes", bytes


class AnyValidator(_Scalar):
    name = "any"

    def check(self, value, path=(), ids=None):
        return check_value(value, path)


class IdValidator(Validator):
    def __init__(self, table: str) -> None:
        if not isinstance(table, str) or not table:
            raise TypeError(f"v.id(table) expects a table name, got {table!r}")
        self.table = table

    def __repr__(self) -> str:
        return f'v.id("{self.table}")'

    def check(self, value, path=(), ids=None):
        if type(value) is not str:
            raise self._fail(value, path)
        if ids is not None:
            table = ids(value)
            if table is None:
                raise self._fail(value, path, "Value is not a document ID.")
            if table != self.table:
                raise self._fail(value, path, f'ID is for table "{table}", not "{self.table}".')
        return value


class LiteralValidator(Validator):
    def __init__(self, literal: Any) -> None:
        if type(literal) not in (str, int, float, bool):
            raise TypeError(f"v.literal() expects a str, int, float or bool, got {literal!r}")
        self.value = literal

    def __repr__(self) -> str:
        return f"v.literal({self.value!r})"

    def check(self, value, path=(), ids=None):
        expected = type(self.value)
        if expected is float and type(value) is int:
            value = float(value)
        if type(value) is not expected or value != self.value:
            raise self._fail(value, path)
        return value


class OptionalValidator(Validator):
    is_optional = True

    def __init__(self, inner: Validator) -> None:
        self.inner = _as_validator(inner)

    def __repr__(self) -> str:
        return f"v.optional({self.inner!r})"

    def check(self, value, path=(), ids=None):
        if value is UNDEFINED:
            return value
        return self.inner.check(value, path, ids)


class ArrayValidator(Validator):
    def __init__(self, element: Validator) -> None:
        self.element = _as_validator(element)

    def __repr__(self) -> str:
        return f"v.array({self.element!r})"

    def check(self, value, path=(), ids=None):
        if type(value) not in (list, tuple):
            raise self._fail(value, path)
        if len(path) >= MAX_VALUE_NESTING:
            raise too_nested(len(path), path)
        element = self.element
        return [element.check(x, (*path, i), ids) for i, x in enumerate(value)]


#: Validators that return a value of this type as it is (an ASCII ``str``: valid Unicode).
_PASS_THROUGH: dict[type, type] = {StringValidator: str, Float64Validator: float}


class ObjectValidator(Validator):
    def __init__(self, fields: Mapping[str, Validator]) -> None:
        if not isinstance(fields, Mapping):
            raise TypeError(f"v.object() expects a dict of validators, got {fields!r}")
        self.fields = {name: _as_validator(f) for name, f in fields.items()}
        #: Field names no value may have ("$a", "a\tb", ...): a value with one is refused.
        self.bad_names = tuple(name for name in self.fields if not is_field_name(name))
        #: (name, validator, the one type it passes through unchanged or None), per field:
        #: what :func:`check_flat_object` checks strings and floats with, without a call
        #: (None: a field name needs checking, so no fast path).
        self.scalar_plan = None if self.bad_names else tuple(
            (name, f, _PASS_THROUGH.get(type(f))) for name, f in self.fields.items())
        #: Whether every field name may name a document's top-level field (no "_" first, not
        #: too long, a field name at all): a flat document of these needs no check of its names.
        self.document_names = not self.bad_names and all(
            name[:1] != "_" and len(name) <= limits.MAX_FIELD_NAME_LENGTH for name in self.fields)

    def __repr__(self) -> str:
        inner = ", ".join(f'"{k}": {f!r}' for k, f in self.fields.items())
        return f"v.object({{{inner}}})"

    def check(self, value, path=(), ids=None):
        if type(value) is not dict:
            raise self._fail(value, path)
        if len(path) >= MAX_VALUE_NESTING:
            raise too_nested(len(path), path)
        for key in value:
            if key not in self.fields and value[key] is not UNDEFINED:
                raise self._fail(value, path,
                                 f"Object contains extra field `{key}` that is not in the validator.")
        for name in self.bad_names:
            if value.get(name, UNDEFINED) is not UNDEFINED:
                check_field_name(name, path)
        out = {}
        for name, field in self.fields.items():
            item = value.get(name, UNDEFINED)
            if item is UNDEFINED:
                if not field.is_optional:
                    raise self._fail(value, path, f"Object is missing the required field `{name}`.")
                continue
            out[name] = field.check(item, (*path, name), ids)
        return out


class RecordValidator(Validator):
    def __init__(self, keys: Validator, values: Validator) -> None:
        self.keys = _as_validator(keys)
        self.values = _as_validator(values)
        if self.values.is_optional:
            raise TypeError("v.record() values cannot be v.optional()")

    def __repr__(self) -> str:
        return f"v.record({self.keys!r}, {self.values!r})"

    def check(self, value, path=(), ids=None):
        if type(value) is not dict:
            raise self._fail(value, path)
        if len(path) >= MAX_VALUE_NESTING:
            raise too_nested(len(path), path)
        out = {}
        for key, item in value.items():
            if item is UNDEFINED:
                continue
            if not is_field_name(key):
                check_field_name(key, path)
            self.keys.check(key, (*path, key), ids)
            out[key] = self.values.check(item, (*path, key), ids)
        return out


class UnionValidator(Validator):
    def __init__(self, *members: Validator) -> None:
        self.members = tuple(_as_validator(m) for m in members)

    def __repr__(self) -> str:
        return f"v.union({', '.join(repr(m) for m in self.members)})"

    def check(self, value, path=(), ids=None):
        for member in self.members:
            try:
                return member.check(value, path, ids)
            except ValidationError:
                continue
        raise self._fail(value, path)


def _as_validator(obj: Any) -> Validator:
    if isinstance(obj, Validator):
        return obj
    if isinstance(obj, Mapping):
        return ObjectValidator(obj)
    raise TypeError(f"Expected a validator (v.string(), v.object(...), ...), got {obj!r}")


def as_object_validator(obj: Any, what: str) -> Validator:
    """Accept ``args=``/``returns=``-style input: a dict of validators or a validator."""
    try:
        return _as_validator(obj)
    except TypeError as exc:
        raise TypeError(f"{what}: {exc}") from None


class _V:
    """The validator builders, used as ``v.string()``, ``v.object({...})``, ..."""

    @staticmethod
    def string() -> Validator:
        return StringValidator()

    @staticmethod
    def float64() -> Validator:
        return Float64Validator()

    number = float64

    @staticmethod
    def int64() -> Validator:
        return Int64Validator()

    bigint = int64

    @staticmethod
    def boolean() -> Validator:
        return BooleanValidator()

    @staticmethod
    def null() -> Validator:
        return NullValidator()

    @staticmethod
    def bytes() -> Validator:
        return BytesValidator()

    @staticmethod
    def any() -> Validator:
        return AnyValidator()

    @staticmethod
    def id(table: str) -> Validator:
        return IdValidator(table)

    @staticmethod
    def literal(value: Any) -> Validator:
        return LiteralValidator(value)

    @staticmethod
    def optional(inner: Validator) -> Validator:
        return OptionalValidator(inner)

    @staticmethod
    def array(element: Validator) -> Validator:
        return ArrayValidator(element)

    @staticmethod
    def object(fields: Mapping[str, Validator]) -> Validator:
        return ObjectValidator(fields)

    @staticmethod
    def record(keys: Validator, values: Validator) -> Validator:
        return RecordValidator(keys, values)

    @staticmethod
    def union(*members: Validator) -> Validator:
        return UnionValidator(*members)

    @staticmethod
    def nullable(inner: Validator) -> Validator:
        return UnionValidator(inner, NullValidator())


v = _V()


def check_flat_object(value: Any, validator: Validator | None) -> tuple[dict, int] | None:
    """``validator.check(value)`` and the result's ``value_size``, in one pass, for the
    commonest object: every field an ASCII string, or a number for a float64 field, against
    an object validator. None: not such an object; call ``check`` (which says what is wrong)."""
    plan = getattr(validator, "scalar_plan", None)
    if plan is None or type(value) is not dict:
        return None
    out = {}
    size = 2
    for name, field, passes in plan:
        item = value.get(name, UNDEFINED)
        t = type(item)
        if t is passes and (passes is float or item.isascii()):
            size += 10 + len(name) if passes is float else 3 + len(name) + len(item)
        elif t is int and passes is float:
            item = float(item)   # as Float64Validator does: a JavaScript number
            size += 10 + len(name)
        elif item is UNDEFINED and field.is_optional:
            continue
        else:
            return None
        out[name] = item
    if len(out) != len(value):   # fields the validator lacks, or undefined ones
        return None
    return out, size
