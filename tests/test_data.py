"""Faker seed data: schema-valid, realistic by field name, reproducible from the sim's seed."""

import pytest

from convex_sim import ConvexSim, define_schema, define_table, v
from convex_sim.data import SeedDataError, fake_rows, seed_table

SCHEMA = define_schema({
    "users": define_table({
        "name": v.string(), "email": v.string(), "avatarUrl": v.optional(v.string()),
        "phone": v.string(), "age": v.int64(), "createdAt": v.float64(), "active": v.boolean(),
        "role": v.union(v.literal("admin"), v.literal("member")), "tags": v.array(v.string()),
        "prefs": v.record(v.string(), v.boolean()), "avatar": v.nullable(v.bytes()),
    }).index("by_email", ["email"]),
    "posts": define_table({"author": v.id("users"), "title": v.string(), "body": v.string()}),
})


def test_rows_pass_the_schema_and_look_real():
    sim = ConvexSim(SCHEMA, seed=3)
    ids = seed_table(sim, "users", n=60)
    assert len(ids) == 60 and len(set(ids)) == 60
    users = sim.run(lambda ctx: ctx.db.query("users").collect())
    assert all("@" in u["email"] and "." in u["email"].split("@")[1] for u in users)
    assert all(" " in u["name"] and 18 <= u["age"] <= 90 for u in users)
    assert all(u["avatarUrl"].startswith("http") for u in users if "avatarUrl" in u)
    assert 0 < sum("avatarUrl" in u for u in users) < 60           # optional: sometimes absent
    assert all(sim.clock - 5 * 365 * 86_400_000 <= u["createdAt"] <= sim.clock for u in users)
    assert {u["role"] for u in users} == {"admin", "member"}


def test_ids_point_at_existing_documents():
    sim = ConvexSim(SCHEMA)
    users = set(seed_table(sim, "users", n=5))
    seed_table(sim, "posts", n=20)
    posts = sim.run(lambda ctx: ctx.db.query("posts").collect())
    assert {p["author"] for p in posts} <= users and posts[0]["title"]


def test_same_seed_same_rows_and_a_new_seed_new_rows():
    def rows(seed):
        sim = ConvexSim(SCHEMA, seed=seed)
        seed_table(sim, "users", n=10)
        return sim.run(lambda ctx: [{k: x for k, x in d.items() if not k.startswith("_")}
                                    for d in ctx.db.query("users").collect()])

    assert rows(1) == rows(1)
    assert rows(1) != rows(2)


def test_a_second_batch_differs_from_the_first():
    sim = ConvexSim(SCHEMA)
    first = fake_rows(sim, "users", 3)
    seed_table(sim, "users", n=3)
    assert fake_rows(sim, "users", 3) != first


def test_custom_fields_and_errors():
    sim = ConvexSim(SCHEMA)
    seed_table(sim, "users", n=2, fields={"role": lambda fake: "admin"})
    assert {u["role"] for u in sim.run(lambda ctx: ctx.db.query("users").collect())} == {"admin"}
    with pytest.raises(SeedDataError, match='table "users", which has no documents'):
        seed_table(ConvexSim(SCHEMA), "posts", n=1)
    with pytest.raises(SeedDataError, match="no table 'nope'"):
        seed_table(sim, "nope")
    with pytest.raises(SeedDataError, match="n must be an int"):
        seed_table(sim, "users", n=-1)
