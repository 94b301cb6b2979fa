"""Traces: recording and replay throughput, and replay memory bounded in the trace length.

Records the bank app of the peer bench (transfers back and forth plus balance queries,
a clock move every 1000 events) into traces of 10k and 100k events, then replays each
in a fresh interpreter and reports events/s and that interpreter's peak RSS
(``ru_maxrss``): equal peaks for 10k and 100k events mean memory does not grow with
the trace. ``BENCH_TRACE_SCALE`` (default 1) scales the counts down.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._util import header
from benchmarks.peer_bank.schema import schema
from convex_sim import ConvexSim

MODULES = "benchmarks.peer_bank"
SCALE = float(os.environ.get("BENCH_TRACE_SCALE", "1"))
SIZES = [int(n * SCALE) for n in (10_000, 100_000)]

REPLAY = """
import resource, sys, time
sys.path.insert(0, {root!r})
from benchmarks.peer_bank.schema import schema
from convex_sim import ConvexSim
sim = ConvexSim(schema, modules={modules!r}, seed=0)
start = time.perf_counter()
report = sim.replay({trace!r})
elapsed = time.perf_counter() - start
assert report.ok, str(report)
print(report.events, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def record(path: Path, events: int) -> float:
    sim = ConvexSim(schema, modules=MODULES, seed=0)
    start = time.perf_counter()
    with sim.record(path):
        for owner in ("a", "b"):
            sim.mutation("bank:open", {"owner": owner, "amount": 1e9})
        for i in range(events - 2):
            if i % 1000 == 999:
                sim.advance_time(1000)
            elif i % 2:
                sim.query("bank:balance", {"owner": "a"})
            else:
                src, dst = ("a", "b") if i % 4 else ("b", "a")
                sim.mutation("bank:transfer", {"src": src, "dst": dst, "amount": 1.0})
    return time.perf_counter() - start


def main() -> None:
    header("traces: record and replay")
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            path = Path(tmp) / f"t{n}.jsonl"
            seconds = record(path, n)
            size = path.stat().st_size / 2**20
            out = subprocess.run([sys.executable, "-c", REPLAY.format(root=str(ROOT), modules=MODULES,
                                                                    trace=str(path))],
                                 check=True, capture_output=True, text=True).stdout.split()
            events, elapsed, rss = int(out[0]), float(out[1]), int(out[2]) / 1024
            print(f"{n:>7,} events ({size:,.1f} MiB): record {n / seconds:>8,.0f} events/s, "
                  f"replay {events / elapsed:>8,.0f} events/s, replay peak RSS {rss:,.1f} MiB")


if __name__ == "__main__":
    main()
