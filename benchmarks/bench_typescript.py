"""TypeScript apps: convex-sim running the peer bench's own ``convex/`` folder, side by side
with convex-test running the same app, in the same run, alternating.

The peer bench (../shared/peer/convex-test-bench) is copied to a temporary folder and
installed from its lock file; ``ConvexSim.from_project`` then runs that very folder,
so both columns execute the same JavaScript of the same ``convex`` package. Prints one
table with both figures and the ratio (> 1 means convex-sim is faster).
``BENCH_ROUNDS=N`` alternates N times and reports the median of each column.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._peer import ROWS, peer_bench, print_table, run_peer, run_sim_workload
from benchmarks._util import header
from convex_sim import ConvexSim

TS_PATHS = {"open": "bank:open", "transfer": "bank:transfer", "balance": "bank:balance"}


def run_typescript(project: Path) -> dict[str, float]:
    """The peer's workload through convex-sim, on the peer's own TypeScript app."""
    ConvexSim.from_project(project)  # bundle and load once, as a test suite does
    return run_sim_workload(lambda: ConvexSim.from_project(project), TS_PATHS,
                            open_args=lambda owner, amount: {"owner": owner, "amount": amount})


def main() -> None:
    header("TypeScript apps: convex-sim vs convex-test on the same app, same run")
    project = peer_bench()
    rounds = int(os.environ.get("BENCH_ROUNDS", "1"))
    peers, ours = [], []
    for _ in range(rounds):
        peers.append(run_peer())
        ours.append(run_typescript(project))
    median = lambda runs: {row: statistics.median(r[row] for r in runs) for row in ROWS}  # noqa: E731
    print_table({"convex-sim (TypeScript)": median(ours)}, median(peers))


if __name__ == "__main__":
    main()
