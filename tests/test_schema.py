import pytest

from convex_sim import define_schema, define_table, v
from convex_sim.errors import SchemaError


def table():
    return define_table({"owner": v.string(), "balance": v.int64(), "meta": v.object({"k": v.string()})})


def test_indexes_get_creation_time_and_id_appended():
    t = table().index("by_owner", ["owner"])
    assert t.indexes["by_owner"].key_fields == ("owner", "_creationTime", "_id")
    assert set(t.all_indexes()) == {"by_id", "by_creation_time", "by_owner"}
    assert t.all_indexes()["by_creation_time"].key_fields == ("_creationTime", "_id")


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        ("by_id", ["owner"], "reserved"),
        ("by_creation_time", ["owner"], "reserved"),
        ("_private", ["owner"], "Invalid index name"),
        ("by_x", ["nope"], "does not have"),
        ("by_x", [], "at least one field"),
        ("by_x", ["owner", "owner"], "twice"),
        ("by_x", ["_creationTime"], "appends _creationTime"),
        ("by_x", "owner", "list of field names"),
    ],
)
def test_index_definition_errors(name, fields, message):
    with pytest.raises(SchemaError, match=message):
        table().index(name, fields)


def test_duplicate_index_names_across_kinds():
    t = table().index("by_owner", ["owner"])
    with pytest.raises(SchemaError, match="Duplicate index name"):
        t.search_index("by_owner", search_field="owner")


def test_nested_field_paths_and_search_vector_indexes():
    t = table().index("by_meta", ["meta.k"]).search_index("search", search_field="owner",
                                                          filter_fields=["balance"])
    t = define_table({"emb": v.array(v.float64())}).vector_index("vec", vector_field="emb", dimensions=3)
    assert t.vector_indexes["vec"].dimensions == 3
    with pytest.raises(SchemaError, match="dimensions"):
        define_table({"emb": v.array(v.float64())}).vector_index("vec", vector_field="emb", dimensions=1)


def test_table_and_field_names():
    with pytest.raises(SchemaError, match="Invalid table name"):
        define_schema({"_system": table()})
    with pytest.raises(SchemaError, match="may not start"):
        define_table({"_x": v.string()})
    with pytest.raises(SchemaError, match="must be objects"):
        define_table(v.string())
