"""Cost flat in history, memory bounded: the bank app of the peer bench after many commits.

* Per-call cost of the transfer mutation and of the balance query after 1k, 10k
  and 100k commits on the same two documents, with the ratio to the 1k figure
  (1.0x: history costs nothing).
* Peak RSS of a fresh interpreter after 1M transfers among 10 documents, nothing
  pinning history (read from ``ru_maxrss`` of that subprocess).

``BENCH_HISTORY_SCALE`` (default 1) scales every count down, e.g. 0.1 for a quick run.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._util import header
from benchmarks.peer_bank.schema import schema
from convex_sim import ConvexSim

MODULES = "benchmarks.peer_bank"
SCALE = float(os.environ.get("BENCH_HISTORY_SCALE", "1"))
CHECKPOINTS = [int(n * SCALE) for n in (1_000, 10_000, 100_000)]
SAMPLE = max(100, int(1_000 * SCALE))   # calls timed at each checkpoint
MEMORY_COMMITS = int(1_000_000 * SCALE)
MEMORY_DOCUMENTS = 10


def transfer(sim: ConvexSim) -> None:
    sim.mutation("bank:transfer", {"src": "a", "dst": "b", "amount": 1})


def balance(sim: ConvexSim) -> None:
    sim.query("bank:balance", {"owner": "b"})


def per_call(sim: ConvexSim, n: int) -> tuple[float, float]:
    """µs per transfer and per balance query, interleaved as in the peer bench (best of 3)."""
    best_t = best_q = float("inf")
    for _ in range(3):
        tm = tq = 0.0
        for _ in range(n):
            s = time.perf_counter()
            transfer(sim)
            tm += time.perf_counter() - s
            s = time.perf_counter()
            balance(sim)
            tq += time.perf_counter() - s
        best_t, best_q = min(best_t, tm / n * 1e6), min(best_q, tq / n * 1e6)
    return best_t, best_q


def flat_in_history() -> None:
    sim = ConvexSim(schema, MODULES)
    sim.mutation("bank:open", {"owner": "a", "amount": 1e12})
    sim.mutation("bank:open", {"owner": "b", "amount": 0})
    first: tuple[float, float] | None = None
    print(f"{'commits on the same 2 documents':<34} {'transfer':>16} {'balance query':>20}")
    for checkpoint in CHECKPOINTS:
        while sim.db.latest_ts < checkpoint:
            transfer(sim)
        t, q = per_call(sim, SAMPLE)
        first = first or (t, q)
        print(f"{f'after {checkpoint:,}':<34} {t:>9.1f} µs {t / first[0]:>4.2f}x"
              f" {q:>13.1f} µs {q / first[1]:>4.2f}x")
    stats = sim.db.history.stats()
    print(f"{'kept at the end':<34} {stats['versions']} versions, {stats['index_entries']} index "
          f"entries, {stats['log']} log entries")


def memory_child(commits: int) -> None:
    """Run in a subprocess: ``commits`` transfers among 10 documents, then print the peak RSS."""
    sim = ConvexSim(schema, MODULES)
    for i in range(MEMORY_DOCUMENTS):
        sim.mutation("bank:open", {"owner": f"u{i}", "amount": 1e12})
    start = time.perf_counter()
    for i in range(commits):
        sim.mutation("bank:transfer", {"src": f"u{i % MEMORY_DOCUMENTS}",
                                       "dst": f"u{(i + 1) % MEMORY_DOCUMENTS}", "amount": 1})
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{peak_kib} {elapsed}")


def bounded_memory() -> None:
    done = subprocess.run([sys.executable, __file__, "--memory-child", str(MEMORY_COMMITS)],
                          check=True, capture_output=True, text=True)
    peak_kib, elapsed = done.stdout.split()
    print(f"{f'{MEMORY_COMMITS:,} commits on {MEMORY_DOCUMENTS} documents':<34} peak RSS "
          f"{int(peak_kib) / 1024:,.1f} MiB   ({float(elapsed) / MEMORY_COMMITS * 1e6:.1f} µs/commit)")


def main() -> None:
    if "--memory-child" in sys.argv:
        memory_child(int(sys.argv[-1]))
        return
    header(f"bench_history (the peer bench's bank app; scale {SCALE:g})")
    flat_in_history()
    bounded_memory()


if __name__ == "__main__":
    main()
