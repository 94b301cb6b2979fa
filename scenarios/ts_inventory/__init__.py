"""The TypeScript inventory: stock, reservations held for 15 minutes (a scheduled job returns
the stock of an unconfirmed hold), an hourly sweep cron and a paginated catalogue. ``reserve``
checks and takes stock in one mutation; ``reserveViaAction`` is its racy twin (check in a
query, take in a mutation)."""

from pathlib import Path
from typing import Any

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
