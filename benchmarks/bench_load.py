"""Long runs: wall time and peak RSS of each load scenario, in a fresh process each.

* ``inserts``: 200k inserts (``bank:open``, one new account each);
* ``commits``: 1M transfers among 10 accounts;
* ``clients``: 1,000 simulated clients with 2 subscriptions each, then 5,000 transfers
  (every client receives a transition per commit);
* ``history``: 1M transfers recorded by a ``HistoryRecorder`` streaming to a file, then
  that history checked.

Each scenario runs in its own interpreter, which reports its peak RSS (``VmHWM`` from
``/proc/self/status``, else ``ru_maxrss``); the table is markdown. ``BENCH_LOAD_SCALE``
(default 1) scales every count, e.g. 0.1 for a quick run; naming scenarios runs only those:
``python benchmarks/bench_load.py clients history``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._util import header
from benchmarks.peer_bank.schema import schema
from convex_sim import ConvexSim

MODULES = "benchmarks.peer_bank"
SCALE = float(os.environ.get("BENCH_LOAD_SCALE", "1"))
ACCOUNTS = 10
CLIENTS, SUBSCRIPTIONS = 1_000, 2


def _n(count: int) -> int:
    return max(1, int(count * SCALE))


def _bank() -> ConvexSim:
    sim = ConvexSim(schema, MODULES)
    for i in range(ACCOUNTS):
        sim.mutation("bank:open", {"owner": f"u{i}", "amount": 1e12})
    return sim


def _transfers(sim: ConvexSim, n: int) -> None:
    for i in range(n):
        sim.mutation("bank:transfer", {"src": f"u{i % ACCOUNTS}", "dst": f"u{(i + 1) % ACCOUNTS}", "amount": 1})


def inserts() -> tuple[str, int, str]:
    n = _n(200_000)
    sim = ConvexSim(schema, MODULES)
    for i in range(n):
        sim.mutation("bank:open", {"owner": f"owner{i}", "amount": 1.0})
    return f"{n:,} inserts", n, f"{sim.db.history.stats()['documents']:,} documents"


def commits() -> tuple[str, int, str]:
    n = _n(1_000_000)
    sim = _bank()
    _transfers(sim, n)
    return f"{n:,} commits on {ACCOUNTS} documents", n, f"{sim.db.history.stats()['versions']} versions kept"


def clients() -> tuple[str, int, str]:
    n = _n(5_000)
    sim = _bank()
    watchers = []
    for c in range(CLIENTS):
        client = sim.client()
        for k in range(SUBSCRIPTIONS):
            client.subscribe("bank:balance", {"owner": f"u{(c + k) % ACCOUNTS}"})
        watchers.append(client)
    _transfers(sim, n)
    kept = sum(len(c.transitions) for c in watchers)
    received = sum(c.transitions.received for c in watchers)
    return (f"{CLIENTS:,} clients × {SUBSCRIPTIONS} subscriptions × {n:,} commits", n,
            f"{kept:,} of {received:,} transitions kept")


def history() -> tuple[str, int, str]:
    from convex_sim.checker import HistoryRecorder

    n = _n(1_000_000)
    sim = _bank()
    with tempfile.TemporaryDirectory() as folder:
        recorder = HistoryRecorder(sim.db, path=Path(folder) / "history.jsonl")
        _transfers(sim, n)
        recorder.stop()
        report = recorder.check()
    verdict = "serializable" if report.ok else f"{len(report.anomalies)} anomalies"
    return f"{n:,}-commit history, recorded then checked", n, f"{report.edges:,} edges, {verdict}"


SCENARIOS: dict[str, Callable[[], tuple[str, int, str]]] = {
    "inserts": inserts, "commits": commits, "clients": clients, "history": history,
}


def _peak_mib() -> float:
    """This process's peak resident set size, in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)   # bytes on macOS, KiB elsewhere


def child(name: str) -> None:
    """Run one scenario in this (fresh) process; print its figures as one JSON line."""
    start = time.perf_counter()
    label, ops, detail = SCENARIOS[name]()
    seconds = time.perf_counter() - start
    print(json.dumps({"label": label, "ops": ops, "seconds": seconds, "peak_mib": _peak_mib(), "detail": detail}))


def main() -> None:
    if "--child" in sys.argv:
        child(sys.argv[-1])
        return
    names = [a for a in sys.argv[1:] if a in SCENARIOS] or list(SCENARIOS)
    header(f"bench_load (scale {SCALE:g})")
    rows = []
    for name in names:
        done = subprocess.run([sys.executable, __file__, "--child", name], check=True, capture_output=True, text=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(figures)
        print(f"  {figures['label']}: {figures['seconds']:.1f} s, peak RSS {figures['peak_mib']:,.0f} MiB",
              file=sys.stderr)
    print("| scenario | time | per commit or insert | peak RSS | |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['label']} | {r['seconds']:,.1f} s | {r['seconds'] / r['ops'] * 1e6:,.0f} µs | "
              f"{r['peak_mib']:,.0f} MiB | {r['detail']} |")


if __name__ == "__main__":
    main()
