"""Index keys: the bounds that sort above or below every value, and a document's key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..values import UNDEFINED, sort_key


class _Bound:
    """A sentinel that sorts above (``TOP``) or below (``BOTTOM``) every key element."""

    __slots__ = ("_name", "_sign")

    def __init__(self, sign: int, name: str) -> None:
        self._sign, self._name = sign, name

    def __lt__(self, other: object) -> bool:
        return self._sign < 0 and other is not self

    def __gt__(self, other: object) -> bool:
        return self._sign > 0 and other is not self

    def __le__(self, other: object) -> bool:
        return self._sign < 0 or other is self

    def __ge__(self, other: object) -> bool:
        return self._sign > 0 or other is self

    def __repr__(self) -> str:
        return self._name


TOP = _Bound(1, "TOP")
BOTTOM = _Bound(-1, "BOTTOM")
FULL_RANGE: tuple[tuple, tuple] = ((), (TOP,))


def field_value(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted field path, or ``UNDEFINED`` when absent."""
    if "." not in path:
        return doc.get(path, UNDEFINED)
    value: Any = doc
    for part in path.split("."):
        if type(value) is not dict:
            return UNDEFINED
        value = value.get(part, UNDEFINED)
    return value


def index_key(doc: Mapping[str, Any], key_fields: tuple[str, ...]) -> tuple:
    """The key of ``doc`` in an index over ``key_fields``."""
    return tuple(sort_key(field_value(doc, f)) for f in key_fields)


def key_bounds(lo: tuple, hi: tuple, width: int) -> tuple[tuple, tuple, tuple[bool, bool]]:
    """``lo``/``hi`` as bounds on keys of ``width`` elements, with their inclusiveness.

    A range's ends may run one element past a full key: ``(*key, TOP)`` and
    ``(*key, BOTTOM)`` mean just after and just before ``key`` (pagination
    cursors), and a full-width ``hi`` is exclusive (an ``lt`` on the last field).
    """
    lo_inclusive = hi_inclusive = True
    if len(lo) > width:
        lo_inclusive, lo = lo[width] is not TOP, lo[:width]
    if len(hi) > width:
        hi_inclusive, hi = hi[width] is TOP, hi[:width]
    elif len(hi) == width:
        hi_inclusive = False
    return lo, hi, (lo_inclusive, hi_inclusive)


def in_bounds(key: tuple, lo: tuple, hi: tuple, inclusive: tuple[bool, bool]) -> bool:
    """Whether ``key`` lies between bounds from :func:`key_bounds`."""
    return (lo <= key if inclusive[0] else lo < key) and (key <= hi if inclusive[1] else key < hi)
