"""TypeScript apps: convex-sim running the peer bench's own ``convex/`` folder, side by side
with convex-test running the same app, in the same run, alternating.

The peer bench (../shared/peer/convex-test-bench) is copied to a temporary folder and
installed from its lock file; ``ConvexSim.from_project`` then runs that very folder, so
both columns execute the same JavaScript of the same ``convex`` package, with the
workload of ``bench.test.js`` (transfer mutation, point query, inserts, fresh instance).
Prints one table with both figures and the ratio (> 1 means convex-sim is faster).
``make bench-peer`` adds the Python mirror as a third column.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_peer import run_peer, run_typescript, side_by_side

if __name__ == "__main__":
    side_by_side({"convex-sim (TypeScript)": run_typescript, "convex-test": run_peer})
