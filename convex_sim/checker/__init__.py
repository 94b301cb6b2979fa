"""The history checker: an oracle for the committer, independent of it.

From the committed transactions of a run (snapshot and commit timestamps,
every index range read with the bounds actually consumed and the versions it
returned, every document written with its old and new index keys), build the direct serialization
graph with ww, wr and rw edges, including predicate rw edges from range
reads; find its cycles and name them (G0, G1a, G1b, G1c, G-single, G2-item,
G2). See docs/checking.md.

It shares no code with the committer's conflict detection in
``convex_sim.database``: its keys, ranges and containment are its own
(``model``), so a bug there cannot hide itself here.

Modules: ``model`` (the history), ``graph`` (edges, components, cycles),
``check`` (naming and reports), ``record`` (recording from a database),
``jsonl`` (history files).
"""

from .check import ANOMALIES, Anomaly, HistoryReport, check_history
from .jsonl import dump_history, load_history, read_history
from .model import (
    ABSENT,
    HIGH,
    LOW,
    DocWrite,
    HistoryError,
    KeyRange,
    TxnRecord,
    VersionRead,
    footprints_overlap,
)
from .record import HistoryRecorder, doc_writes, key_range

__all__ = [
    "ABSENT", "ANOMALIES", "HIGH", "LOW", "Anomaly", "DocWrite", "HistoryError", "HistoryRecorder", "HistoryReport",
    "KeyRange", "TxnRecord", "VersionRead", "check_history", "doc_writes", "dump_history",
    "footprints_overlap", "key_range", "load_history", "read_history",
]
