"""The TypeScript bank: a Convex project (``convex/`` + ``package.json``) run unchanged by
``ConvexSim.from_project``. This module holds what the Python side of its tests needs."""

from pathlib import Path
from typing import Any

from convex_sim.clock import DEFAULT_START_MS
from convex_sim.differential.calls import Call
from convex_sim.differential.sequences import Maker, SequenceBuilder, generate

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
TABLES = ("accounts", "messages", "tasks", "_scheduled_functions")
_OWNERS = ("ada", "bob", "cy")
_MINUTE = 60_000.0
#: The hourly cron (``convex/crons.ts``) first runs an hour in; convex-test runs no crons, so
#: sequences stay before it.
_FIRST_CRON_MS = 60 * _MINUTE
_DELAYS = (0.0, 1000.0, _MINUTE, 5 * _MINUTE)
_SENT = ("messages:send",)
_JOBS = ("jobs:scheduleLater", "jobs:scheduleAt", "jobs:scheduleFromAction")


def _makers() -> list[Maker]:
    def owner(b: SequenceBuilder) -> str:
        return b.choice(_OWNERS)

    def amount(b: SequenceBuilder) -> float:
        return float(b.rng.randrange(0, 120, 5))

    def ref_call(kind: str, path: str, earlier: tuple[str, ...], **extra: Any) -> Maker:
        """A call taking ``id``: what an earlier call to one of ``earlier`` returned."""
        def make(b: SequenceBuilder) -> Call | None:
            ref = b.earlier(earlier)
            return None if ref is None else b.call(kind, path, {"id": ref, **extra})
        return make

    return [
        lambda b: b.call("mutation", "bank:open", {"owner": owner(b), "amount": amount(b)}),
        lambda b: b.call("mutation", "bank:deposit", {"owner": owner(b), "amount": amount(b)}),
        lambda b: b.call("mutation", "bank:transfer", {"src": owner(b), "dst": owner(b), "amount": amount(b)}),
        lambda b: b.call("mutation", "bank:debit", {"owner": owner(b), "amount": amount(b)}),
        lambda b: b.call("query", "bank:balance", {"owner": owner(b)}),
        lambda b: b.call("query", "bank:total"),
        lambda b: b.call("action", "bank:transferViaAction", {"src": owner(b), "dst": owner(b), "amount": amount(b)}),
        lambda b: b.call("mutation", "messages:send", {"author": owner(b), "body": b.choice(["hi", "hello there", ""]),
                                                       "channel": b.choice(["a", "b"])}),
        lambda b: b.call("mutation", "messages:send", {"author": "x", "body": "signed"}, {"subject": owner(b)}),
        lambda b: b.call("query", "messages:list", {"channel": b.choice(["a", "b", "jobs", "webhook"]),
                                                    "limit": float(b.rng.randint(1, 3))}),
        lambda b: b.call("query", "messages:count"),
        lambda b: b.call("query", "messages:latest"),
        lambda b: b.call("query", "tasks:whoami", {}, b.choice([None, {"subject": owner(b), "name": "N"}])),
        lambda b: b.call("mutation", "tasks:create", {"title": b.choice(["a", "b"])}),
        lambda b: b.call("query", "messages:page", {"channel": b.choice(["a", "b"]), "paginationOpts": {
            "numItems": float(b.rng.randint(1, 3)), "cursor": None}}),
        lambda b: b.call("query", "messages:search", {"text": b.choice(["hello", "hi", "there"])}),
        lambda b: b.call("query", "messages:onlyInChannel", {"channel": b.choice(["a", "b"])}),
        lambda b: b.call("query", "messages:byAuthorSince", {"author": owner(b), "since": 0.0}),
        lambda b: b.call("query", "messages:inChannelRange", {"from": "a", "to": "b"}),
        lambda b: b.call("query", "messages:countFast"),
        ref_call("query", "messages:getById", _SENT),
        ref_call("mutation", "messages:edit", _SENT, body="edited"),
        ref_call("mutation", "messages:remove", _SENT),
        # the scheduler and time
        lambda b: b.call("mutation", "jobs:scheduleLater", {"ms": b.choice(_DELAYS), "body": b.choice(["x", "y"])}),
        lambda b: b.call("mutation", "jobs:scheduleAt", {"when": DEFAULT_START_MS + b.choice((0.0, 30_000.0, 2 * _MINUTE)),
                                                         "body": "at"}),
        lambda b: b.call("action", "jobs:scheduleFromAction", {"ms": b.choice(_DELAYS), "body": "from action"}),
        ref_call("mutation", "jobs:cancel", _JOBS),
        ref_call("action", "jobs:cancelFromAction", _JOBS),
        ref_call("query", "jobs:status", _JOBS),
        lambda b: b.advance(b.choice((0.0, 999.0, 1000.0, _MINUTE, 5 * _MINUTE))),
        lambda b: b.finish_scheduled(),
        # HTTP actions (convex/http.ts)
        lambda b: b.fetch("/webhook", "POST", {"author": owner(b), "body": b.choice(["hook", "hello"])}),
        lambda b: b.fetch(b.choice(["/hello", "/hello?name=ann", "/hello/", "/hello/ann/x", "/nothing"])),
        lambda b: b.fetch("/hello", "POST"),
    ]


def call_sequences(count: int, *, seed: int = 0, max_calls: int = 8) -> list[list[Call]]:
    """``count`` call sequences over the bank, messages, tasks, scheduled jobs, time and HTTP
    (seeded, reproducible): the input of a differential run against convex-test."""
    return generate(_makers(), count, seed=seed, max_calls=max_calls,
                    limit_ms=_FIRST_CRON_MS - 1, max_delay_ms=max(_DELAYS) + 2 * _MINUTE)
