"""Cost of one commit with many subscriptions: unaffected ones must not cost per subscription."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._util import header, peak_memory
from convex_sim import ConvexSim, define_schema, define_table, mutation, query, v
from convex_sim.functions import Registry

SCHEMA = define_schema({"feeds": define_table({"topic": v.string(), "n": v.int64()}).index("by_topic", ["topic"])})


@query(args={"topic": v.string()})
def feed(ctx, args):
    return [r["n"] for r in ctx.db.query("feeds").with_index("by_topic", lambda q: q.eq("topic", args["topic"])).take(5)]


@query(args={"topic": v.string()})
def count(ctx, args):
    return len(ctx.db.query("feeds").with_index("by_topic", lambda q: q.eq("topic", args["topic"])).collect())


@mutation(args={"topic": v.string(), "n": v.int64()})
def post(ctx, args):
    ctx.db.insert("feeds", {"topic": args["topic"], "n": args["n"]})


REGISTRY = Registry()
REGISTRY.register("f:feed", feed)
REGISTRY.register("f:post", post)
REGISTRY.register("f:count", count)


def commit_cost(unaffected: int, affected: int, commits: int = 200) -> float:
    """µs per commit of a post to topic "hot", with ``affected`` subscriptions counting "hot" (each
    a different client identity, so each is its own execution and re-runs on every post) and
    ``unaffected`` ones on other topics."""
    sim = ConvexSim(SCHEMA, REGISTRY)
    anonymous = sim.client()
    for i in range(unaffected):
        anonymous.subscribe("f:feed", {"topic": f"t{i}"})
    for i in range(affected):
        sim.client({"subject": f"u{i}"}).subscribe("f:count", {"topic": "hot"})
    reruns = sim.subscriptions.reruns
    visited = sim.subscriptions.index.visited
    start = time.perf_counter()
    for i in range(commits):
        sim.mutation("f:post", {"topic": "hot", "n": i})
    micros = (time.perf_counter() - start) / commits * 1e6
    per_commit_reruns = (sim.subscriptions.reruns - reruns) / commits
    per_commit_visited = (sim.subscriptions.index.visited - visited) / commits
    label = f"commit with {unaffected:,} unaffected + {affected:,} affected subscriptions"
    print(f"{label:<58} {micros:>10,.0f} µs/commit  ({per_commit_reruns:,.0f} re-runs, "
          f"{per_commit_visited:,.0f} ranges visited)")
    return micros


def main() -> None:
    header("bench_subscriptions")
    baseline = commit_cost(0, 0)
    costs = {n: commit_cost(n, 0) for n in (10, 1_000, 10_000)}
    commit_cost(0, 1_000, commits=10)
    growth = costs[10_000] / costs[10]
    print(f"{'unaffected cost, 10k vs 10 subscriptions':<58} {growth:>10.2f}x   (no subscriptions: {baseline:,.0f} µs)")
    peak_memory()


if __name__ == "__main__":
    main()
