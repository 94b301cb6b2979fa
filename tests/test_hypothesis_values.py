"""Strategies from validators: every drawn value passes; IDs, bounds, arguments, documents."""

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from convex_sim import ConvexError, ConvexSim, define_schema, define_table, v
from convex_sim.hooks import hookimpl, plugin_manager
from convex_sim.hypothesis import StrategyError, args_for, documents_for, from_validator
from convex_sim.values import INT64_MAX, INT64_MIN
from scenarios.bank.schema import schema as bank_schema

FIXTURES = settings(database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
KEYS = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
LEAVES = st.sampled_from([v.string(), v.float64(), v.int64(), v.boolean(), v.null(), v.bytes(),
                          v.any(), v.id("accounts")]) | st.builds(
    v.literal, st.text(max_size=3) | st.integers(INT64_MIN, INT64_MAX)
    | st.floats(allow_nan=False) | st.booleans())
VALIDATORS = st.recursive(LEAVES, lambda inner: (
    st.builds(v.array, inner)
    | st.builds(v.object, st.dictionaries(KEYS, inner | st.builds(v.optional, inner), max_size=3))
    | st.builds(v.record, st.sampled_from([v.string(), v.id("accounts")]), inner)
    | st.builds(lambda members: v.union(*members), st.lists(inner, min_size=1, max_size=3))),
    max_leaves=6)


@pytest.fixture(scope="module")
def accounts():
    sim = ConvexSim(bank_schema, modules="scenarios.bank")
    for owner in ("ada", "bob", "cy"):
        sim.mutation("bank:open_account", {"owner": owner, "balance": 10})
    return sim


@FIXTURES
@given(validator=VALIDATORS, data=st.data())
def test_every_drawn_value_passes_its_validator(accounts, validator, data):
    value = data.draw(from_validator(validator, sim=accounts))
    validator.check(value, (), accounts.db.table_of_id)          # raises if it does not pass


@FIXTURES
@given(validator=VALIDATORS, data=st.data())
def test_without_a_sim_values_pass_the_validator_without_id_resolution(validator, data):
    validator.check(data.draw(from_validator(validator)))


def test_int64_bounds_are_reached_and_never_exceeded():
    assert find(from_validator(v.int64()), lambda x: x >= INT64_MAX) == INT64_MAX
    assert find(from_validator(v.int64()), lambda x: x <= INT64_MIN) == INT64_MIN


def test_optional_fields_are_sometimes_absent_and_sometimes_present():
    strategy = from_validator({"a": v.optional(v.literal("x"))})
    assert find(strategy, lambda d: "a" not in d) == {}
    assert find(strategy, lambda d: "a" in d) == {"a": "x"}


def test_ids_come_from_existing_documents_of_the_table(accounts):
    owners = find(from_validator(v.id("accounts"), sim=accounts), lambda i: True)
    assert accounts.db.table_of_id(owners) == "accounts"
    every = set()
    find(from_validator(v.id("accounts"), sim=accounts), lambda i: every.add(i) or len(every) == 3,
         settings=settings(database=None, max_examples=500))
    assert len(every) == 3


def test_an_id_of_an_empty_table_is_a_clear_error():
    sim = ConvexSim(define_schema({"users": define_table({"name": v.string()})}))
    with pytest.raises(StrategyError, match='table "users" has no documents'):
        find(from_validator(v.id("users"), sim=sim), lambda i: True)


def test_fields_override_by_name_at_any_depth():
    strategy = from_validator({"a": {"owner": v.string()}, "owner": v.string()},
                              fields={"owner": st.just("ada")})
    assert find(strategy, lambda d: True) == {"a": {"owner": "ada"}, "owner": "ada"}


def test_args_for_a_python_function_pass_its_validator_and_the_call_never_misvalidates(accounts):
    fn = accounts.registry.resolve("bank:transfer")

    @FIXTURES
    @given(args=args_for(accounts, "bank:transfer",
                         fields={"src": st.sampled_from(["ada", "bob", "eve"])}))
    def call(args):
        fn.args.check(args)
        try:
            accounts.mutation("bank:transfer", args)
        except ConvexError as exc:
            assert exc.data["code"] in ("NO_SUCH_ACCOUNT", "INSUFFICIENT_FUNDS")

    state = accounts.capture_state()
    try:
        call()
    finally:
        accounts.restore_state(state)


def test_args_for_a_typescript_function(ts):
    ts.mutation("bank:open", {"owner": "ada", "amount": 5})
    fn = ts.registry.resolve("bank:deposit")
    drawn = []

    @settings(FIXTURES, max_examples=25, deadline=None)
    @given(args=args_for(ts, "bank:deposit"))
    def call(args):
        fn.args.check(args)
        drawn.append(args)
        try:
            ts.mutation("bank:deposit", args)
        except ConvexError as exc:
            assert exc.data["code"] == "NO_ACCOUNT"

    call()
    assert drawn and all(set(a) == {"owner", "amount"} and isinstance(a["amount"], float)
                         for a in drawn)


def test_documents_for_inserts_cleanly():
    schema = define_schema({
        "users": define_table({"name": v.string(), "age": v.optional(v.int64()),
                               "tags": v.array(v.string()), "meta": v.record(v.string(), v.any()),
                               "kind": v.union(v.literal("admin"), v.literal("member")),
                               "avatar": v.nullable(v.bytes())}),
        "posts": define_table({"author": v.id("users"), "body": v.string()}),
    })
    sim = ConvexSim(schema)

    @settings(database=None, max_examples=30)
    @given(user=documents_for(schema, "users"), data=st.data())
    def insert(user, data):
        sim.run(lambda ctx: ctx.db.insert("users", user))
        post = data.draw(documents_for(schema, "posts", sim=sim))
        sim.run(lambda ctx: ctx.db.insert("posts", post))

    insert()
    assert sim.run(lambda ctx: len(ctx.db.query("posts").collect())) >= 30


def test_clear_errors(accounts):
    with pytest.raises(StrategyError, match="no table 'nope'"):
        documents_for(bank_schema, "nope")
    with pytest.raises(Exception, match="bank:nope"):
        args_for(accounts, "bank:nope")
    with pytest.raises(StrategyError, match="must be a Hypothesis strategy"):
        from_validator(v.string(), fields={"x": 3})
    with pytest.raises(StrategyError, match="Expected a validator"):
        from_validator(3)


class _OwnersPlugin:
    @hookimpl
    def convex_sim_register_strategy(self, validator, path, context):
        if path[-1:] == ("owner",):
            return st.just("plugin-owner")
        return None


def test_a_plugin_strategy_wins_over_the_builtin():
    plugin = _OwnersPlugin()
    plugin_manager().register(plugin)
    try:
        drawn = find(from_validator({"owner": v.string(), "n": v.int64()}), lambda d: True)
    finally:
        plugin_manager().unregister(plugin)
    assert drawn == {"owner": "plugin-owner", "n": 0}
    assert find(from_validator({"owner": v.string()}), lambda d: True) == {"owner": ""}
