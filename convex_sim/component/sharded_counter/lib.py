"""The sharded counter's functions: ``add``, ``count``, ``reset``."""

from __future__ import annotations

import random
from typing import Any

from ...functions import mutation, query
from ...validators import v
from . import DEFAULT_SHARDS


def _shard(ctx: Any, name: str, shard: int) -> dict | None:
    return ctx.db.query("counters").with_index(
        "by_name_shard", lambda q: q.eq("name", name).eq("shard", shard)).unique()


@mutation(args={"name": v.string(), "count": v.float64(), "shards": v.optional(v.int64())})
def add(ctx: Any, args: dict) -> None:
    """Add ``count`` to counter ``name``, in one shard picked at random."""
    shards = args.get("shards", DEFAULT_SHARDS)
    if shards < 1:
        raise ValueError(f"sharded counter add: shards must be >= 1, got {shards}")
    shard = random.randrange(shards)
    doc = _shard(ctx, args["name"], shard)
    if doc is None:
        ctx.db.insert("counters", {"name": args["name"], "shard": shard, "value": float(args["count"])})
    else:
        ctx.db.patch(doc["_id"], {"value": doc["value"] + args["count"]})


@query(args={"name": v.string()}, returns=v.float64())
def count(ctx: Any, args: dict) -> float:
    """The counter's value: the sum of its shards."""
    docs = ctx.db.query("counters").with_index("by_name_shard", lambda q: q.eq("name", args["name"]))
    return float(sum(doc["value"] for doc in docs))


@mutation(args={"name": v.string()})
def reset(ctx: Any, args: dict) -> None:
    """Set the counter back to zero (deleting its shards)."""
    for doc in ctx.db.query("counters").with_index("by_name_shard", lambda q: q.eq("name", args["name"])).collect():
        ctx.db.delete(doc["_id"])
