"""The history check on every explored schedule, and the explorer against a broken committer."""

import pytest

from convex_sim import ConvexSim, Op, define_schema, define_table, mutation, v
from convex_sim.functions import Registry
from tools.mutants import patched

SCHEMA = define_schema({
    "slots": define_table({"name": v.string()}),
    "tasks": define_table({"title": v.string(), "owner": v.string()}).index("by_owner", ["owner"])
    .index("by_title", ["title"]),
    "items": define_table({"n": v.int64(), "v": v.int64()}).index("by_n", ["n"]),
    "mirror": define_table({"v": v.int64()}),
})


@mutation(args={"name": v.string()})
def release(ctx, args):
    """Delete a slot, keeping at least one (reads the whole table)."""
    rows = ctx.db.query("slots").collect()
    if len(rows) > 1:
        ctx.db.delete(next(r for r in rows if r["name"] == args["name"])["_id"])


@mutation(args={"title": v.string(), "owner": v.string()})
def assign(ctx, args):
    """Move a task to ``owner`` if they hold fewer than two (reads the owner's index range)."""
    held = ctx.db.query("tasks").with_index("by_owner", lambda q: q.eq("owner", args["owner"])).collect()
    if len(held) < 2:
        task = ctx.db.query("tasks").with_index("by_title", lambda q: q.eq("title", args["title"])).unique()
        ctx.db.patch(task["_id"], {"owner": args["owner"]})


@mutation(args={})
def copy_first(ctx, args):
    """Copy the first item's value into the mirror (reads the item through first())."""
    first = ctx.db.query("items").with_index("by_n").first()
    mirror = ctx.db.query("mirror").first()
    ctx.db.patch(mirror["_id"], {"v": first["v"]})


@mutation(args={})
def bump_from_mirror(ctx, args):
    """Set item 1 to the mirror's value plus one."""
    mirror = ctx.db.query("mirror").first()
    item = ctx.db.query("items").with_index("by_n", lambda q: q.eq("n", 1)).unique()
    ctx.db.patch(item["_id"], {"v": mirror["v"] + 1})


def at_least_one_slot(ctx):
    assert ctx.db.query("slots").collect(), "every slot was released"


def at_most_two_tasks(ctx):
    held = ctx.db.query("tasks").with_index("by_owner", lambda q: q.eq("owner", "ada")).collect()
    assert len(held) <= 2, f"ada holds {len(held)} tasks"


@pytest.fixture
def app():
    registry = Registry()
    registry.register("app:release", release)
    registry.register("app:assign", assign)
    registry.register("app:copy_first", copy_first)
    registry.register("app:bump_from_mirror", bump_from_mirror)
    sim = ConvexSim(SCHEMA, registry)
    sim.run(lambda ctx: [ctx.db.insert("slots", {"name": n}) for n in ("a", "b")])
    sim.run(lambda ctx: [ctx.db.insert("tasks", {"title": t, "owner": o})
                         for t, o in (("t1", "ada"), ("t2", "pool"), ("t3", "pool"))])
    sim.run(lambda ctx: (ctx.db.insert("items", {"n": 1, "v": 5}), ctx.db.insert("items", {"n": 2, "v": 7}),
                         ctx.db.insert("mirror", {"v": 0})))
    return sim


RELEASES = [Op("app:release", {"name": "a"}), Op("app:release", {"name": "b"})]
MIRRORS = [Op("app:copy_first"), Op("app:bump_from_mirror")]
ASSIGNS = [Op("app:assign", {"title": "t2", "owner": "ada"}), Op("app:assign", {"title": "t3", "owner": "ada"})]


def test_correct_committer_passes_every_check(app):
    for ops in (RELEASES, ASSIGNS, MIRRORS):
        result = app.explore(ops)
        assert result.ok and result.exhausted, str(result)
        assert result.stats["conflicts"] > 0


@pytest.mark.parametrize(("mutant", "ops", "invariant", "anomaly"), [
    ("deletes-never-conflict", RELEASES, at_least_one_slot, "G2-item"),
    ("moves-conflict-only-by-id", ASSIGNS, at_most_two_tasks, "G2:"),
])
def test_reduction_does_not_hide_a_broken_committer(app, mutant, ops, invariant, anomaly):
    with patched(mutant):
        by_history = app.explore(ops)   # reduction on, no invariant: the history check alone
        by_invariant = app.explore(ops, invariant=invariant, check_history=False)
    (example,) = [f for f in by_history.failures if f.kind == "history"]
    assert example.reason.startswith("the committed transactions of this schedule are not serializable: "
                                     + anomaly)
    assert "(op A) app:" in example.reason and "(op B) app:" in example.reason
    assert any(f.kind == "invariant" for f in by_invariant.failures)
    assert app.explore(ops, invariant=invariant).ok   # the mutant is undone


def test_history_failures_replay_and_can_be_turned_off(app):
    with patched("deletes-never-conflict"):
        result = app.explore(RELEASES)
        (example,) = [f for f in result.failures if f.kind == "history"]
        assert example.replay().kind == "history"
        quiet = app.explore(RELEASES, check_history=False, check_serializable=False)
    assert quiet.ok


def test_exploring_leaves_other_recorders_alone(app):
    from convex_sim.checker import HistoryRecorder

    recorder = HistoryRecorder(app.db)
    app.explore(RELEASES)
    app.mutation("app:release", {"name": "a"})
    assert [t.function for t in recorder.transactions] == ["app:release"]
    assert app.db.transaction_listeners == [recorder._on_commit]


def test_a_write_to_the_last_row_a_first_read_is_a_conflict(app):
    """first() reads the index up to its row's key, that key included: a write to that row
    after the snapshot must conflict, or the copy and the bump form a write skew."""
    with patched("contains-exclusive-hi"):
        broken = app.explore(MIRRORS)
    kinds = {f.kind: f for f in broken.failures}
    assert set(kinds) == {"history"}, str(broken)
    assert "G2-item" in kinds["history"].reason and "items" in kinds["history"].reason
    serial = app.explore(MIRRORS, check_history=False)
    assert serial.ok
    with patched("contains-exclusive-hi"):
        op_level = app.explore(MIRRORS, check_history=False)
    assert [f.kind for f in op_level.failures] == ["serializability"]
