"""The longer differential run (``make conformance``): many seeded call sequences of each
app — the TypeScript bank, the TypeScript inventory, and convex-test's own app from the
corpus checkout — through convex-sim and convex-test, every disagreement shrunk, one table
row per app.

``python conformance/differential.py [COUNT] [SEED] [APP ...]`` (default 1000 sequences per
app, seed 0, every app). Exit code 0 when both agree on everything, 1 otherwise. convex-test's
app is skipped, saying why, when its checkout is absent (``make corpus`` fetches it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance import convex_test_app
from convex_sim.differential import DifferentialResult, differential
from convex_sim.js.bundler import install_node_modules
from scenarios import ts_bank, ts_inventory

PEER = ROOT / "conformance" / "differential"


@dataclass(frozen=True)
class App:
    """One app of the run: where it is (or why it is not here), its sequences and tables."""

    name: str
    locate: Callable[[], tuple[Path | None, str]]
    call_sequences: Callable[..., list]
    tables: tuple[str, ...]


def _scenario(project: Path) -> Callable[[], tuple[Path | None, str]]:
    def locate() -> tuple[Path | None, str]:
        install_node_modules(project)
        return project, ""
    return locate


APPS = (
    App("ts_bank", _scenario(ts_bank.PROJECT), ts_bank.call_sequences, ts_bank.TABLES),
    App("ts_inventory", _scenario(ts_inventory.PROJECT), ts_inventory.call_sequences, ts_inventory.TABLES),
    App("convex-test", convex_test_app.project, convex_test_app.call_sequences, convex_test_app.TABLES),
)


def _row(name: str, result: DifferentialResult, seconds: float) -> str:
    seen = ", ".join(f"{k} ×{n}" for k, n in sorted(result.departures.items())) or "none"
    return (f"| {name} | {result.sequences:,} | {result.calls:,} | {len(result.mismatches)} | "
            f"{sum(result.departures.values())} ({seen}) | {seconds:.0f} s |")


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 1000
    seed = int(argv[1]) if len(argv) > 1 else 0
    wanted = set(argv[2:]) or {app.name for app in APPS}
    install_node_modules(PEER)
    rows, reports, failed = [], [], False
    for app in (a for a in APPS if a.name in wanted):
        project, why = app.locate()
        if project is None:
            print(f"differential: skipping {app.name}: {why}")
            continue
        start = time.monotonic()
        result = differential(project, app.call_sequences(count, seed=seed), app.tables, peer=PEER)
        rows.append(_row(app.name, result, time.monotonic() - start))
        reports += [f"[{app.name}] {mismatch}" for mismatch in result.mismatches]
        failed |= not result.ok
        print(rows[-1], flush=True)
    print(f"\ndifferential against convex-test (seed {seed}, {count} sequences per app):\n"
          "| app | sequences | calls | disagreements | known convex-test departures seen | time |\n"
          "|---|---|---|---|---|---|")
    print("\n".join(rows))
    for report in reports:
        print(f"\n{report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
