"""The peer's benchmark (convex-test, pinned in ../shared/peer/convex-test-bench), run in a
temporary copy installed from its lock file, and the same workload through convex-sim.

``peer_bench()`` prepares the copy once per process; ``run_peer()`` runs its vitest
bench and returns its JSON line; ``run_sim_workload(make_sim, api)`` runs the same
workload as ``bench.test.js`` through convex-sim, line for line.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("setup_us", "mutations_per_s", "queries_per_s", "inserts_per_s_10k", "indexed_queries_per_s_10k")
LABELS = {"setup_us": "fresh instance (µs, lower is better)", "mutations_per_s": "transfer mutation /s",
          "queries_per_s": "balance query /s (interleaved)", "inserts_per_s_10k": "inserts into 10k rows /s",
          "indexed_queries_per_s_10k": "indexed query on 10k rows /s"}


def peer_source() -> Path:
    """The pinned peer bench: $CONVEX_TEST_BENCH, else ../shared/peer/convex-test-bench."""
    env = os.environ.get("CONVEX_TEST_BENCH")
    candidates = [Path(env)] if env else [ROOT.parent / "shared" / "peer" / "convex-test-bench"]
    for candidate in candidates:
        if (candidate / "bench.test.js").exists():
            return candidate
    raise SystemExit(f"The peer bench is not at {candidates[0]}: set CONVEX_TEST_BENCH to its folder.")


_PREPARED: Path | None = None


def peer_bench() -> Path:
    """A temporary, writable copy of the peer bench with ``npm ci`` done (once per process)."""
    global _PREPARED
    if _PREPARED is None:
        if shutil.which("npm") is None:
            raise SystemExit("npm is not installed: install Node.js 18+ with npm to run the peer bench.")
        target = Path(tempfile.mkdtemp(prefix="convex-test-bench-")) / "bench"
        shutil.copytree(peer_source(), target, ignore=shutil.ignore_patterns("node_modules"))
        for path in [target, *target.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, check=True)
        _PREPARED = target
    return _PREPARED


def run_peer() -> dict[str, float]:
    """One run of the peer's vitest bench: its JSON figures (medians of 3 reps)."""
    proc = subprocess.run(["npx", "vitest", "run"], cwd=peer_bench(), capture_output=True, text=True,
                          check=False, env={**os.environ, "VITE_CONFIG_NATIVE_IGNORE_WARNING": "true",
                                            "NO_COLOR": "1", "FORCE_COLOR": "0"})
    for line in proc.stdout.splitlines():
        start = line.find('{"setup_us"')
        if start >= 0:
            return json.loads(line[start:])
    raise SystemExit(f"the peer bench printed no figures:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def run_sim_workload(make_sim: Callable[[], Any], paths: dict[str, str], *,
                     open_args: Callable[[str, float], dict]) -> dict[str, float]:
    """``bench.test.js``, line for line, through convex-sim: ``make_sim()`` makes a fresh
    simulator, ``paths`` names the open/transfer/balance functions, ``open_args`` builds the
    arguments of ``open`` (the Python and TypeScript apps spell them differently)."""
    med = statistics.median_low
    setup, mut, qry, ins, rq = [], [], [], [], []
    for _rep in range(3):
        t0 = time.perf_counter()
        for _ in range(1000):
            make_sim()
        setup.append((time.perf_counter() - t0) / 1000 * 1e6)
        t = make_sim()
        t.mutation(paths["open"], open_args("a", 1e9))
        t.mutation(paths["open"], open_args("b", 0))
        tm = tq = 0.0
        for _ in range(2000):
            s = time.perf_counter()
            t.mutation(paths["transfer"], {"src": "a", "dst": "b", "amount": 1})
            tm += time.perf_counter() - s
            s = time.perf_counter()
            t.query(paths["balance"], {"owner": "b"})
            tq += time.perf_counter() - s
        mut.append(2000 / tm)
        qry.append(2000 / tq)
        t2 = make_sim()
        s = time.perf_counter()
        for i in range(10000):
            t2.mutation(paths["open"], open_args(f"o{i}", i))
        ins.append(10000 / (time.perf_counter() - s))
        s = time.perf_counter()
        for i in range(1000):
            t2.query(paths["balance"], {"owner": f"o{(i * 7919) % 10000}"})
        rq.append(1000 / (time.perf_counter() - s))
    return {"setup_us": med(setup), "mutations_per_s": med(mut), "queries_per_s": med(qry),
            "inserts_per_s_10k": med(ins), "indexed_queries_per_s_10k": med(rq)}


def ratio(row: str, ours: float, theirs: float) -> float:
    """How many times faster convex-sim is (setup is a time, the rest are rates)."""
    return theirs / ours if row == "setup_us" else ours / theirs


def print_table(columns: dict[str, dict[str, float]], peer: dict[str, float]) -> None:
    """One row per figure: each convex-sim column, convex-test, and each column's ratio."""
    names = list(columns)
    head = f"{'workload (same run)':<38}" + "".join(f"{n:>26}" for n in names) + f"{'convex-test':>14}"
    head += "".join(f"{'ratio ' + n.split()[-1]:>18}" for n in names)
    print(head)
    for row in ROWS:
        line = f"{LABELS[row]:<38}" + "".join(f"{columns[n][row]:>26,.1f}" for n in names)
        line += f"{peer[row]:>14,.1f}"
        line += "".join(f"{ratio(row, columns[n][row], peer[row]):>17.2f}x" for n in names)
        print(line)
