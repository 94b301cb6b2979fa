"""Traces: record a simulator's (or a real deployment's) calls as JSON Lines, replay
them against an app and report the first divergence; Convex snapshot exports in and out.

See docs/trace-format.md for the file format.
"""

from .format import FORMAT, VERSION, TraceError, TraceReader, TraceWriter
from .overlaps import OverlapReport, Window, explore_overlaps, overlapping_windows
from .recorder import Recorder
from .replay import Divergence, Replayer, ReplayReport, replay, sim_for_trace, structural_diff
from .snapshot import SnapshotError, export_snapshot, load_snapshot
from .store import BadDocument, DocumentImportError

__all__ = [
    "FORMAT", "VERSION", "BadDocument", "Divergence", "DocumentImportError", "OverlapReport",
    "Recorder",
    "RecordingClient", "ReplayReport", "Replayer", "SnapshotError", "TraceError", "TraceReader",
    "TraceWriter", "Window", "explore_overlaps", "export_snapshot", "load_snapshot",
    "overlapping_windows", "replay", "sim_for_trace", "structural_diff",
]


def __getattr__(name: str) -> object:
    if name == "RecordingClient":   # imported lazily: it needs nothing of the simulator
        from .client import RecordingClient

        return RecordingClient
    raise AttributeError(name)
