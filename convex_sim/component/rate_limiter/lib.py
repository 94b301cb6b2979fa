"""The rate limiter's functions: ``limit``, ``check``, ``reset``."""

from __future__ import annotations

import math
import time
from typing import Any

from ...errors import ConvexError
from ...functions import mutation, query
from ...validators import v
from ...values import UNDEFINED

CONFIG = v.object({
    "kind": v.union(v.literal("token bucket"), v.literal("fixed window")),
    "rate": v.float64(),
    "period": v.float64(),
    "capacity": v.optional(v.float64()),
    "start": v.optional(v.float64()),
})
ARGS = {"name": v.string(), "key": v.optional(v.string()), "config": CONFIG,
        "count": v.optional(v.float64()), "throws": v.optional(v.boolean())}
RESULT = v.object({"ok": v.boolean(), "retry_after": v.optional(v.float64())})


def _row(ctx: Any, args: dict) -> dict | None:
    key = args.get("key", UNDEFINED)   # no key: documents without one
    return ctx.db.query("rate_limits").with_index(
        "by_name_key", lambda q: q.eq("name", args["name"]).eq("key", key)).unique()


def evaluate(config: dict, row: dict | None, count: float, now: float) -> tuple[dict, float | None]:
    """The limit's state after taking ``count`` at ``now`` (``{"value", "ts"}``) and, when
    it does not allow that, how many ms until it would (None: allowed)."""
    capacity = config.get("capacity", config["rate"])
    if config["kind"] == "token bucket":
        value, ts = (row["value"], row["ts"]) if row else (capacity, now)
        value = min(capacity, value + (now - ts) * config["rate"] / config["period"])
        if value >= count:
            return {"value": value - count, "ts": now}, None
        return {"value": value, "ts": now}, (count - value) * config["period"] / config["rate"]
    start = config.get("start", 0.0)
    window = start + math.floor((now - start) / config["period"]) * config["period"]
    value = row["value"] if row and row["ts"] == window else capacity
    if value >= count:
        return {"value": value - count, "ts": window}, None
    return {"value": value, "ts": window}, window + config["period"] - now


def _check_config(config: dict) -> None:
    if config["rate"] <= 0 or config["period"] <= 0:
        raise ConvexError({"kind": "InvalidConfig", "message": "rate and period must be > 0"})


@mutation(args=ARGS, returns=RESULT)
def limit(ctx: Any, args: dict) -> dict:
    """Take ``count`` (default 1) from the limit if it allows; say whether it did."""
    _check_config(args["config"])
    row = _row(ctx, args)
    state, retry_after = evaluate(args["config"], row, args.get("count", 1.0), time.time() * 1000)
    if retry_after is not None:
        if args.get("throws"):
            raise ConvexError({"kind": "RateLimited", "name": args["name"], "retry_after": retry_after})
        return {"ok": False, "retry_after": retry_after}
    if row is None:
        key = {"key": args["key"]} if "key" in args else {}
        ctx.db.insert("rate_limits", {"name": args["name"], **key, **state})
    else:
        ctx.db.patch(row["_id"], state)
    return {"ok": True}


@query(args=ARGS, returns=RESULT)
def check(ctx: Any, args: dict) -> dict:
    """Whether ``limit`` would allow ``count`` now, without taking it."""
    _check_config(args["config"])
    _state, retry_after = evaluate(args["config"], _row(ctx, args), args.get("count", 1.0), time.time() * 1000)
    return {"ok": True} if retry_after is None else {"ok": False, "retry_after": retry_after}


@mutation(args={"name": v.string(), "key": v.optional(v.string())})
def reset(ctx: Any, args: dict) -> None:
    """Forget the limit's state: it is full again."""
    row = _row(ctx, args)
    if row is not None:
        ctx.db.delete(row["_id"])
