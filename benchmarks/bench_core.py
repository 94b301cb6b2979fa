"""Core engine throughput: inserts, point gets, index range reads, OCC commits."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._util import header, peak_memory, rate
from convex_sim import define_schema, define_table, v
from convex_sim.database import Database, WriteConflict
from convex_sim.queries import Query

SCHEMA = define_schema({
    "items": define_table({"owner": v.string(), "n": v.int64()}).index("by_owner_n", ["owner", "n"]),
})


def filled(n: int) -> tuple[Database, list[str]]:
    db = Database(SCHEMA, seed=1)
    ids: list[str] = []
    for start in range(0, n, 10_000):
        txn = db.begin("fill")
        ids += [txn.insert("items", {"owner": f"u{i % 1000}", "n": i}) for i in range(start, min(n, start + 10_000))]
        txn.commit()
    return db, ids


def bench_inserts(n: int = 20_000) -> None:
    db = Database(SCHEMA, seed=1)

    def run() -> None:
        for i in range(n):
            txn = db.begin("insert")
            txn.insert("items", {"owner": f"u{i % 1000}", "n": i})
            txn.commit()

    rate("insert (1 doc per committed txn, 3 indexes)", n, run)


def bench_gets(db: Database, ids: list[str], n: int = 50_000) -> None:
    rng = random.Random(0)
    picks = [rng.choice(ids) for _ in range(n)]

    def run() -> None:
        for start in range(0, n, 1000):  # 1,000 gets per transaction (limit: 4,096)
            txn = db.begin("get")
            for doc_id in picks[start:start + 1000]:
                txn.get(doc_id)

    rate("point get (db.get by ID)", n, run)


def bench_range_reads(db: Database, n: int = 10_000) -> None:
    rng = random.Random(0)
    owners = [f"u{rng.randrange(1000)}" for _ in range(n)]

    def run() -> None:
        for owner in owners:
            txn = db.begin("range")
            Query(txn, "items").with_index("by_owner_n", lambda q, o=owner: q.eq("owner", o)).take(10)

    rate("indexed range read, take 10 of 100k docs (own txn each)", n, run)


def bench_commits(conflict_rate: float, pairs: int = 5_000) -> None:
    db, ids = filled(2_000)
    rng = random.Random(0)
    commits = retries = 0

    def read_modify_write(txn, doc_id: str) -> None:
        doc = txn.get(doc_id)
        txn.patch(doc_id, {"n": doc["n"] + 1})

    def run() -> None:
        nonlocal commits, retries
        for _ in range(pairs):
            a = rng.choice(ids)
            b = a if rng.random() < conflict_rate else rng.choice(ids)
            t1, t2 = db.begin("a"), db.begin("b")
            read_modify_write(t1, a)
            read_modify_write(t2, b)
            t1.commit()
            commits += 1
            try:
                t2.commit()
            except WriteConflict:
                retries += 1
                t2 = db.begin("b")
                read_modify_write(t2, b)
                t2.commit()
            commits += 1

    rate(f"commit with OCC validation, {conflict_rate:.0%} conflict rate", pairs * 2, run, "commits/s")
    print(f"{'':<58} ({retries:,} retries for {commits:,} commits)")


def main() -> None:
    header("bench_core")
    bench_inserts()
    db, ids = filled(100_000)
    bench_gets(db, ids)
    bench_range_reads(db)
    bench_commits(0.0)
    bench_commits(0.5)
    peak_memory()


if __name__ == "__main__":
    main()
