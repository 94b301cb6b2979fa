"""The Convex value model in Python.

=========  ==========================  =====================================
Convex     Python                      notes
=========  ==========================  =====================================
null       ``None``
int64      ``int``                     range-checked to signed 64 bits
float64    ``float``
boolean    ``bool``
string     ``str``                     valid Unicode (no lone surrogates)
bytes      ``bytes``
array      ``list`` (or ``tuple``)     stored as ``list``
object     ``dict`` with ``str`` keys  keys are field names (``is_field_name``)
=========  ==========================  =====================================

The value rules (field names, nesting, int64, Unicode) are the same for Python and
TypeScript apps; ``check_value`` applies them (see docs/values.md).

``sort_key`` maps a value to a Python key whose natural ordering is Convex's
total order across types (see docs/values.md), which every index and
``.order()`` uses. ``UNDEFINED`` stands for a missing field; it sorts first.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from .errors import InvalidValueError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class _Undefined:
    """A missing field: lowest in the order, and "remove this field" in a patch."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()


class _CommitTs:
    """``ctx.db.vars.commitTs``: a placeholder an int64 field may hold in a mutation's writes;
    it becomes the transaction's commit timestamp when the transaction commits, and sorts
    after every int64 until then (it will be the newest commit)."""

    _instance: _CommitTs | None = None

    def __new__(cls) -> _CommitTs:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "COMMIT_TS"

    def __reduce__(self) -> str:
        return "COMMIT_TS"


COMMIT_TS: Any = _CommitTs()
_COMMIT_TS_KEY = (2, INT64_MAX + 1)   # (RANK_INT64, beyond every int64)


def resolve_commit_ts(value: Any, ts: int) -> Any:
    """``value`` with every ``COMMIT_TS`` replaced by ``ts``."""
    if value is COMMIT_TS:
        return ts
    t = type(value)
    if t is dict:
        return {k: resolve_commit_ts(x, ts) for k, x in value.items()}
    if t is list:
        return [resolve_commit_ts(x, ts) for x in value]
    return value


def contains_commit_ts(value: Any) -> bool:
    """Whether ``value`` holds ``COMMIT_TS`` anywhere."""
    if value is COMMIT_TS:
        return True
    t = type(value)
    if t is dict:
        return any(contains_commit_ts(x) for x in value.values())
    if t is list:
        return any(contains_commit_ts(x) for x in value)
    return False

# Type ranks of Convex's cross-type order (convex-js src/values/compare.ts).
RANK_UNDEFINED, RANK_NULL, RANK_INT64, RANK_FLOAT64, RANK_BOOLEAN = 0, 1, 2, 3, 4
RANK_STRING, RANK_BYTES, RANK_ARRAY, RANK_OBJECT = 5, 6, 7, 8

_UNDEFINED_KEY = (RANK_UNDEFINED,)
_NULL_KEY = (RANK_NULL,)
_FLIP_LOW_63 = 0x7FFF_FFFF_FFFF_FFFF
_pack_double = struct.Struct("<d").pack
_unpack_int64 = struct.Struct("<q").unpack


def _float_order(x: float) -> int:
    """An int whose order is Convex's float order: -NaN < -inf < ... < -0 < +0 < ... < +inf < +NaN."""
    (bits,) = _unpack_int64(_pack_double(x))
    return bits ^ _FLIP_LOW_63 if bits < 0 else bits


def sort_key(value: Any) -> tuple:
    """Return a key whose Python ordering is Convex's total order of values."""
    t = type(value)
    if t is str:
        # Code-point order equals UTF-8 byte order for valid Unicode strings.
        return (RANK_STRING, value)
    if t is float:
        return (RANK_FLOAT64, _float_order(value))
    if t is int:
        return (RANK_INT64, value)
    if value is None:
        return _NULL_KEY
    if t is bool:
        return (RANK_BOOLEAN, value)
    if t is bytes:
        return (RANK_BYTES, value)
    if t is list or t is tuple:
        return (RANK_ARRAY, tuple(sort_key(x) for x in value))
    if t is dict:
        return (RANK_OBJECT, tuple((k, sort_key(value[k])) for k in sorted(value)))
    if value is UNDEFINED:
        return _UNDEFINED_KEY
    if value is COMMIT_TS:
        return _COMMIT_TS_KEY
    raise InvalidValueError(f"{type(value).__name__} is not a Convex value: {value!r}")


