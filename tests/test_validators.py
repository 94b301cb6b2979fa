import pytest

from convex_sim import v
from convex_sim.errors import ValidationError


@pytest.mark.parametrize(
    ("validator", "good", "bad"),
    [
        (v.string(), "x", 3),
        (v.float64(), 1.5, "1.5"),
        (v.number(), 2.0, True),
        (v.int64(), 7, 7.0),
        (v.boolean(), False, 0),
        (v.null(), None, 0),
        (v.bytes(), b"\x00", "x"),
        (v.literal("a"), "a", "b"),
        (v.literal(3), 3, 4),
        (v.array(v.int64()), [1, 2], [1, "2"]),
        (v.object({"a": v.string()}), {"a": "x"}, {"a": 1}),
        (v.record(v.string(), v.int64()), {"k": 1}, {"k": "1"}),
        (v.union(v.string(), v.null()), None, 1),
        (v.any(), {"anything": [1, b"2"]}, object()),
        (v.id("users"), "someid", 5),
    ],
)
def test_each_validator_accepts_and_rejects(validator, good, bad):
    assert validator.check(good) == good
    with pytest.raises(Exception) as info:
        validator.check(bad)
    assert isinstance(info.value, ValidationError) or "not a Convex value" in str(info.value)


def test_error_names_path_value_and_validator():
    validator = v.object({"author": v.object({"name": v.string()})})
    with pytest.raises(ValidationError) as info:
        validator.check({"author": {"name": 3}})
    assert str(info.value) == (
        "Value does not match validator. Path: .author.name  Value: 3  Validator: v.string()")


def test_nested_array_path():
    validator = v.object({"tags": v.array(v.object({"label": v.string()}))})
    with pytest.raises(ValidationError, match=r"Path: \.tags\[1\]\.label  Value: None"):
        validator.check({"tags": [{"label": "a"}, {"label": None}]})


def test_missing_and_extra_fields():
    validator = v.object({"a": v.string(), "b": v.optional(v.int64())})
    assert validator.check({"a": "x"}) == {"a": "x"}
    with pytest.raises(ValidationError, match="missing the required field `a`"):
        validator.check({"b": 1})
    with pytest.raises(ValidationError, match="extra field `c`"):
        validator.check({"a": "x", "c": 1})


def test_python_int_is_a_javascript_number_for_float64():
    assert v.float64().check(3) == 3.0
    assert type(v.float64().check(3)) is float
    assert v.object({"x": v.number()}).check({"x": 1}) == {"x": 1.0}


def test_int64_range_is_checked():
    with pytest.raises(ValidationError):
        v.int64().check(2**63)


def test_id_validator_checks_table_when_resolver_given():
    tables = {"idA": "users", "idB": "posts"}
    assert v.id("users").check("idA", ids=tables.get) == "idA"
    with pytest.raises(ValidationError, match='ID is for table "posts", not "users"'):
        v.id("users").check("idB", ids=tables.get)
    with pytest.raises(ValidationError, match="not a document ID"):
        v.id("users").check("nonsense", ids=tables.get)


def test_union_and_nullable_reprs():
    assert repr(v.union(v.string(), v.int64())) == "v.union(v.string(), v.int64())"
    assert repr(v.nullable(v.string())) == "v.union(v.string(), v.null())"
    assert repr(v.id("users")) == 'v.id("users")'


def test_record_checks_keys_and_values_with_path():
    validator = v.record(v.string(), v.array(v.int64()))
    with pytest.raises(ValidationError, match=r"Path: \.k\[0\]"):
        validator.check({"k": ["x"]})
