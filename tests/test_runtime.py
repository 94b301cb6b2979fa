"""The function runtime through the test handle, written against the public names."""

import asyncio
import dataclasses
import datetime
import random
import time

import pytest

from convex_sim import (
    ArgumentValidationError,
    ContentionError,
    ConvexError,
    ConvexSim,
    FunctionNotFoundError,
    NetworkNotAllowedError,
    NondeterminismError,
    ReturnsValidationError,
    UserIdentity,
    WriteInReadOnlyError,
    WrongFunctionKindError,
    action,
    define_schema,
    define_table,
    internal_mutation,
    mutation,
    query,
    v,
)
from convex_sim.functions import Registry

NOTES = define_schema({
    "notes": define_table({"text": v.string(), "tags": v.optional(v.array(v.string()))}),
})


def app(**functions):
    registry = Registry()
    for path, fn in functions.items():
        registry.register(path.replace("__", ":"), fn)
    return registry



def test_design_md_walkthrough(bank):
    assert bank.query("bank:balance", {"owner": "ada"}) == 100
    assert bank.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 40}) == 40
    assert bank.action("bank:transfer_via_action", {"src": "ada", "dst": "bob", "amount": 10}) == 10
    assert bank.query(bank.api.bank.balance, {"owner": "bob"}) == 50
    owners = bank.run(lambda ctx: sorted(a["owner"] for a in ctx.db.query("accounts").collect()))
    assert owners == ["ada", "bob"]
    assert asyncio.run(bank.action_async("bank:transfer_via_action",
                                         {"src": "ada", "dst": "bob", "amount": 1})) == 1


def test_internal_functions_callable_from_the_handle(bank):
    bank.mutation("bank:debit", {"owner": "ada", "amount": 5})
    bank.mutation(bank.internal.bank.credit, {"owner": "bob", "amount": 5})
    assert bank.query("bank:balance", {"owner": "ada"}) == 95
    assert bank.query("bank:balance", {"owner": "bob"}) == 5
    with pytest.raises(FunctionNotFoundError, match=r"sim\.internal\.bank\.debit"):
        _ = bank.api.bank.debit


def test_argument_errors_name_function_and_field_path(bank):
    with pytest.raises(ArgumentValidationError) as info:
        bank.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": "ten"})
    message = str(info.value)
    assert "bank:transfer" in message and "Path: .amount" in message and "v.int64()" in message
    with pytest.raises(ArgumentValidationError, match="missing the required field `dst`"):
        bank.mutation("bank:transfer", {"src": "ada", "amount": 1})


def test_return_validation_names_function_and_path():
    @query(returns=v.object({"n": v.int64()}))
    def bad(ctx, args):
        return {"n": "not a number"}

    sim = ConvexSim(None, app(m__bad=bad))
    with pytest.raises(ReturnsValidationError, match=r"return value of m:bad.*Path: \.n"):
        sim.query("m:bad")


def test_nested_calls_validate_too():
    @query(args={"x": v.int64()})
    def inner(ctx, args):
        return args["x"]

    @mutation
    def outer(ctx, args):
        return ctx.run_query("m:inner", {"x": "nope"})

    sim = ConvexSim(None, app(m__inner=inner, m__outer=outer))
    with pytest.raises(ArgumentValidationError, match=r"m:inner.*Path: \.x"):
        sim.mutation("m:outer")


def test_write_in_query_is_an_error():
    @query
    def sneaky(ctx, args):
        ctx.db._txn.insert("notes", {"text": "x"})

    @query
    def no_insert(ctx, args):
        ctx.db.insert("notes", {"text": "x"})

    sim = ConvexSim(NOTES, app(m__sneaky=sneaky, m__no_insert=no_insert))
    with pytest.raises(WriteInReadOnlyError, match="m:sneaky"):
        sim.query("m:sneaky")
    with pytest.raises(AttributeError, match="insert"):
        sim.query("m:no_insert")


def test_nested_mutation_rollback_keeps_outer_writes():
    @internal_mutation
    def failing(ctx, args):
        ctx.db.insert("notes", {"text": "inner"})
        raise ConvexError("inner failed")

    @mutation
    def outer(ctx, args):
        ctx.db.insert("notes", {"text": "outer"})
        try:
            ctx.run_mutation("m:failing")
        except ConvexError as exc:
            return exc.data

    sim = ConvexSim(NOTES, app(m__failing=failing, m__outer=outer))
    assert sim.mutation("m:outer") == "inner failed"
    texts = sim.run(lambda ctx: [n["text"] for n in ctx.db.query("notes").collect()])
    assert texts == ["outer"]


def test_failed_mutation_commits_nothing():
    @mutation
    def half(ctx, args):
        ctx.db.insert("notes", {"text": "x"})
        raise RuntimeError("boom")

    sim = ConvexSim(NOTES, app(m__half=half))
    with pytest.raises(RuntimeError, match="boom") as info:
        sim.mutation("m:half")
    assert "(raised in Convex function m:half)" in info.value.__notes__
    assert sim.run(lambda ctx: ctx.db.query("notes").collect()) == []


