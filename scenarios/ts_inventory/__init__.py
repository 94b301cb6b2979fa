"""The TypeScript inventory: stock, reservations held for 15 minutes (a scheduled job returns
the stock of an unconfirmed hold), an hourly sweep cron and a paginated catalogue. ``reserve``
checks and takes stock in one mutation; ``reserveViaAction`` is its racy twin (check in a
query, take in a mutation)."""

from pathlib import Path
from typing import Any

from convex_sim.differential.calls import Call
from convex_sim.differential.sequences import Maker, SequenceBuilder, generate

#: The project folder (``convex/``, ``package.json``, ``package-lock.json``).
PROJECT = Path(__file__).resolve().parent
#: A reservation's hold, as ``convex/inventory.ts`` has it.
HOLD_MS = 15 * 60 * 1000


def no_oversell(ctx: Any) -> None:
    """Invariant: every unit received is in stock or in a held or confirmed reservation."""
    for product in ctx.db.query("products").collect():
        taken = sum(r["quantity"] for r in ctx.db.query("reservations").collect()
                    if r["productId"] == product["_id"] and r["status"] != "expired")
        assert product["stock"] >= 0 and product["stock"] + taken == product["received"], (
            f"{product['sku']} oversold: {product['stock']} in stock + {taken} reserved, "
            f"{product['received']} received")


#: The tables a differential run compares at the end of each sequence.
TABLES = ("products", "reservations", "events", "_scheduled_functions")
_MINUTE = 60_000.0
#: The hourly sweep (``convex/crons.ts``) first runs an hour in; convex-test runs no crons, so
#: sequences stay before it.
_FIRST_CRON_MS = 60 * _MINUTE
_SKUS = ("mug", "pen", "cup")
_RESERVED = ("inventory:reserve", "inventory:reserveViaAction")


def _makers() -> list[Maker]:
    def sku(b: SequenceBuilder) -> str:
        return b.choice(_SKUS)

    def quantity(b: SequenceBuilder) -> float:
        return float(b.rng.randint(1, 3))

    def on_reservation(kind: str, path: str) -> Maker:
        def make(b: SequenceBuilder) -> Call | None:
            ref = b.earlier(_RESERVED)
            return None if ref is None else b.call(kind, path, {"reservationId": ref})
        return make

    def catalogue(b: SequenceBuilder) -> Call:
        cursor = b.earlier(("inventory:catalogue",), "continueCursor") if b.rng.random() < 0.5 else None
        return b.call("query", "inventory:catalogue",
                      {"paginationOpts": {"numItems": float(b.rng.randint(1, 3)), "cursor": cursor}})

    return [
        lambda b: b.call("mutation", "inventory:addProduct",
                         {"sku": sku(b), "name": "N", "stock": float(b.rng.randint(0, 4))}),
        lambda b: b.call("mutation", "inventory:reserve", {"sku": sku(b), "quantity": quantity(b)}),
        lambda b: b.call("mutation", "inventory:reserve", {"sku": sku(b), "quantity": quantity(b)}),
        lambda b: b.call("action", "inventory:reserveViaAction", {"sku": sku(b), "quantity": quantity(b)}),
        on_reservation("mutation", "inventory:confirm"),
        on_reservation("mutation", "inventory:expireHold"),
        lambda b: b.call("mutation", "inventory:sweepExpired"),
        catalogue,
        lambda b: b.call("query", "inventory:stock", {"sku": sku(b)}),
        lambda b: b.call("query", "checks:noOversell"),
        lambda b: b.advance(b.choice((_MINUTE, 5 * _MINUTE, 14 * _MINUTE, HOLD_MS, 16 * _MINUTE))),
        lambda b: b.advance(HOLD_MS),
        lambda b: b.finish_scheduled(),
        # the app routes no HTTP actions: every request is answered 404
        lambda b: b.fetch(b.choice(["/catalogue", "/"]), b.choice(["GET", "POST"])),
    ]


def call_sequences(count: int, *, seed: int = 0, max_calls: int = 10) -> list[list[Call]]:
    """``count`` call sequences over products, 15-minute holds, their expiry jobs, time and
    HTTP (seeded, reproducible): the input of a differential run against convex-test."""
    return generate(_makers(), count, seed=seed, max_calls=max_calls,
                    limit_ms=_FIRST_CRON_MS - 1, max_delay_ms=HOLD_MS)
