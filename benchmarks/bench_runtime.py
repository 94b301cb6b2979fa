"""Test-handle throughput: fresh instances, inserts, read-2-patch-2 mutations, indexed queries.

Absolute figures only: this machine's speed moves from run to run, so comparisons with
convex-test are made side by side, in one run, by ``make bench-peer`` (bench_peer.py).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._util import header, peak_memory, rate
from convex_sim import ConvexSim, define_schema, define_table, mutation, query, v
from convex_sim.functions import Registry

SCHEMA = define_schema({
    "accounts": define_table({"owner": v.string(), "balance": v.int64()}).index("by_owner", ["owner"]),
})


@mutation(args={"owner": v.string(), "balance": v.int64()})
def insert(ctx, args):
    return ctx.db.insert("accounts", args)


@mutation(args={"a": v.id("accounts"), "b": v.id("accounts")})
def read2patch2(ctx, args):
    a, b = ctx.db.get(args["a"]), ctx.db.get(args["b"])
    ctx.db.patch(a["_id"], {"balance": a["balance"] - 1})
    ctx.db.patch(b["_id"], {"balance": b["balance"] + 1})


@query(args={"owner": v.string()})
def by_owner(ctx, args):
    return ctx.db.query("accounts").with_index("by_owner", lambda q: q.eq("owner", args["owner"])).unique()


REGISTRY = Registry()
for path, fn in {"b:insert": insert, "b:read2patch2": read2patch2, "b:by_owner": by_owner}.items():
    REGISTRY.register(path, fn)


def bench_fresh(n: int = 5_000, repeats: int = 5) -> None:
    ConvexSim(SCHEMA, REGISTRY)  # warm
    best = min(timeit.repeat(lambda: ConvexSim(SCHEMA, REGISTRY), number=n, repeat=repeats))
    micros = best / n * 1e6
    print(f"{'fresh ConvexSim (schema + registered functions), best of ' + str(repeats):<58} {micros:>12,.1f} µs")


def seeded(n_accounts: int) -> tuple[ConvexSim, list[str]]:
    sim = ConvexSim(SCHEMA, REGISTRY, seed=1)
    ids = sim.run(lambda ctx: [ctx.db.insert("accounts", {"owner": f"u{i}", "balance": 100})
                               for i in range(n_accounts)])
    return sim, ids


def main() -> None:
    header("bench_runtime (through the ConvexSim test handle)")
    bench_fresh()

    sim = ConvexSim(SCHEMA, REGISTRY)
    n = 10_000
    rate("insert mutation calls", n, lambda: [
        sim.mutation("b:insert", {"owner": f"u{i}", "balance": i}) for i in range(n)])

    sim, ids = seeded(1_000)
    rate("read-2-patch-2 mutation calls", n, lambda: [
        sim.mutation("b:read2patch2", {"a": ids[i % 1000], "b": ids[(i + 7) % 1000]}) for i in range(n)])
    rate("indexed point query calls (1k rows)", n, lambda: [
        sim.query("b:by_owner", {"owner": f"u{i % 1000}"}) for i in range(n)])

    big, _ = seeded(10_000)
    rate("indexed query calls on a 10k-row table", n, lambda: [
        big.query("b:by_owner", {"owner": f"u{i % 10_000}"}) for i in range(n)])

    bench_plugin_overhead()
    peak_memory()


def bench_plugin_overhead(tests: int = 2_000, repeats: int = 3) -> None:
    """Per-test cost of the convex fixture: a suite using it vs the same suite without.

    Best of ``repeats`` runs each, so interpreter start-up noise cancels out.
    """
    body = textwrap.dedent("""
        import pytest
        @pytest.mark.parametrize("i", range({n}))
        def test_x({fixture}i):
            pass
    """)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, fixture in (("plain", ""), ("convex", "convex, ")):
            path = Path(tmp) / f"test_{label}.py"
            path.write_text(body.format(n=tests, fixture=fixture))
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                "-p", "no:hypothesispytest", str(path)],
                               check=True, capture_output=True, cwd=tmp)
                runs.append(time.perf_counter() - start)
            timings[label] = min(runs)
    per_test = (timings["convex"] - timings["plain"]) / tests * 1e6
    print(f"{'pytest plugin: convex fixture overhead per test':<58} {per_test:>12,.0f} µs"
          f"   ({tests:,} tests: {timings['plain']:.2f} s plain, {timings['convex']:.2f} s with convex)")


if __name__ == "__main__":
    main()
