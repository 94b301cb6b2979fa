"""Reactive subscriptions, simulated clients and the consistency checker."""

import pytest

from convex_sim import ConvexError, ConvexSim, Op, WrongFunctionKindError
from convex_sim.subscriptions import SubscriptionError, Transition, check_consistency
from scenarios.chat.schema import schema


@pytest.fixture
def chat():
    sim = ConvexSim(schema, modules="scenarios.chat", seed=0)
    ada = sim.with_identity(subject="ada", name="Ada")
    general = ada.mutation("channels:create", {"name": "general"})
    random_ = ada.mutation("channels:create", {"name": "random"})
    return sim, ada, general, random_


def recent(channel):
    return {"channel": channel, "count": 10}


def bodies(value):
    return [m["body"] for m in value]


def test_subscribe_value_timestamp_history_and_callbacks(chat):
    sim, ada, general, _ = chat
    sub = sim.subscribe("messages:recent", recent(general))
    seen = []
    sub.on_change(seen.append)
    assert sub.value == [] and sub.timestamp == sim.db.latest_ts
    ada.mutation("messages:send", {"channel": general, "body": "hi"})
    assert bodies(sub.value) == ["hi"] and sub.timestamp == sim.db.latest_ts
    assert [(ts, bodies(v)) for ts, v in sub.history] == [(2, []), (3, ["hi"])]
    assert [bodies(v) for v in seen] == [["hi"]]
    sub.unsubscribe()
    ada.mutation("messages:send", {"channel": general, "body": "again"})
    assert bodies(sub.value) == ["hi"]


def test_a_write_outside_every_read_set_reruns_nothing(chat):
    sim, ada, general, random_ = chat
    sim.subscribe("messages:recent", recent(general))
    before = sim.subscriptions.reruns
    ada.mutation("messages:send", {"channel": random_, "body": "elsewhere"})
    assert sim.subscriptions.reruns == before
    ada.mutation("messages:send", {"channel": general, "body": "here"})
    assert sim.subscriptions.reruns == before + 1


def test_identical_queries_share_one_execution(chat):
    sim, ada, general, _ = chat
    a, b = sim.client(), sim.client()
    sub_a = a.subscribe("messages:recent", recent(general))
    sub_b = b.subscribe("messages:recent", recent(general))
    assert sub_a.instance is sub_b.instance and len(sim.subscriptions.instances) == 1
    before = sim.subscriptions.reruns
    ada.mutation("messages:send", {"channel": general, "body": "once"})
    assert sim.subscriptions.reruns == before + 1
    assert bodies(sub_a.value) == bodies(sub_b.value) == ["once"]
    other = sim.client({"subject": "bob"}).subscribe("messages:recent", recent(general))
    assert other.instance is not sub_a.instance  # another identity: another execution


def test_one_transition_updates_every_affected_subscription(chat):
    sim, _ada, general, _ = chat
    client = sim.client()
    messages = client.subscribe("messages:recent", recent(general))
    channels = client.subscribe("channels:list", {})
    count = len(client.transitions)
    sim.run(lambda ctx: (ctx.db.insert("channels", {"name": "new", "created_by": "x"}),
                         ctx.db.insert("messages", {"channel": general, "author": "x", "body": "b"})))
    (transition,) = client.transitions[count:]
    assert set(transition.updates) == {messages.id, channels.id}
    assert messages.timestamp == channels.timestamp == transition.ts == sim.db.latest_ts


def test_a_clients_mutation_returns_after_it_saw_its_commit(chat):
    sim, _, general, _ = chat
    client = sim.client({"subject": "bob", "name": "Bob"})
    sub = client.subscribe("messages:recent", recent(general))
    client.mutation("messages:send", {"channel": general, "body": "mine"})
    assert client.ts == sim.db.latest_ts
    assert bodies(sub.value) == ["mine"]
    assert check_consistency(client).ok


def test_clients_call_public_functions_only(chat):
    sim, _, general, _ = chat
    client = sim.client()
    with pytest.raises(WrongFunctionKindError, match="Could not find public function"):
        client.mutation("messages:post_as_bot", {"channel": general, "body": "x"})


