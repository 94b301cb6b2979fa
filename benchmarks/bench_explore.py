"""Exploration: partial-order reduction on disjoint work, and schedules/s on the bank scenario."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._util import header, peak_memory
from convex_sim import ConvexSim, Op
from scenarios.bank.schema import schema as bank_schema
from scenarios.races import slots
from scenarios.races.schema import schema as races_schema


def disjoint_sim() -> tuple[ConvexSim, list[Op]]:
    sim = ConvexSim(races_schema, modules="scenarios.races")
    return sim, slots.bumps(sim)


def timed(label: str, run) -> None:
    start = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - start
    print(f"{label:<52} {result.schedules_run:>6} schedules {result.distinct_outcomes:>3} outcomes "
          f"{result.schedules_run / elapsed:>9,.0f} schedules/s  {'ok' if result.ok else 'FAILURES'}")
    return result


def bank(n_accounts: int = 3) -> ConvexSim:
    sim = ConvexSim(bank_schema, modules="scenarios.bank")
    for i in range(n_accounts):
        sim.mutation("bank:open_account", {"owner": f"u{i}", "balance": 100})
    return sim


def main() -> None:
    header("bench_explore")
    sim, ops = disjoint_sim()
    reduced = timed("4 ops on disjoint documents, exhaustive + reduction", lambda: sim.explore(ops))
    full = timed("4 ops on disjoint documents, exhaustive, no reduction",
                 lambda: sim.explore(ops, reduction=False))
    print(f"{'reduction factor':<52} {full.schedules_run / reduced.schedules_run:>6.0f}x fewer schedules")

    for n in (3, 5):
        sim = bank()
        transfers = [Op("bank:transfer", {"src": f"u{i % 3}", "dst": f"u{(i + 1) % 3}", "amount": 60})
                     for i in range(n)]
        for strategy, budget in (("exhaustive", 2_000), ("random", 500), ("pct", 500)):
            timed(f"bank: {n} concurrent transfers, {strategy} (budget {budget})",
                  lambda s=strategy, b=budget, x=sim, t=transfers: x.explore(t, strategy=s, max_schedules=b))
    racy = bank()
    actions = [Op("bank:transfer_via_action", {"src": "u0", "dst": "u1", "amount": 60})] * 3
    timed("bank: 3 transfer_via_action, exhaustive, finds the race",
          lambda: racy.explore(actions, max_schedules=2_000))
    peak_memory()


if __name__ == "__main__":
    main()