def compare(a: Any, b: Any) -> int:
    """Compare two values in Convex's order: -1, 0 or 1."""
    ka, kb = sort_key(a), sort_key(b)
    return (ka > kb) - (ka < kb)


def type_name(value: Any) -> str:
    """The Convex type name of a Python value, for error messages."""
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    names = {bool: "boolean", int: "int64", float: "float64", str: "string", bytes: "bytes",
             list: "array", tuple: "array", dict: "object"}
    return names.get(type(value), f"Python {type(value).__name__}")


def format_value(value: Any, limit: int = 80) -> str:
    """A short, readable rendering of a value for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_path(path: tuple) -> str:
    """Render a field path like ``.author.tags[2]`` (the empty path is ``(root)``)."""
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in path]
    return "".join(parts) or "(root)"


# --- The value rules (one set for Python and TypeScript apps) -------------------------------

#: The longest field name of any object (convex-js ``src/values/value.ts`` ``MAX_IDENTIFIER_LEN``;
#: convex-backend ``crates/convex/sync_types/src/identifier.rs`` ``MAX_FIELD_NAME_LENGTH``).
MAX_FIELD_NAME_LENGTH = 1024
#: How deeply a value may nest arrays and objects (convex-backend ``crates/value/src/size.rs``
#: ``MAX_NESTING``: a scalar nests 0 levels, ``[[1]]`` 2). Documents allow fewer (limits.py).
MAX_VALUE_NESTING = 64


def is_field_name(name: Any) -> bool:
    """Whether ``name`` may name a field of an object: a ``str`` of at most 1024 non-control
    ASCII characters (0x20 to 0x7E) not starting with ``$`` (convex-js ``validateObjectField``,
    convex-backend ``check_valid_field_name``). The empty name is allowed."""
    return (type(name) is str and name[:1] != "$" and len(name) <= MAX_FIELD_NAME_LENGTH
            and name.isascii() and name.isprintable())


def check_field_name(name: Any, path: tuple) -> None:
    """Raise :class:`InvalidValueError` if ``name`` may not name a field of the object at ``path``."""
    if is_field_name(name):
        return
    where = format_path(path)
    if type(name) is not str:
        raise InvalidValueError(f"Object keys must be strings, got {format_value(name)} at path {where}")
    if name.startswith("$"):
        raise InvalidValueError(
            f"Field name {format_value(name)} at path {where} starts with '$', which is reserved.")
    if len(name) > MAX_FIELD_NAME_LENGTH:
        raise InvalidValueError(
            f"Field name {format_value(name, 40)} at path {where} is {len(name)} characters long; "
            f"the limit is {MAX_FIELD_NAME_LENGTH}.")
    bad = next(c for c in name if not (c.isascii() and c.isprintable()))
    raise InvalidValueError(
        f"Field name {format_value(name)} at path {where} has invalid character {bad!r}: field "
        "names can only contain non-control ASCII characters.")


def too_nested(depth: int, path: tuple | None = None) -> InvalidValueError:
    """The error for an array or object inside ``depth`` others (at ``path``, if known): it
    nests the value past ``MAX_VALUE_NESTING`` levels."""
    text = format_path(path) if path is not None else ""
    where = f" at path {text if len(text) <= 120 else text[:117] + '...'}" if text else ""
    return InvalidValueError(
        f"Value is too nested: an array or object{where} is {depth + 1} levels deep; the limit "
        f"is {MAX_VALUE_NESTING} levels.")


def check_value(value: Any, path: tuple = ()) -> Any:
    """Check that ``value`` is a Convex value; return it with tuples made lists.

    The rules: int64 range, valid Unicode strings, field names (:func:`is_field_name`) and
    nesting (``MAX_VALUE_NESTING``, counted from ``path``: a value inside another starts
    deeper). Raises :class:`InvalidValueError` naming the field path of the offender.
    """
    t = type(value)
    if value is None or t is bool or t is float:
        return value
    if t is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidValueError(
                f"Value does not fit in int64 at path {format_path(path)}: {value}")
        return value
    if t is str:
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValueError(
                f"String is not valid Unicode at path {format_path(path)}: {format_value(value)}"
            ) from None
        return value
    if t is bytes:
        return value
    if t is list or t is tuple:
        if len(path) >= MAX_VALUE_NESTING:
            raise too_nested(len(path), path)
        return [check_value(x, (*path, i)) for i, x in enumerate(value)]
    if t is dict:
        if len(path) >= MAX_VALUE_NESTING:
            raise too_nested(len(path), path)
        out = {}
        for k, x in value.items():
            if x is UNDEFINED:
                continue
            if not (type(k) is str and k.isascii() and k.isprintable() and k[:1] != "$"
                    and len(k) <= MAX_FIELD_NAME_LENGTH):   # is_field_name, inlined: a hot loop
                check_field_name(k, path)
            out[k] = check_value(x, (*path, k))
        return out
    if value is COMMIT_TS:
        return value
    raise InvalidValueError(
        f"{type(value).__name__} is not a Convex value at path {format_path(path)}: "
        f"{format_value(value)}. Convex values are None, bool, int (int64), float, str, "
        "bytes, list and dict with str keys.")


def copy_value(value: Any) -> Any:
    """A deep copy of a Convex value (lists and dicts copied, scalars shared)."""
    t = type(value)
    if t is dict:
        out = value.copy()   # scalars shared; containers below copied
        for k, x in value.items():
            tx = type(x)
            if tx is dict or tx is list:
                out[k] = copy_value(x)
        return out
    if t is list:
        return [copy_value(x) if type(x) in _CONTAINERS else x for x in value]
    return value


_CONTAINERS = (dict, list)


def value_size(value: Any) -> int:
    """Approximate encoded size in bytes, used for Convex's size limits.

    Mirrors the shape of Convex's accounting: a tag byte per value, 8 bytes per
    number, the UTF-8 length of strings and keys. Exact figures are unverified.
    """
    t = type(value)
    if t is str:
        return 2 + (len(value) if value.isascii() else len(value.encode("utf-8")))
    if t is int or t is float or value is COMMIT_TS:
        return 9
    if value is None or t is bool:
        return 1
    if t is bytes:
        return 2 + len(value)
    if t is list or t is tuple:
        return 2 + sum(value_size(x) for x in value)
    if t is dict:
        return 2 + sum(len(k.encode("utf-8")) + 1 + value_size(x) for k, x in value.items())
    return 0


# --- Convex's JSON export encoding -------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def to_json(value: Any) -> Any:
    """Encode a value as Convex's JSON export does (int64, bytes and odd floats wrapped)."""
    t = type(value)
    if t is int:
        return {"$integer": _b64(struct.pack("<q", value))}
    if t is float:
        if math.isnan(value) or math.isinf(value) or (value == 0 and math.copysign(1, value) < 0):
            return {"$float": _b64(_pack_double(value))}
        return value
    if t is bytes:
        return {"$bytes": _b64(value)}
    if t is list or t is tuple:
        return [to_json(x) for x in value]
    if t is dict:
        return {k: to_json(x) for k, x in value.items()}
    if value is None or t is bool or t is str:
        return value
    if value is COMMIT_TS:
        return {"$commitTs": None}
    raise InvalidValueError(f"{type(value).__name__} is not a Convex value: {format_value(value)}")


