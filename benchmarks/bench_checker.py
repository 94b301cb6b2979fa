"""The history checker: transactions checked per second on 10k and 100k transaction histories.

Each history is a bank-like workload in the recorder's own key format: every
transaction reads one owner's accounts through an index range (``by_owner``
eq) and one or two accounts by id, then updates one or two accounts, opens one
(an insert) or moves one to another owner (an index-key change); one in five
is read-only. Transactions overlap (a snapshot up to 3 commits old) without
conflicting, so the history is serializable and the checker builds every edge.
Deterministic: a seeded ``random.Random``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._util import header, peak_memory
from convex_sim.checker import HIGH, DocWrite, KeyRange, TxnRecord, check_history
from convex_sim.values import sort_key

OWNERS = 2_000


def history(n: int, seed: int = 0) -> list[TxnRecord]:
    """``n`` transactions over accounts of ``OWNERS`` owners (see the module docstring)."""
    rng = random.Random(seed)
    owner_of: dict[str, str] = {}
    by_owner: dict[str, list[str]] = {}
    created: dict[str, tuple] = {}
    touched_at: dict[str, int] = {}   # last commit that wrote a document or an owner's range

    def keys(doc: str, old_owner: str | None, new_owner: str | None) -> tuple:
        pk = (sort_key(doc),)
        ck = created[doc]
        return (("by_id", pk if old_owner else None, pk if new_owner else None),
                ("by_creation_time", (ck, pk[0]) if old_owner else None, (ck, pk[0]) if new_owner else None),
                ("by_owner", (sort_key(old_owner), ck, pk[0]) if old_owner else None,
                 (sort_key(new_owner), ck, pk[0]) if new_owner else None))

    def open_account(owner: str) -> DocWrite:
        doc = f"acct{len(created):07d}"
        created[doc] = sort_key(float(len(created)))
        owner_of[doc] = owner
        by_owner.setdefault(owner, []).append(doc)
        return DocWrite("accounts", doc, keys(doc, None, owner))

    txns = [TxnRecord(1, "seed", 0, 1, (), tuple(open_account(f"u{i}") for i in range(OWNERS)))]
    ts = 1
    touched_at.update(dict.fromkeys([*owner_of, *by_owner], 1))
    for number in range(2, n + 1):
        owner = f"u{rng.randrange(OWNERS)}"
        docs = [d for d in (rng.choice(list(owner_of)) for _ in range(rng.randint(1, 2)))]
        # A snapshot up to 3 commits old, but after the last write to anything it reads.
        begin = max([ts - rng.randint(0, 3), touched_at.get(owner, 0), *(touched_at.get(d, 0) for d in docs)])
        reads = [KeyRange("accounts", "by_owner", (sort_key(owner),), (sort_key(owner), HIGH))]
        reads += [KeyRange("accounts", "by_id", (sort_key(d),), (sort_key(d), HIGH)) for d in docs]
        writes: list[DocWrite] = []
        if rng.random() >= 0.2:
            for doc in docs:
                writes.append(DocWrite("accounts", doc, keys(doc, owner_of[doc], owner_of[doc])))
            if rng.random() < 0.3:
                writes.append(open_account(owner))
            elif rng.random() < 0.2 and by_owner[owner_of[docs[0]]]:
                doc, new_owner = docs[0], owner
                writes[0] = DocWrite("accounts", doc, keys(doc, owner_of[doc], new_owner))
                by_owner[owner_of[doc]].remove(doc)
                by_owner.setdefault(new_owner, []).append(doc)
                touched_at[owner_of[doc]] = ts + 1
                owner_of[doc] = new_owner
        if writes:
            ts += 1
            for write in writes:
                touched_at[write.id] = ts
                touched_at[owner_of[write.id]] = ts
        txns.append(TxnRecord(number, "bank:step", begin, ts if writes else begin, tuple(reads), tuple(writes)))
    return txns


def main() -> None:
    header("bench_checker")
    for n in (10_000, 100_000):
        txns = history(n)
        start = time.perf_counter()
        report = check_history(txns)
        elapsed = time.perf_counter() - start
        reads = sum(len(t.reads) for t in txns)
        print(f"{n:>7,} transactions ({reads:,} range and point reads, {report.edges:,} edges)"
              f"  {elapsed:6.2f} s  {n / elapsed:>9,.0f} transactions/s  "
              f"{'ok' if report.ok else 'ANOMALIES'}")
    peak_memory()


if __name__ == "__main__":
    main()
