"""What one step of a schedule did (``StepRecord``) and why a schedule failed (``Failure``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..checker import DocWrite, KeyRange, doc_writes, footprints_overlap, key_range
from ..database import Commit, ReadRange, Write

#: The failure kind of an operation that ran out of OCC retries (``ContentionError``).
CONTENTION = "error ContentionError"


@dataclass
class StepRecord:
    """What one step did: the unit of a schedule and of a counterexample's timeline."""

    number: int
    op: int
    kind: str                      # begin | commit | conflict | query | job | scheduler.* | storage.*
    function: str
    snapshot_ts: int | None = None
    commit_ts: int | None = None
    reads: tuple[ReadRange, ...] = ()
    writes: tuple[Write, ...] = ()
    pending: tuple[tuple[str, str], ...] = ()   # (table, id) buffered by a begin
    result: str = ""
    orders_everything: bool = False   # its footprint is unknown or global (a clock jump, a vector search)
    #: What else the step touches besides the database (a frontend's page or channels): two
    #: steps touching one thing are ordered.
    touches: frozenset[str] = frozenset()

    last: int = 0   # a merged begin and commit (see coalesce): the number of its last engine step
    _footprint: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def end(self) -> int:
        """The number of this step's last engine step."""
        return self.last or self.number

    def footprint(self) -> tuple[tuple[DocWrite, ...], tuple[KeyRange, ...]]:
        """The step's writes and reads as the history checker sees them (computed once)."""
        if self._footprint is None:
            self._footprint = (doc_writes(Commit(0, self.writes)), tuple(key_range(r) for r in self.reads))
        return self._footprint

    def depends_on(self, other: StepRecord) -> bool:
        """Whether the order of this step and ``other`` (of another op) can matter: decided by
        the history checker's footprint code, never by the committer's own conflict check."""
        if self.orders_everything or other.orders_everything or self.touches & other.touches:
            return True
        (writes, reads), (other_writes, other_reads) = self.footprint(), other.footprint()
        return footprints_overlap(writes, other_writes, other_reads) or \
            footprints_overlap(other_writes, writes, reads)


@dataclass(frozen=True)
class Failure:
    """Why a schedule failed. ``kind`` groups failures (shrinking keeps it):
    ``"invariant"``, ``"serializability"``, ``"history"``, ``"subscription"`` or
    ``"error <Type>"`` (:data:`CONTENTION` for an operation starved of OCC retries)."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message
