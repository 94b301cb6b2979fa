"""The components shipped with convex-sim: the sharded counter and the rate limiter."""

from __future__ import annotations

import pytest

from convex_sim import ConvexError, ConvexSim, components, define_app
from convex_sim.component import rate_limiter, sharded_counter

BUCKET = {"kind": "token bucket", "rate": 2.0, "period": 1000.0}
WINDOW = {"kind": "fixed window", "rate": 3.0, "period": 60_000.0, "capacity": 3.0}


@pytest.fixture
def sim() -> ConvexSim:
    app = define_app()
    app.use(sharded_counter.component, name="counter")
    app.use(rate_limiter.component, name="limiter")
    return ConvexSim(None, app=app)


def limit(sim: ConvexSim, config: dict, **extra: object) -> dict:
    return sim.component("limiter").mutation("lib:limit", {"name": "api", "config": config, **extra})


def test_sharded_counter_adds_across_shards_and_counts(sim):
    counter = sim.component("counter")
    for _ in range(20):
        counter.mutation("lib:add", {"name": "hits", "count": 1.0, "shards": 4})
    counter.mutation("lib:add", {"name": "other", "count": 5.0})
    assert counter.query("lib:count", {"name": "hits"}) == 20.0
    assert counter.query("lib:count", {"name": "other"}) == 5.0
    shards = {d["shard"] for d in counter.run(lambda ctx: ctx.db.query("counters").collect()) if d["name"] == "hits"}
    assert len(shards) > 1 and shards <= {0, 1, 2, 3}
    counter.mutation("lib:reset", {"name": "hits"})
    assert counter.query("lib:count", {"name": "hits"}) == 0.0


def test_token_bucket_refills_on_the_virtual_clock(sim):
    assert [limit(sim, BUCKET)["ok"] for _ in range(3)] == [True, True, False]
    refused = limit(sim, BUCKET)
    assert refused["retry_after"] == pytest.approx(500.0)
    sim.advance_time(500)
    assert limit(sim, BUCKET) == {"ok": True}
    assert limit(sim, BUCKET, count=1.0)["ok"] is False


def test_fixed_window_resets_at_the_next_window(sim):
    assert [limit(sim, WINDOW)["ok"] for _ in range(4)] == [True, True, True, False]
    check = sim.component("limiter").query("lib:check", {"name": "api", "config": WINDOW})
    assert check["ok"] is False and 0 < check["retry_after"] <= 60_000.0
    sim.advance_time(check["retry_after"])
    assert limit(sim, WINDOW)["ok"] is True


def test_keys_are_separate_limits_and_throws_raises(sim):
    assert limit(sim, WINDOW, key="a", count=3.0)["ok"] is True
    assert limit(sim, WINDOW, key="b")["ok"] is True
    with pytest.raises(ConvexError) as refused:
        limit(sim, WINDOW, key="a", throws=True)
    assert refused.value.data["kind"] == "RateLimited"
    sim.component("limiter").mutation("lib:reset", {"name": "api", "key": "a"})
    assert limit(sim, WINDOW, key="a")["ok"] is True


def test_test_handle_reaches_components_by_reference(sim):
    sim.mutation(components.counter.lib.add, {"name": "n", "count": 2.0})
    assert sim.query("counter/lib:count", {"name": "n"}) == 2.0