def test_disconnect_and_reconnect_resyncs(chat):
    sim, ada, general, _ = chat
    client = sim.client()
    sub = client.subscribe("messages:recent", recent(general))
    client.disconnect()
    ada.mutation("messages:send", {"channel": general, "body": "one"})
    ada.mutation("messages:send", {"channel": general, "body": "two"})
    assert sub.value == []
    with pytest.raises(SubscriptionError, match="disconnected"):
        client.query("messages:recent", recent(general))
    count = len(client.transitions)
    client.reconnect()
    assert len(client.transitions) == count + 1
    assert bodies(sub.value) == ["one", "two"] and client.ts == sim.db.latest_ts
    assert check_consistency(client).ok


def test_optimistic_update_applied_then_replaced(chat):
    sim, _, general, _ = chat
    client = sim.client({"subject": "bob", "name": "Bob"})
    sub = client.subscribe("messages:recent", recent(general))

    def show_now(store):
        current = store.get_query("messages:recent", recent(general))
        store.set_query("messages:recent", recent(general), [*current, {"author": "Bob", "body": "sending…"}])

    client.mutation("messages:send", {"channel": general, "body": "sent"}, optimistic_update=show_now)
    assert [(ts, bodies(v)) for ts, v in sub.history] == [
        (2, []), (None, ["sending…"]), (3, ["sent"])]

    def hopeful(store):
        store.set_query("messages:recent", recent(general), [{"author": "Bob", "body": "never"}])

    with pytest.raises(ConvexError):
        client.mutation("messages:send", {"channel": general, "body": "   "}, optimistic_update=hopeful)
    assert bodies(sub.history[-2][1]) == ["never"] and bodies(sub.value) == ["sent"]  # rolled back


def test_subscription_holds_an_error_and_recovers():
    from convex_sim import define_schema, define_table, query, v
    from convex_sim.functions import Registry

    @query(args={})
    def setting(ctx, args):
        row = ctx.db.query("settings").first()
        if row is None:
            raise ConvexError({"code": "NOT_CONFIGURED"})
        return row["value"]

    registry = Registry()
    registry.register("settings:get", setting)
    sim = ConvexSim(define_schema({"settings": define_table({"value": v.string()})}), registry)
    sub = sim.subscribe("settings:get", {})
    assert isinstance(sub.error, ConvexError) and sub.error.data == {"code": "NOT_CONFIGURED"}
    assert sub.value is None
    sim.run(lambda ctx: ctx.db.insert("settings", {"value": "dark"}))  # the failed read set still counts
    assert sub.error is None and sub.value == "dark"


def test_paginated_subscription_keeps_page_boundaries(chat):
    sim, ada, general, _ = chat
    for i in range(5):
        ada.mutation("messages:send", {"channel": general, "body": f"m{i}"})
    feed = sim.client().subscribe_paginated("messages:list", {"channel": general}, initial_num_items=2)
    assert bodies(feed.results) == ["m4", "m3"] and feed.status == "CanLoadMore"
    assert feed.load_more(2)
    assert bodies(feed.results) == ["m4", "m3", "m2", "m1"]
    first_page_end = feed.pages[0].args["pagination_opts"]["end_cursor"]
    ada.mutation("messages:send", {"channel": general, "body": "new"})
    assert bodies(feed.results) == ["new", "m4", "m3", "m2", "m1"]  # page 1 grew; page 2 unchanged
    assert bodies(feed.pages[1].value["page"]) == ["m2", "m1"]
    assert feed.pages[0].args["pagination_opts"]["end_cursor"] == first_page_end
    sim.run(lambda ctx: ctx.db.delete(ctx.db.query("messages").filter(
        lambda q: q.eq(q.field("body"), "m2")).unique()["_id"]))
    # The last page is not pinned (as in usePaginatedQuery): it refills to its size.
    assert bodies(feed.results) == ["new", "m4", "m3", "m1", "m0"]
    assert feed.load_more(5)
    assert bodies(feed.results) == ["new", "m4", "m3", "m1", "m0"] and feed.status == "Exhausted"
    assert not feed.load_more(5)
    assert check_consistency(feed.pages[0].client).ok


