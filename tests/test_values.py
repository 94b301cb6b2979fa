import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convex_sim.errors import InvalidValueError
from convex_sim.values import (
    INT64_MAX,
    INT64_MIN,
    UNDEFINED,
    check_value,
    compare,
    from_json,
    sort_key,
    to_json,
    value_size,
)

scalars = st.one_of(
    st.none(),
    st.integers(INT64_MIN, INT64_MAX),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(),
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=5).filter(lambda k: not k.startswith("$")),
                        inner, max_size=4),
    ),
    max_leaves=10,
)


def test_cross_type_order_matches_convex():
    # undefined < null < int64 < float64 < boolean < string < bytes < array < object
    ordered = [UNDEFINED, None, -5, 10, -1.5, 0.5, False, True, "", "a", b"", b"\x00",
               [], [1], {}, {"a": 1}]
    assert sorted(ordered, key=sort_key) == ordered
    assert compare(2**62, -1.0) == -1  # every int64 sorts before every float64


def test_float_order_edge_cases():
    neg_nan = -math.nan if math.copysign(1, -math.nan) < 0 else math.nan
    xs = [math.inf, 0.0, -0.0, -math.inf, math.nan, 1.0, neg_nan]
    got = sorted(xs, key=sort_key)
    assert math.isnan(got[0]) and math.copysign(1, got[0]) < 0
    assert got[1:6] == [-math.inf, -0.0, 0.0, 1.0, math.inf]
    assert math.copysign(1, got[2]) < 0 and math.copysign(1, got[3]) > 0
    assert math.isnan(got[6]) and math.copysign(1, got[6]) > 0


def test_strings_compare_by_utf8_bytes():
    words = ["\uffff", "a", "\U0001F600", "é", "Z"]
    assert sorted(words, key=sort_key) == sorted(words, key=lambda s: s.encode("utf-8"))


def test_arrays_element_by_element_then_length_objects_by_sorted_keys():
    assert compare([1, 2], [1, 2, 0]) == -1
    assert compare([2], [1, 99]) == 1
    assert compare({"b": 1, "a": 2}, {"a": 2, "b": 1}) == 0
    assert compare({"a": 1}, {"b": 0}) == -1


def _reference_compare(a, b):
    """Convex's compareValues written directly (rank, then same-type rules)."""
    def rank(x):
        if x is UNDEFINED:
            return 0
        if x is None:
            return 1
        for r, t in ((4, bool), (2, int), (3, float), (5, str), (6, bytes), (7, list), (8, dict)):
            if isinstance(x, t):
                return r
        raise TypeError(x)

    ra, rb = rank(a), rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 3:
        ba = struct.unpack("<q", struct.pack("<d", a))[0]
        bb = struct.unpack("<q", struct.pack("<d", b))[0]
        na, nb = math.isnan(a), math.isnan(b)
        if not na and not nb and a != b:
            return -1 if a < b else 1
        if not na and not nb:  # equal, maybe -0 vs +0
            sa, sb = ba < 0, bb < 0
            return 0 if sa == sb else (-1 if sa else 1)
        if na != nb:
            return (-1 if ba < 0 else 1) if na else (1 if bb < 0 else -1)
        if (ba < 0) != (bb < 0):
            return -1 if ba < 0 else 1
        return (ba > bb) - (ba < bb)
    if ra == 5:
        a, b = a.encode(), b.encode()
    if ra in (7, 8):
        if ra == 8:
            a = [[k, a[k]] for k in sorted(a, key=lambda k: k.encode())]
            b = [[k, b[k]] for k in sorted(b, key=lambda k: k.encode())]
        for x, y in zip(a, b, strict=False):
            c = _reference_compare(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if ra <= 1:
        return 0
    return (a > b) - (a < b)


@given(values, values)
def test_sort_key_agrees_with_reference_comparator(a, b):
    assert compare(a, b) == _reference_compare(a, b)
    assert compare(b, a) == -compare(a, b)


@given(values)
def test_json_export_round_trip(x):
    back = from_json(to_json(x))
    assert sort_key(back) == sort_key(x)


def test_json_export_wraps_int64_bytes_and_special_floats():
    assert to_json(1) == {"$integer": "AQAAAAAAAAA="}
    assert to_json(b"\x01\x02") == {"$bytes": "AQI="}
    assert to_json(1.5) == 1.5
    assert "$float" in to_json(-0.0)
    assert from_json({"$integer": "AQAAAAAAAAA="}) == 1
    assert from_json(3) == 3.0 and type(from_json(3)) is float


def test_check_value_rejects_non_values_with_path():
    with pytest.raises(InvalidValueError, match=r"\.a\[1\]"):
        check_value({"a": [1, object()]})
    with pytest.raises(InvalidValueError, match="int64"):
        check_value(2**63)
    with pytest.raises(InvalidValueError, match="Unicode"):
        check_value("\ud800")
    assert check_value((1, 2)) == [1, 2]
    assert check_value({"a": UNDEFINED, "b": 1}) == {"b": 1}


def test_value_size_grows_with_content():
    assert value_size("abc") < value_size("abcdef")
    assert value_size({"a": [1, 2, 3]}) > value_size({"a": [1]})
