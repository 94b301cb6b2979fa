"""convex-sim against convex-test, side by side in one run (``make bench-peer``).

Copies the peer bench (``../shared/peer/convex-test-bench`` from the repository
root, or ``$CONVEX_TEST_BENCH``) into a temporary folder, installs it from its
lock file (``npm ci``), then alternates: the Python mirror of ``bench.test.js``
in a fresh interpreter, ``npx vitest run bench.test.js``, and the peer's own
TypeScript ``convex/`` folder run by ``ConvexSim.from_project`` with the same
workload, for ``$BENCH_PEER_ROUNDS`` rounds (default 2). Each column's figure is
its best round. Prints one table: row, each column, and each convex-sim column's
ratio to convex-test (> 1: convex-sim is faster).

``python benchmarks/bench_peer.py --python-only`` runs just the mirror and prints
its JSON line; ``--typescript-only FOLDER`` runs the workload on the TypeScript
project in FOLDER.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.peer_bank.schema import schema
from convex_sim import ConvexSim
from convex_sim.js import load_project

MODULES = "benchmarks.peer_bank"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
#: (JSON field, row label, unit, higher is better)
ROWS = [
    ("setup_us", "fresh instance", "µs", False),
    ("mutations_per_s", "transfer mutation (2 indexed reads + 2 patches)", "/s", True),
    ("queries_per_s", "balance query (indexed, between transfers)", "/s", True),
    ("inserts_per_s_10k", "inserts into a 10k-row table", "/s", True),
    ("indexed_queries_per_s_10k", "indexed query on 10k rows", "/s", True),
]


# --- The workload: bench.test.js, line for line ------------------------------------------------

def performance_now() -> float:
    return time.perf_counter() * 1000  # ms, as performance.now()


def med(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def python_app() -> ConvexSim:
    """A fresh simulator of the Python mirror of the peer's bank app."""
    return ConvexSim(schema, MODULES)


def bench(convex_test: Callable[[], ConvexSim] = python_app) -> dict[str, float]:
    """``bench.test.js`` in Python: the same calls, counts, timers and medians.
    ``convex_test()`` makes a fresh simulator, as ``convexTest(schema, modules)`` does."""
    setup, mut, qry, ins, rq = [], [], [], [], []
    for _rep in range(3):
        t0 = performance_now()
        for _i in range(1000):
            convex_test()
        setup.append((performance_now() - t0) / 1000 * 1000)  # us per creation
        t = convex_test()
        t.mutation("bank:open", {"owner": "a", "amount": 1e9})
        t.mutation("bank:open", {"owner": "b", "amount": 0})
        tm, tq = 0.0, 0.0
        for _i in range(2000):
            s = performance_now(); t.mutation("bank:transfer", {"src": "a", "dst": "b", "amount": 1}); tm += performance_now() - s  # noqa: E702
            s = performance_now(); t.query("bank:balance", {"owner": "b"}); tq += performance_now() - s  # noqa: E702
        mut.append(2000 / (tm / 1000)); qry.append(2000 / (tq / 1000))  # noqa: E702
        t2 = convex_test()
        s = performance_now()
        for i in range(10000):
            t2.mutation("bank:open", {"owner": "o" + str(i), "amount": i})
        ins.append(10000 / ((performance_now() - s) / 1000))
        s = performance_now()
        for i in range(1000):
            t2.query("bank:balance", {"owner": "o" + str((i * 7919) % 10000)})
        rq.append(1000 / ((performance_now() - s) / 1000))
    return {"setup_us": med(setup), "mutations_per_s": med(mut), "queries_per_s": med(qry),
            "inserts_per_s_10k": med(ins), "indexed_queries_per_s_10k": med(rq)}


# --- Running both sides -------------------------------------------------------------------------

def find_peer() -> Path:
    """The peer bench folder; a clear error when it is missing."""
    configured = os.environ.get("CONVEX_TEST_BENCH")
    candidates = [Path(configured)] if configured else [
        ROOT.parent / "shared" / "peer" / "convex-test-bench",
        *(parent / "shared" / "peer" / "convex-test-bench" for parent in ROOT.parents),
    ]
    for candidate in candidates:
        if (candidate / "bench.test.js").is_file() and (candidate / "package-lock.json").is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates[:3])
    sys.exit(f"bench-peer: cannot find the convex-test bench (bench.test.js + package-lock.json); "
             f"tried {tried}. Set CONVEX_TEST_BENCH to its folder.")