def test_convex_error_data_round_trip(bank):
    with pytest.raises(ConvexError) as info:
        bank.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 10**6})
    assert info.value.data == {"code": "INSUFFICIENT_FUNDS"}
    with pytest.raises(ConvexError) as info:
        bank.action("bank:transfer_via_action", {"src": "bob", "dst": "ada", "amount": 1})
    assert info.value.data == {"code": "INSUFFICIENT_FUNDS"}


def test_determinism_same_seed_same_ids_random_and_time():
    @mutation
    def sample(ctx, args):
        return {"id": ctx.db.insert("notes", {"text": "x"}), "r": random.random(),
                "t": time.time(), "d": datetime.datetime.now(datetime.UTC).isoformat()}

    def run(seed):
        sim = ConvexSim(NOTES, app(m__sample=sample), seed=seed)
        return [sim.mutation("m:sample") for _ in range(3)]

    first, second = run(11), run(11)
    assert first == second
    assert first[0]["r"] != first[1]["r"]  # seeded per call, not reset to one value
    assert first[0]["t"] == 1_704_067_200.0
    assert first[0]["d"] == "2024-01-01T00:00:00+00:00"
    assert run(12)[0]["id"] != first[0]["id"]


def test_app_random_does_not_disturb_test_random():
    @mutation
    def roll(ctx, args):
        return random.random()

    sim = ConvexSim(None, app(m__roll=roll))
    random.seed(5)
    expected = [random.random(), random.random()]
    random.seed(5)
    got = [random.random()]
    sim.mutation("m:roll")
    got.append(random.random())
    assert got == expected


def test_network_from_a_mutation_is_refused():
    import socket

    @mutation
    def call_out(ctx, args):
        socket.getaddrinfo("example.com", 80)

    sim = ConvexSim(None, app(m__call_out=call_out))
    with pytest.raises(NetworkNotAllowedError, match="m:call_out: mutations cannot use the network"):
        sim.mutation("m:call_out")


def test_async_handlers_and_awaiting_io_is_refused():
    @query
    async def nested(ctx, args):
        return await ctx.run_query("m:plain")

    @query
    def plain(ctx, args):
        return 7

    @mutation
    async def sleeper(ctx, args):
        await asyncio.sleep(0)

    sim = ConvexSim(None, app(m__nested=nested, m__plain=plain, m__sleeper=sleeper))
    assert sim.query("m:nested") == 7
    with pytest.raises(NondeterminismError, match="may await only ctx calls"):
        sim.mutation("m:sleeper")


def test_identity():
    @query
    def whoami(ctx, args):
        user = ctx.auth.get_user_identity()
        return None if user is None else [user.subject, user.token_identifier, user.name]

    sim = ConvexSim(None, app(m__whoami=whoami))
    assert sim.query("m:whoami") is None
    ada = sim.with_identity(subject="u1", name="Ada")
    assert ada.query("m:whoami") == ["u1", "https://convex.test|u1", "Ada"]
    assert isinstance(ada.identity, UserIdentity)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ada.identity.subject = "other"


def test_wrong_kind_and_unknown_functions(bank):
    with pytest.raises(WrongFunctionKindError, match="bank:transfer is a mutation, not a query"):
        bank.query("bank:transfer", {})
    with pytest.raises(FunctionNotFoundError, match="no module 'banq'"):
        bank.query("banq:balance", {})
    with pytest.raises(FunctionNotFoundError, match="module 'bank' has"):
        bank.query("bank:nope", {})
    with pytest.raises(TypeError, match="cannot be called directly"):
        from scenarios.bank import bank as module
        module.balance(None, {})


def test_actions_must_be_async():
    with pytest.raises(TypeError, match="async def"):
        @action
        def not_async(ctx, args):
            pass


def test_contention_error_after_retries():
    registry = Registry()

    @mutation
    def bump(ctx, args):
        note = ctx.db.query("notes").first()
        # A concurrent writer commits while every attempt runs.
        other = sim.db.begin("hot")
        other.patch(note["_id"], {"text": str(sim.db.latest_ts)})
        other.commit()
        ctx.db.patch(note["_id"], {"text": "mine"})

    registry.register("m:bump", bump)
    sim = ConvexSim(NOTES, registry)
    sim.run(lambda ctx: ctx.db.insert("notes", {"text": "start"}))
    with pytest.raises(ContentionError, match="m:bump failed after 5 attempts"):
        sim.mutation("m:bump")


def test_call_log_records_results_and_errors(bank):
    with pytest.raises(ConvexError):
        bank.mutation("bank:transfer", {"src": "bob", "dst": "ada", "amount": 5})
    last = bank.calls[-1]
    assert last.path == "bank:transfer" and last.outcome == "ConvexError"
    assert "INSUFFICIENT_FUNDS" in str(last)
    assert bank.calls[0].outcome == "ok"
