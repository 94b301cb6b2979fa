"""Which history the store keeps, and the retirement of the rest.

Who can still read the past:

* an open :class:`~convex_sim.database.Transaction` reads its begin snapshot and,
  at commit, checks the commits after it (it holds its begin timestamp with
  :meth:`History.hold` until it ends, without a Pin object);
* a live :class:`~convex_sim.database.DatabaseSnapshot` (``Database.snapshot()``,
  ``sim.capture_state()``, an exploration's starting point, a counterexample
  that can still be replayed) can be rewound to;
* a subscription client re-checks every transition it received at its
  timestamp (``check_consistency``): it holds a :class:`Pin` from its first
  transition until it is closed; paginated queries' pages are subscriptions of
  a client, so they are covered by it;
* a trace recorder, while an ad-hoc ``sim.run`` it records lists the commits it made;
* anyone else holding a :meth:`Database.pin`.

**Invariant (history retention).** Let the *horizon* ``H`` be the smallest
of ``latest_ts`` and every pinned timestamp. After each collection:

* every document keeps the version visible at ``H`` and all later ones, and
  nothing older; a document deleted at or before ``H`` is gone entirely;
* each index holds, per document, the distinct keys of its kept versions
  (see ``_Table``), and nothing else;
* the write log holds every commit after ``H`` (older ones leave in batches).

Whatever a reader at a timestamp ``>= H`` can see, or a rewind to a pinned
snapshot must undo, is therefore kept. Collections run after commits, in
batches, each retiring whole superseded versions in commit order: amortized
O(1) per commit. ``floor`` is the highest horizon collected at; reading or
pinning below it is an error, never a silently wrong answer.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque

from ..errors import ConvexSimError
from .log import Commit
from .store import _Table


class HistoryRetiredError(ConvexSimError):
    """A read of a timestamp whose history was already retired (nothing pinned it)."""


class Pin:
    """Keeps the state at ``ts`` readable until :meth:`release` (or until garbage-collected)."""

    __slots__ = ("_history", "ts")

    def __init__(self, history: History, ts: int) -> None:
        self.ts = ts
        self._history: History | None = history
        history.hold(ts)

    def release(self) -> None:
        """Let the history at ``ts`` be retired (idempotent)."""
        history, self._history = self._history, None
        if history is not None:
            history.drop(self.ts)

    __del__ = release

    def __repr__(self) -> str:
        return f"<Pin ts={self.ts}{'' if self._history is not None else ' released'}>"


class History:
    """Pins, the queue of superseded versions, and the collector that retires them."""

    #: Collect once this many superseded versions wait (and the log is retired in batches of
    #: at least this many commits): small enough to bound memory, large enough to amortize.
    BATCH = 64

    def __init__(self, tables: dict[str, _Table], log: list[Commit], log_ts: list[int],
                 id_tables: dict[str, str]) -> None:
        self._tables, self._log, self._log_ts = tables, log, log_ts
        self._id_tables = id_tables
        # Invariant: _counts[ts] is the number of live pins at ts; every key of _counts is in
        # _heap (which may also hold stale timestamps, skipped lazily).
        self._counts: dict[int, int] = {}
        self._heap: list[int] = []
        #: ``(ts, table, doc_id)`` for each version superseded at ``ts``, in commit order.
        self.superseded: deque[tuple[int, str, str]] = deque()
        self.floor = 0
        self.batch = self.BATCH

    # -- pins -------------------------------------------------------------------------------
    def pin(self, ts: int, what: str = "") -> Pin:
        """A :class:`Pin` on ``ts``; raises :class:`HistoryRetiredError` below ``floor``."""
        self.check_readable(ts, what)
        return Pin(self, ts)

    def check_readable(self, ts: int, what: str = "") -> None:
        if ts < self.floor:
            raise HistoryRetiredError(
                f"{what or 'a reader'} asked for the state at ts {ts}, but history before ts "
                f"{self.floor} was retired: nothing pinned it (hold a Database.snapshot() or "
                "Database.pin() to keep it).")

    def hold(self, ts: int) -> None:
        """Keep ``ts`` readable until a matching :meth:`drop` (what a :class:`Pin` and an open
        transaction do; a transaction holds its begin timestamp without a Pin object)."""
        count = self._counts.get(ts)
        if count is None:
            self._counts[ts] = 1
            heapq.heappush(self._heap, ts)
        else:
            self._counts[ts] = count + 1

    def drop(self, ts: int) -> None:
        count = self._counts[ts]
        if count == 1:
            del self._counts[ts]
        else:
            self._counts[ts] = count - 1

    def horizon(self, latest: int) -> int:
        """The oldest timestamp any reader may still ask for (``latest``: the latest commit)."""
        heap, counts = self._heap, self._counts
        while heap and heap[0] not in counts:
            heapq.heappop(heap)
        return min(heap[0], latest) if heap else latest

    # -- collection ---------------------------------------------------------------------------
    def after_commit(self, latest: int) -> None:
        """Collect if a batch of superseded versions (or of old commits) is waiting."""
        if len(self.superseded) >= self.batch or len(self._log) >= 2 * self.batch:
            self.collect(latest, batched=True)

    def collect(self, latest: int, *, batched: bool = False) -> int:
        """Retire everything below the horizon (old commits only by whole batches if
        ``batched``); return how many versions were retired."""
        horizon = self.horizon(latest)
        self.floor = max(self.floor, horizon)
        queue, retired = self.superseded, 0
        counts: dict[tuple[str, str], int] = {}
        while queue and queue[0][0] <= horizon:
            _ts, table, doc_id = queue.popleft()
            counts[table, doc_id] = counts.get((table, doc_id), 0) + 1
        for (table_name, doc_id), k in counts.items():
            table = self._tables[table_name]
            chain = table.versions[doc_id]
            gone = chain[:k]
            del chain[:k]
            retired += k
            table.unindex(gone, chain)
            if len(chain) == 1 and chain[0][1] is None:
                del table.versions[doc_id]  # deleted, and every reader knows it
                self._id_tables.pop(doc_id, None)
        self._retire_log(horizon, batched)
        return retired

    def _retire_log(self, horizon: int, batched: bool) -> None:
        k = bisect.bisect_right(self._log_ts, horizon)
        if not batched or (k >= self.batch and 2 * k >= len(self._log)):  # entries move O(1) times
            del self._log[:k]
            del self._log_ts[:k]

    def rewound(self, ts: int) -> None:
        """Forget the supersessions of commits after ``ts`` (a rewind undid them)."""
        queue = self.superseded
        while queue and queue[-1][0] > ts:
            queue.pop()

    def log_start(self, latest: int) -> int:
        """Commits after this timestamp are all in the log."""
        return self._log_ts[0] - 1 if self._log_ts else latest

    def stats(self) -> dict[str, int]:
        """Sizes of the kept history: versions, index entries, log entries, waiting supersessions."""
        tables = self._tables.values()
        return {"documents": sum(len(t.versions) for t in tables),
                "versions": sum(len(c) for t in tables for c in t.versions.values()),
                "index_entries": sum(len(t.index(i)) for t in tables for i in range(len(t.index_names))),
                "log": len(self._log), "superseded": len(self.superseded),
                "pins": sum(self._counts.values()), "floor": self.floor}