def test_checker_flags_a_delivery_from_two_points_in_time(chat):
    sim, _ada, general, random_ = chat
    client = sim.client()
    a = client.subscribe("messages:recent", recent(general))
    b = client.subscribe("messages:recent", recent(random_))
    old_ts = sim.db.latest_ts
    sim.run(lambda ctx: (ctx.db.insert("messages", {"channel": general, "author": "x", "body": "1"}),
                         ctx.db.insert("messages", {"channel": random_, "author": "x", "body": "2"})))
    assert check_consistency(client).ok
    # A broken server: a's new value, but b's value from before the commit, in one transition.
    new_ts = sim.db.latest_ts
    stale_b = b.history[0][1]
    broken = Transition(new_ts, {a.id: a.value, b.id: stale_b},
                        {a.id: client.transitions[-1].shown[a.id], b.id: "[]"},
                        {a.id: new_ts, b.id: old_ts})
    client.transitions.append(broken)
    report = check_consistency(client)
    assert not report.ok
    assert any(f"carries messages:recent computed at ts {old_ts}" in p for p in report.problems)
    assert any("shows [] at ts" in p for p in report.problems)
    with pytest.raises(AssertionError, match="subscription consistency"):
        report.assert_ok()


def test_checker_flags_time_going_backwards_and_missed_changes(chat):
    sim, ada, general, _ = chat
    client = sim.client()
    sub = client.subscribe("messages:recent", recent(general))
    ada.mutation("messages:send", {"channel": general, "body": "x"})
    client.transitions.append(Transition(1, {}, {}, {}))
    assert any("goes back in time" in p for p in check_consistency(client).problems)
    quiet = sim.client()
    quiet.subscribe("messages:recent", recent(general))
    quiet.connected = False   # stops receiving without resyncing...
    ada.mutation("messages:send", {"channel": general, "body": "y"})
    quiet.connected = True    # ...and claims to be live: it missed a change
    assert any("missed a change" in p for p in check_consistency(quiet).problems)
    assert sub.value[-1]["body"] == "y"


def test_explorer_checks_subscribed_clients_on_every_schedule(chat):
    sim, _, general, _ = chat
    senders = [sim.with_identity(subject=s, name=s.title()).identity for s in ("ann", "ben", "cat")]
    watcher = sim.client({"subject": "w1"})
    watcher.subscribe("messages:recent", recent(general))
    reader = sim.client({"subject": "w2"})
    reader.subscribe_paginated("messages:list", {"channel": general}, initial_num_items=2)
    ops = [Op("messages:send", {"channel": general, "body": f"from {u.subject}"}, identity=u) for u in senders]
    checked = []
    import convex_sim.subscriptions as subs

    original = subs.check_consistency

    def counting(client, since=0):
        checked.append(client.id)
        return original(client, since=since)

    subs.check_consistency = counting
    try:
        result = sim.explore(ops, reduction=False)
    finally:
        subs.check_consistency = original
    assert result.ok and result.schedules_run == 90  # 6 steps, 2 per op: 6! / 2**3
    assert len(checked) == 2 * 90
    assert watcher.transitions and len(watcher.transitions) == 1  # state restored afterwards


def test_checker_flags_a_change_that_was_never_pushed(chat):
    from tools.mutants import patched

    sim, ada, general, _ = chat
    client = sim.client()
    sub = client.subscribe("messages:recent", recent(general))
    with patched("subscriptions-miss-new-keys"):   # a new message is not pushed to the client
        ada.mutation("messages:send", {"channel": general, "body": "lost"})
    assert sub.value == [] and client.ts == sim.db.latest_ts   # stale, yet claiming to be current
    problems = check_consistency(client).problems
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"transition 2: messages:recent({{'channel': '{general}', 'count': 10}}) "
                                  f"shows [] at ts {sim.db.latest_ts}, but the query gives [")
    ada.mutation("messages:send", {"channel": general, "body": "seen"})
    assert bodies(sub.value) == ["lost", "seen"] and check_consistency(client, since=2).ok
