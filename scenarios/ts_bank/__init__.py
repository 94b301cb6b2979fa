"""The TypeScript bank: a Convex project (``convex/`` + ``package.json``) run unchanged by
``ConvexSim.from_project``. This module holds what the Python side of its tests needs."""

import random
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


#: The tables a differential run compares at the end of each sequence.
TABLES = ("accounts", "messages", "tasks")
_OWNERS = ("ada", "bob", "cy")


def call_sequences(count: int, *, seed: int = 0, max_calls: int = 8) -> list[list[dict]]:
    """``count`` call sequences over the bank, messages and tasks (seeded, reproducible):
    the input of a differential run against convex-test."""
    rng = random.Random(seed)

    def owner() -> str:
        return rng.choice(_OWNERS)

    def amount() -> float:
        return float(rng.randrange(0, 120, 5))

    makers = [
        lambda: ("mutation", "bank:open", {"owner": owner(), "amount": amount()}, None),
        lambda: ("mutation", "bank:deposit", {"owner": owner(), "amount": amount()}, None),
        lambda: ("mutation", "bank:transfer", {"src": owner(), "dst": owner(), "amount": amount()}, None),
        lambda: ("mutation", "bank:debit", {"owner": owner(), "amount": amount()}, None),
        lambda: ("query", "bank:balance", {"owner": owner()}, None),
        lambda: ("query", "bank:total", {}, None),
        lambda: ("action", "bank:transferViaAction", {"src": owner(), "dst": owner(), "amount": amount()}, None),
        lambda: ("mutation", "messages:send", {"author": owner(), "body": rng.choice(["hi", "hello there", ""]),
                                               "channel": rng.choice(["a", "b"])}, None),
        lambda: ("mutation", "messages:send", {"author": "x", "body": "signed"}, {"subject": owner()}),
        lambda: ("query", "messages:list", {"channel": rng.choice(["a", "b"]), "limit": float(rng.randint(1, 3))}, None),
        lambda: ("query", "messages:count", {}, None),
        lambda: ("query", "messages:latest", {}, None),
        lambda: ("query", "tasks:whoami", {}, rng.choice([None, {"subject": owner(), "name": "N"}])),
        lambda: ("mutation", "tasks:create", {"title": rng.choice(["a", "b"])}, None),
        lambda: ("query", "messages:page", {"channel": rng.choice(["a", "b"]),
                                            "paginationOpts": {"numItems": float(rng.randint(1, 3)), "cursor": None}}, None),
        lambda: ("query", "messages:search", {"text": rng.choice(["hello", "hi", "there"])}, None),
        lambda: ("query", "messages:onlyInChannel", {"channel": rng.choice(["a", "b"])}, None),
        lambda: ("query", "messages:byAuthorSince", {"author": owner(), "since": 0.0}, None),
        lambda: ("query", "messages:inChannelRange", {"from": "a", "to": "b"}, None),
        lambda: ("query", "messages:countFast", {}, None),
    ]
    sequences = []
    for _ in range(count):
        calls = []
        for _ in range(rng.randint(1, max_calls)):
            kind, path, args, identity = rng.choice(makers)()
            calls.append({"kind": kind, "path": path, "args": args, **({"identity": identity} if identity else {})})
        sequences.append(calls)
    return sequences
