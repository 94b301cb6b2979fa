"""The chat scenario: what its functions promise."""

import pytest

from convex_sim import ArgumentValidationError, ConvexError, ConvexSim, WrongFunctionKindError
from scenarios.chat.schema import schema


@pytest.fixture
def chat():
    sim = ConvexSim(schema, modules="scenarios.chat", seed=3)
    ada = sim.with_identity(subject="ada", name="Ada")
    channel = ada.mutation("channels:create", {"name": "general"})
    return sim, ada, channel


def test_channels_are_unique_and_need_a_user(chat):
    sim, ada, _ = chat
    with pytest.raises(ConvexError) as error:
        ada.mutation("channels:create", {"name": "general"})
    assert error.value.data == {"code": "CHANNEL_EXISTS", "name": "general"}
    with pytest.raises(ConvexError):
        sim.mutation("channels:create", {"name": "random"})
    assert sim.query("channels:list", {}) == ["general"]


def test_message_rules(chat):
    _sim, ada, channel = chat
    with pytest.raises(ConvexError) as error:
        ada.mutation("messages:send", {"channel": channel, "body": "   "})
    assert error.value.data == {"code": "EMPTY_MESSAGE"}
    message = ada.mutation("messages:send", {"channel": channel, "body": "hi"})
    with pytest.raises(ArgumentValidationError, match='ID is for table "messages", not "channels"'):
        ada.mutation("messages:send", {"channel": message, "body": "hi"})


def test_pagination_newest_first_and_stable_under_new_messages(chat):
    sim, ada, channel = chat
    for i in range(5):
        ada.mutation("messages:send", {"channel": channel, "body": f"m{i}"})
    first = sim.query("messages:list", {"channel": channel, "pagination_opts": {"num_items": 2, "cursor": None}})
    assert [m["body"] for m in first["page"]] == ["m4", "m3"]
    ada.mutation("messages:send", {"channel": channel, "body": "late"})  # lands before the cursor
    rest = sim.query("messages:list", {"channel": channel, "pagination_opts": {
        "num_items": 10, "cursor": first["continue_cursor"]}})
    assert [m["body"] for m in rest["page"]] == ["m2", "m1", "m0"] and rest["is_done"]


def test_summarize_action_reads_then_writes(chat):
    sim, ada, channel = chat
    bob = sim.with_identity(subject="bob", name="Bob")
    for who in (ada, bob, bob):
        who.mutation("messages:send", {"channel": channel, "body": "x"})
    assert sim.action("messages:summarize", {"channel": channel}) == "3 messages; most from Bob (2)"
    assert sim.query("messages:recent", {"channel": channel, "count": 1}) == [
        {"author": "bot", "body": "3 messages; most from Bob (2)"}]


def test_internal_functions_are_not_public(chat):
    sim, _, channel = chat
    with pytest.raises(WrongFunctionKindError, match="Could not find public function for 'messages:post_as_bot'"):
        sim.runtime.resolve("messages:post_as_bot", "mutation", public_only=True)
    assert sim.mutation("messages:post_as_bot", {"channel": channel, "body": "ok"})  # the handle may