def from_json(data: Any) -> Any:
    """Decode Convex's JSON export encoding back into Python values.

    Plain JSON numbers decode as ``float`` (they are float64 in Convex). Arrays and objects
    nested past ``MAX_VALUE_NESTING`` raise :class:`InvalidValueError`.
    """
    return _from_json(data, 0)


def _from_json(data: Any, depth: int) -> Any:
    t = type(data)
    if t is dict:
        if len(data) == 1:
            ((key, inner),) = data.items()
            if key in ("$integer", "$float", "$bytes"):
                return _decode_special(key, inner)
            if key == "$commitTs" and inner is None:
                return COMMIT_TS
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(depth)
        return {k: _from_json(x, depth + 1) for k, x in data.items()}
    if t is list:
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(depth)
        return [_from_json(x, depth + 1) for x in data]
    if t is int:
        return float(data)
    return data


def _decode_special(key: str, inner: Any) -> Any:
    try:
        raw = base64.b64decode(inner, validate=True)
    except (ValueError, TypeError) as exc:
        raise InvalidValueError(f"Malformed {key} value {format_value(inner)}: {exc}") from None
    if key == "$bytes":
        return raw
    if len(raw) != 8:
        raise InvalidValueError(f"Malformed {key} value {inner!r}: expected 8 bytes, got {len(raw)}")
    return struct.unpack("<q", raw)[0] if key == "$integer" else struct.unpack("<d", raw)[0]
