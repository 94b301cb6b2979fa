"""A catalogue of Convex semantics: one small case per documented rule, each run against a Python
app (scenarios/rules) and a TypeScript app (scenarios/ts_bank/convex/rules.ts) with the same
functions, and each naming the Convex documentation or source it rests on."""

import pytest

from convex_sim import ArgumentValidationError, ConvexError, ConvexSim, ConvexSimError
from scenarios.rules.schema import schema


@pytest.fixture(params=["python", "typescript"])
def app(request):
    if request.param == "python":
        return ConvexSim(schema, modules="scenarios.rules", seed=0)
    return ConvexSim.from_project(request.getfixturevalue("ts_bank_project"), seed=0)


def test_values_order_across_types(app):
    """Index order across types: absent < null < int64 < float64 < boolean < string < bytes <
    array < object (convex-js ``src/values/compare.ts``; docs.convex.dev/database/types)."""
    for value in [[1.0], "b", 2, None, True, 1.5, b"x", {"a": 1.0}]:
        app.mutation("rules:put", {"group": "g", "value": value})
    app.mutation("rules:put", {"group": "g"})
    assert app.query("rules:ordered", {"group": "g"}) == [
        "<absent>", None, 2, 1.5, True, "b", b"x", [1.0], {"a": 1.0}]


def test_unique_with_two_rows_is_an_error(app):
    """``unique()`` throws when more than one document matches (convex-js
    ``src/server/impl/query_impl.ts``, ``unique``)."""
    app.mutation("rules:put", {"group": "one", "note": "x"})
    assert app.query("rules:only", {"group": "one"}) == "x"
    assert app.query("rules:only", {"group": "none"}) is None
    app.mutation("rules:put", {"group": "one", "note": "y"})
    with pytest.raises(Exception, match=r"(?i)unique|more than one"):
        app.query("rules:only", {"group": "one"})


def test_patch_with_undefined_removes_the_field(app):
    """Patching a field to ``undefined`` removes it (docs.convex.dev/database/writing-data,
    "Updating existing documents"; convex-js ``patchValueToJson``)."""
    item = app.mutation("rules:put", {"group": "p", "note": "gone soon"})
    assert app.mutation("rules:clearNote", {"id": item}) == ["_creationTime", "_id", "group"]


def test_system_fields_and_no_user_field_starting_with_an_underscore(app):
    """Every document has ``_id`` and ``_creationTime``; user fields may not start with ``_``
    (docs.convex.dev/database/types, "System fields")."""
    item = app.mutation("rules:put", {"group": "s"})
    doc = app.run(lambda ctx: ctx.db.get(item))
    assert doc["_id"] == item and isinstance(doc["_creationTime"], float)
    with pytest.raises(ConvexSimError):
        app.run(lambda ctx: ctx.db.insert("items", {"group": "s", "_secret": 1}))


def test_pagination_cursors_survive_inserts_and_deletes(app):
    """A continue cursor stays valid when documents around it are inserted or deleted: the next
    page starts right after the last document returned (docs.convex.dev/database/pagination;
    convex-backend ``query_page``)."""
    ids = [app.mutation("rules:put", {"group": "pg", "value": float(i), "note": f"n{i}"}) for i in range(5)]
    first = app.query("rules:page", {"group": "pg", "paginationOpts": {"numItems": 2, "cursor": None}})
    assert first["notes"] == ["n0", "n1"] and first["isDone"] is False
    app.mutation("rules:remove", {"id": ids[2]})                                    # after the cursor
    app.mutation("rules:put", {"group": "pg", "value": 0.5, "note": "before"})      # before the cursor
    app.mutation("rules:put", {"group": "pg", "value": 3.5, "note": "inside"})      # still ahead
    rest = app.query("rules:page", {"group": "pg", "paginationOpts": {"numItems": 10, "cursor": first["cursor"]}})
    assert rest["notes"] == ["n3", "inside", "n4"] and rest["isDone"] is True


def test_an_index_range_must_follow_the_index_fields_in_order(app):
    """``withIndex`` compares index fields in order: skipping ``group`` to compare ``value`` is an
    error (docs.convex.dev/database/reading-data/indexes; convex-backend
    ``crates/common/src/query.rs`` ``IndexRange::compile``)."""
    with pytest.raises(Exception, match=r"(?i)index fields in order|incorrect field"):
        app.query("rules:skipsAField", {})


def test_scheduled_function_states(app):
    """A scheduled function is ``pending`` until it runs, then ``success``; a canceled one stays
    ``canceled`` and never runs (docs.convex.dev/scheduling/scheduled-functions, "Retrieving
    scheduled function status")."""
    runs = app.mutation("rules:later", {"ms": 1000, "note": "ran"})
    never = app.mutation("rules:later", {"ms": 1000, "note": "never"})
    app.mutation("rules:cancel", {"id": never})
    assert [app.query("rules:jobState", {"id": j}) for j in (runs, never)] == ["pending", "canceled"]
    app.advance_time(1000)
    assert [app.query("rules:jobState", {"id": j}) for j in (runs, never)] == ["success", "canceled"]
    assert app.query("rules:only", {"group": "jobs"}) == "ran"


def test_identity_fields(app):
    """``getUserIdentity()`` is null without auth; with it, ``tokenIdentifier`` is
    ``"{issuer}|{subject}"`` (docs.convex.dev/auth/functions-auth)."""
    assert app.query("rules:me", {}) is None
    assert app.with_identity(subject="u1").query("rules:me", {}) == [
        "u1", "https://convex.test", "https://convex.test|u1"]


def test_arguments_are_validated_by_the_functions_own_validator(app):
    """Arguments are checked against the function's ``args`` validator before it runs: a string
    that is not an ID of the table is refused (docs.convex.dev/functions/validation)."""
    with pytest.raises(ArgumentValidationError, match=r"rules:remove.*Path: \.id"):
        app.mutation("rules:remove", {"id": "not an id"})


def test_a_cursor_works_only_with_the_query_that_made_it(app):
    """A cursor carries its query's fingerprint; another query (here another range) refuses it
    with an ``InvalidCursor`` ConvexError (convex-backend ``crates/database/src/query/mod.rs``,
    ``DeveloperQuery::new_bounded`` and ``invalid_cursor``)."""
    for group in ("c1", "c2"):
        app.mutation("rules:put", {"group": group, "note": group})
    first = app.query("rules:page", {"group": "c1", "paginationOpts": {"numItems": 1, "cursor": None}})
    with pytest.raises(ConvexError) as refused:
        app.query("rules:page", {"group": "c2", "paginationOpts": {"numItems": 1, "cursor": first["cursor"]}})
    assert refused.value.data == {"isConvexSystemError": True, "paginationError": "InvalidCursor"}


def test_an_optional_field_may_be_absent_but_not_null(app):
    """``v.optional(v.string())`` allows the field to be missing; a present ``null`` is checked
    against ``v.string()`` and refused (convex-backend ``crates/common/src/schemas/validator.rs``,
    ``Validator::check_value_internal``)."""
    app.mutation("rules:put", {"group": "o"})
    with pytest.raises(ArgumentValidationError, match=r"Path: \.note"):
        app.mutation("rules:put", {"group": "o", "note": None})