def install_peer(source: Path, into: Path) -> Path:
    """Copy the peer bench to a writable folder and install it from its lock file."""
    for tool in ("node", "npm", "npx"):
        if shutil.which(tool) is None:
            sys.exit(f"bench-peer: `{tool}` is not on PATH; install Node.js 20 to run the peer bench.")
    target = into / "convex-test-bench"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("node_modules"))
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], target, "npm ci")
    return target


def run(command: list[str], cwd: Path, what: str) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "VITE_CONFIG_NATIVE_IGNORE_WARNING": "true",
                               "NO_COLOR": "1", "FORCE_COLOR": "0"})
    if done.returncode != 0:
        sys.exit(f"bench-peer: {what} failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def json_line(output: str, what: str) -> dict[str, float]:
    for line in ANSI_ESCAPE.sub("", output).splitlines():
        start = line.find("{")
        if start >= 0 and '"setup_us"' in line:
            return json.loads(line[start:])
    sys.exit(f"bench-peer: {what} printed no result line:\n{output[-2000:]}")


def run_peer(folder: Path) -> dict[str, float]:
    return json_line(run(["npx", "vitest", "run", "bench.test.js"], folder, "the convex-test bench"),
                     "the convex-test bench")


def run_python() -> dict[str, float]:
    output = run([sys.executable, str(Path(__file__).resolve()), "--python-only"], ROOT, "the Python mirror")
    return json_line(output, "the Python mirror")


def run_typescript(folder: Path) -> dict[str, float]:
    """The same workload on the peer's own TypeScript app, through ``ConvexSim.from_project``
    (in a fresh interpreter, like the mirror; the first load bundles and is not timed)."""
    output = run([sys.executable, str(Path(__file__).resolve()), "--typescript-only", str(folder)], ROOT,
                 "the TypeScript run")
    return json_line(output, "the TypeScript run")


def typescript_app(folder: Path) -> Callable[[], ConvexSim]:
    """Load the project once (bundled, untimed), then each call makes a simulator of it, as
    ``convexTest(schema, modules)`` does with ``modules`` globbed once."""
    project = load_project(folder)
    return lambda: ConvexSim.from_project(project)


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each row's best figure over the rounds (noise only ever slows a run down)."""
    return {key: (max if higher else min)(r[key] for r in runs) for key, _label, _unit, higher in ROWS}


# --- The table ----------------------------------------------------------------------------------

def table(columns: dict[str, dict[str, float]]) -> str:
    """One row per figure: every column, then each convex-sim column's ratio to convex-test."""
    names = list(columns)
    ours = [n for n in names if n != "convex-test"]
    head = ["row", *names, *(f"ratio {n} / convex-test" for n in ours)]
    lines = [head]
    for key, label, unit, higher in ROWS:
        theirs = columns["convex-test"][key]
        ratios = [(columns[n][key] / theirs if higher else theirs / columns[n][key]) for n in ours]
        cells = [f"{columns[n][key]:,.1f} {unit}" if unit == "µs" else f"{columns[n][key]:,.0f}{unit}"
                 for n in names]
        lines.append([label, *cells, *(f"{r:.2f}x" for r in ratios)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
           for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def side_by_side(runners: dict[str, Callable[[Path], dict[str, float]]]) -> None:
    """Install the peer bench, alternate ``runners`` (column name -> run on the installed
    folder) for ``$BENCH_PEER_ROUNDS`` rounds, and print the table of best rounds."""
    rounds = int(os.environ.get("BENCH_PEER_ROUNDS", "2"))
    source = find_peer()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in runners}
    with tempfile.TemporaryDirectory(prefix="convex-test-bench-") as tmp:
        print(f"# installing {source} into a temporary folder (npm ci)", flush=True)
        folder = install_peer(source, Path(tmp))
        for number in range(1, rounds + 1):
            for name, runner in runners.items():
                runs[name].append(runner(folder))
                print(f"  round {number}: {name:<24} {json.dumps(runs[name][-1])}", flush=True)
    print(table({name: best(figures) for name, figures in runs.items()}))


def main() -> None:
    if "--python-only" in sys.argv:
        print(json.dumps(bench()))
        return
    if "--typescript-only" in sys.argv:
        print(json.dumps(bench(typescript_app(Path(sys.argv[sys.argv.index("--typescript-only") + 1])))))
        return
    side_by_side({"convex-sim": lambda _folder: run_python(), "convex-test": run_peer,
                  "convex-sim (TypeScript)": run_typescript})


if __name__ == "__main__":
    main()
