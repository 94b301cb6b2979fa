"""The longer differential run (``make conformance``): many seeded call sequences of the
TypeScript bank scenario through convex-sim and convex-test, every disagreement shrunk.

``python conformance/differential.py [COUNT] [SEED]`` (default 1000 sequences, seed 0).
Exit code 0 when both agree on everything, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convex_sim.differential import differential
from convex_sim.js.bundler import install_node_modules
from scenarios.ts_bank import PROJECT, TABLES, call_sequences

PEER = ROOT / "conformance" / "differential"


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 1000
    seed = int(argv[1]) if len(argv) > 1 else 0
    install_node_modules(PROJECT)
    install_node_modules(PEER)
    result = differential(PROJECT, call_sequences(count, seed=seed, max_calls=12), TABLES, peer=PEER)
    print(f"differential: {result.sequences} sequences, {result.calls} calls compared with convex-test "
          f"(seed {seed}): {len(result.mismatches)} disagreement(s); known convex-test departures "
          f"seen: {result.departures or 'none'}")
    for mismatch in result.mismatches:
        print(mismatch)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
