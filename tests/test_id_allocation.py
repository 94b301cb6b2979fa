"""The ID allocator never hands out an ID that exists: not after loading a snapshot from a
simulator with the same seed, not after importing documents, and it stays deterministic."""

from hypothesis import given, settings
from hypothesis import strategies as st

from convex_sim import ConvexSim, define_schema, define_table, v
from convex_sim.database import Database
from convex_sim.trace.store import write_documents

SCHEMA = define_schema({
    "users": define_table({"name": v.string()}),
    "posts": define_table({"author": v.id("users"), "n": v.float64()}),
})


def fill(sim, users, posts):
    """Insert ``users`` users and ``posts`` posts; return their IDs."""
    def body(ctx):
        ids = [ctx.db.insert("users", {"name": f"u{i}"}) for i in range(users)]
        return ids + [ctx.db.insert("posts", {"author": ids[i % len(ids)], "n": float(i)})
                      for i in range(posts if ids else 0)]
    return sim.run(body)


def everything(sim):
    return sim.run(lambda ctx: {t: ctx.db.query(t).collect() for t in ("users", "posts")})


def test_inserting_after_loading_a_same_seed_snapshot_keeps_every_document(tmp_path):
    source = ConvexSim(SCHEMA, seed=0)
    fill(source, 2, 0)
    source.export_snapshot(tmp_path / "s.zip")
    sim = ConvexSim(SCHEMA, seed=0)
    sim.load_snapshot(tmp_path / "s.zip")
    loaded = everything(sim)
    new = fill(sim, 2, 0)
    users = everything(sim)["users"]
    assert len(users) == 4
    assert [u for u in users if u["_id"] not in new] == loaded["users"]   # untouched


def test_same_seed_same_ids_in_fresh_simulators_and_after_the_same_load(tmp_path):
    assert fill(ConvexSim(SCHEMA, seed=3), 5, 3) == fill(ConvexSim(SCHEMA, seed=3), 5, 3)
    source = ConvexSim(SCHEMA, seed=0)
    fill(source, 4, 2)
    source.export_snapshot(tmp_path / "s.zip")
    after = []
    for _ in range(2):
        sim = ConvexSim(SCHEMA, seed=0)
        sim.load_snapshot(tmp_path / "s.zip")
        after.append(fill(sim, 3, 3))
    assert after[0] == after[1]


def test_imported_ids_are_skipped_and_a_rewind_forgets_them():
    fresh = Database(SCHEMA, seed=0)
    txn = fresh.begin("seed")
    first = [txn.insert("users", {"name": "a"}) for _ in range(3)]
    txn.commit()
    db = Database(SCHEMA, seed=0)
    before = db.snapshot()
    write_documents(db, [("users", i, {"_id": i, "_creationTime": 1.0, "name": "x"}) for i in first],
                    what="import")
    txn = db.begin("insert")
    new = [txn.insert("users", {"name": "b"}) for _ in range(3)]
    txn.commit()
    assert not set(new) & set(first)
    db.rewind(before)   # back before the import: the seed's own sequence again
    txn = db.begin("insert")
    assert [txn.insert("users", {"name": "c"}) for _ in range(3)] == first


@settings(database=None, max_examples=40, deadline=None)
@given(source_seed=st.integers(0, 3), target_seeds=st.lists(st.integers(0, 3), min_size=1, max_size=3),
       users=st.integers(1, 12), posts=st.integers(0, 12), more=st.integers(1, 40))
def test_round_trips_never_lose_a_document(tmp_path_factory, source_seed, target_seeds, users, posts, more):
    path = tmp_path_factory.mktemp("snap") / "s.zip"
    sim = ConvexSim(SCHEMA, seed=source_seed)
    fill(sim, users, posts)
    total = users + posts
    for seed in target_seeds:   # export, load into a fresh simulator, insert, again
        sim.export_snapshot(path)
        loaded = everything(sim)
        sim = ConvexSim(SCHEMA, seed=seed)
        sim.load_snapshot(path)
        assert everything(sim) == loaded
        new = fill(sim, more, more // 2)
        total += more + more // 2
        docs = everything(sim)
        ids = [d["_id"] for table in docs.values() for d in table]
        assert len(ids) == len(set(ids)) == total
        assert not set(new) & {d["_id"] for table in loaded.values() for d in table}
        for table, rows in loaded.items():   # every loaded document is still there, unchanged
            assert [d for d in docs[table] if d["_id"] not in new] == rows
