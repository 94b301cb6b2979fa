"""The ``convex-sim`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from . import __name__ as _package
from .database import WriteConflict
from .sim import ConvexSim


def _print(text: str = "") -> None:
    print(text)


def demo_chat() -> None:
    from scenarios.chat.schema import schema

    _print("== chat: channels, auth-gated messages, pagination, an action")
    sim = ConvexSim(schema, modules="scenarios.chat", seed=0)
    ada = sim.with_identity(subject="ada", name="Ada")
    bob = sim.with_identity(subject="bob", name="Bob")
    channel = ada.mutation("channels:create", {"name": "general"})
    for i, who in enumerate([ada, bob, ada, ada, bob]):
        who.mutation("messages:send", {"channel": channel, "body": f"message {i}"})
    try:
        sim.mutation("messages:send", {"channel": channel, "body": "anonymous"})
    except Exception as exc:  # the app's own ConvexError
        _print(f"  anonymous send refused: {exc}")
    cursor, pages = None, []
    while True:
        page = sim.query("messages:list", {"channel": channel,
                                           "pagination_opts": {"num_items": 2, "cursor": cursor}})
        pages.append([m["body"] for m in page["page"]])
        if page["is_done"]:
            break
        cursor = page["continue_cursor"]
    _print(f"  pages, newest first: {pages}")
    _print(f"  summarize action: {sim.action('messages:summarize', {'channel': channel})!r}")
    _print(f"  {len(sim.calls)} calls, {sim.db.latest_ts} commits, virtual clock {sim.clock:.0f} ms")


def demo_bank() -> None:
    from scenarios.bank.schema import schema

    _print("== bank: optimistic concurrency, and a race between two actions")
    sim = ConvexSim(schema, modules="scenarios.bank", seed=0)
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    runtime = sim.runtime
    transfer = runtime.resolve("bank:transfer", "mutation")
    args = {"src": "ada", "dst": "bob", "amount": 60}
    first = runtime.begin_mutation(transfer, args, None)
    second = runtime.begin_mutation(transfer, args, None)
    _print(f"  two transfers of 60 began on the same snapshot (ts {first.txn.begin_ts})")
    _print(f"  first commits at ts {runtime.commit_mutation(first)}")
    try:
        runtime.commit_mutation(second)
    except WriteConflict as conflict:
        _print(f"  second conflicts: {conflict.conflict}")
    retry = runtime.begin_mutation(transfer, args, None)
    _print(f"  re-run at ts {retry.txn.begin_ts}: {retry.error or retry.result!r}")
    _print(f"  balances: ada {sim.query('bank:balance', {'owner': 'ada'})}, "
           f"bob {sim.query('bank:balance', {'owner': 'bob'})}  (never negative)")

    _print("  now transfer_via_action twice, steps interleaved by hand:")
    race = ConvexSim(schema, modules="scenarios.bank", seed=0)
    race.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    race.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    action = race.runtime.resolve("bank:transfer_via_action", "action")
    a = race.runtime.action_process(action, args, None)
    b = race.runtime.action_process(action, args, None)
    pending: dict[str, Any] = {"A": next(a), "B": next(b)}
    for name in ["A", "B", "A", "B", "A", "B"]:
        process = a if name == "A" else b
        step = pending[name]
        if step is None:
            continue
        result = race.runtime.run_step(step)
        _print(f"    {name}: {step.describe():<32} -> {result!r}")
        try:
            pending[name] = process.send(result)
        except StopIteration:
            pending[name] = None
    _print(f"  balances: ada {race.query('bank:balance', {'owner': 'ada'})}, "
           f"bob {race.query('bank:balance', {'owner': 'bob'})}  (ada is overdrawn)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convex-sim", description="A deterministic Convex simulator.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the bundled scenarios end to end and print what happened")
    commands.add_parser("version", help="print the version")
    options = parser.parse_args(argv)
    if options.command == "version":
        from importlib.metadata import version

        _print(f"{_package} {version('convex-sim')}")
        return 0
    demo_chat()
    _print()
    demo_bank()
    return 0


if __name__ == "__main__":
    sys.exit(main())
