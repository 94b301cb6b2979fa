"""The TypeScript bank: a Convex project (``convex/`` + ``package.json``) run unchanged by
``ConvexSim.from_project``. This module holds what the Python side of its tests needs."""

from pathlib import Path
from typing import Any

#: The project folder (``convex/``, ``package.json``, ``package-lock.json``).
PROJECT = Path(__file__).resolve().parent


def no_overdraft(ctx: Any) -> None:
    """Invariant: no account goes below zero (checked after every commit while exploring)."""
    for account in ctx.db.query("accounts").collect():
        assert account["balance"] >= 0, f"{account['owner']} overdrawn: {account['balance']}"


def open_accounts(sim: Any, **balances: float) -> None:
    """Open one account per keyword (``ada=100``) through the app's own ``bank:open``."""
    for owner, amount in balances.items():
        sim.mutation("bank:open", {"owner": owner, "amount": amount})
