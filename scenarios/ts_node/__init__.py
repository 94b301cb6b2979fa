"""The TypeScript wallets app with ``"use node"`` actions: a Convex project (``convex/`` +
``package.json``) whose ``payments.ts`` runs in Node.js. What the Python side of its tests
needs."""

from pathlib import Path
from typing import Any

#: The project folder (``convex/``, ``package.json``, ``package-lock.json``).
PROJECT = Path(__file__).resolve().parent


def no_negative_credits(ctx: Any) -> None:
    """Invariant: no wallet goes below zero (checked after every commit while exploring)."""
    for wallet in ctx.db.query("wallets").collect():
        assert wallet["credits"] >= 0, f"{wallet['owner']} overdrawn: {wallet['credits']}"
