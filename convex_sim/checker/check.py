"""Check a history: find its anomalies, name them, and explain each as a counterexample."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass, field

from .compact import Compactor
from .graph import ALL, G_SINGLE_TRIES, RW, RW_ITEM, RW_PREDICATE, WR, WW, Graph, Reason
from .model import TxnRecord, VersionRead

#: Every anomaly the checker names, weakest first (Adya's phenomena, Elle's names).
ANOMALIES = {
    "G0": "write cycle: transactions overwrite each other's documents in a cycle (ww edges only)",
    "G1a": "aborted read: a transaction read a version written by a transaction that aborted",
    "G1b": "intermediate read: a transaction read a version its writer overwrote before committing",
    "G1c": "circular information flow: a cycle of ww and wr edges",
    "G-single": "a cycle with exactly one anti-dependency (rw): a lost update or read skew",
    "G2-item": "a cycle of anti-dependencies on documents: write skew",
    "G2": "a cycle of anti-dependencies including an index-range read: write skew on a predicate "
          "(a phantom)",
}
_PREFER = (WW, WR, RW_ITEM, RW_PREDICATE)


@dataclass
class Anomaly:
    """One anomaly: its class (``name``), the transactions of its cycle, and why each edge is."""

    name: str
    cycle: list[TxnRecord]
    edges: list[tuple[int, Reason]] = field(default_factory=list)   # (kind, reason) to the next one

    @property
    def description(self) -> str:
        return ANOMALIES[self.name]

    def __str__(self) -> str:
        lines = [f"{self.name}: {self.description}"]
        n = len(self.cycle)
        for i, txn in enumerate(self.cycle):
            lines.append(f"  {txn.label()}")
            if i < len(self.edges):
                kind, reason = self.edges[i]
                after = self.cycle[(i + 1) % n]
                lines.append(f"      {_kind_name(kind, reason)} → T{after.id}: {explain(kind, reason, txn, after)}")
        return "\n".join(lines)


@dataclass
class HistoryReport:
    """What :func:`check_history` found; ``ok`` when no anomaly."""

    transactions: int
    committed: int
    edges: int
    anomalies: list[Anomaly]

    @property
    def ok(self) -> bool:
        return not self.anomalies

    def assert_ok(self) -> None:
        """Raise AssertionError showing the first anomaly, if any."""
        if self.anomalies:
            raise AssertionError(f"history check: {len(self.anomalies)} anomal"
                                 f"{'y' if len(self.anomalies) == 1 else 'ies'}; the first:\n{self.anomalies[0]}")

    def __str__(self) -> str:
        head = (f"history: {self.transactions} transactions ({self.committed} committed), "
                f"{self.edges} dependency edges: ")
        if self.ok:
            return head + "serializable (no cycle, no aborted or intermediate read)"
        return head + f"{len(self.anomalies)} anomal{'y' if len(self.anomalies) == 1 else 'ies'}\n" + \
            "\n".join(str(a) for a in self.anomalies)


def check_history(transactions: Iterable[TxnRecord]) -> HistoryReport:
    """Build the serialization graph of ``transactions`` and name every anomaly in it.

    One anomaly per strongly connected component (its weakest class, with a
    shortest cycle of that class), plus every aborted and intermediate read.
    Equal reads and writes of the records are shared as they are read (see ``compact``), so
    a long history streamed from a file is held once, compactly.
    """
    compactor = Compactor()
    txns = [compactor.compact(t) for t in transactions]
    collecting = gc.isenabled()
    gc.disable()   # the graph holds millions of small containers and no reference cycle
    try:
        graph = Graph(txns)
    finally:
        if collecting:
            gc.enable()
    anomalies = [_dirty("G1a", graph, r) for r in graph.aborted_reads]
    anomalies += [_dirty("G1b", graph, r) for r in graph.intermediate_reads]
    for component in graph.components():
        anomalies.append(_weakest_cycle(graph, component))
    committed = sum(1 for t in txns if t.commit is not None)
    return HistoryReport(len(txns), committed, graph.edge_count, anomalies)


def _weakest_cycle(graph: Graph, component: list[int]) -> Anomaly:
    """The weakest class of cycle in a strongly connected component, as an anomaly."""
    nodes = set(component)
    for mask in (WW, WW | WR):
        inner = graph.components(mask, component)
        if inner:
            return _anomaly(graph, graph.cycle_through(inner[0][0], mask, set(inner[0])))  # type: ignore[arg-type]
    single = _single_anti_dependency_cycle(graph, component, nodes)
    if single is not None:
        return _anomaly(graph, single)
    inner = graph.components(WW | WR | RW_ITEM, component)
    if inner:
        return _anomaly(graph, graph.cycle_through(inner[0][0], WW | WR | RW_ITEM, set(inner[0])))  # type: ignore[arg-type]
    return _anomaly(graph, graph.cycle_through(component[0], ALL, nodes))  # type: ignore[arg-type]


def _single_anti_dependency_cycle(graph: Graph, component: list[int], nodes: set[int]) -> list[int] | None:
    """A shortest cycle made of one rw edge ``a → b`` and a ww/wr path back from ``b`` to ``a``."""
    best: list[int] | None = None
    tries = 0
    for a in component:
        for b, kinds in graph.adj[a].items():
            if b not in nodes or not kinds & RW or kinds & (WW | WR):
                continue
            tries += 1
            path = graph.shortest_path(b, a, WW | WR, nodes)
            if path is not None and (best is None or len(path) < len(best)):
                best = [a, *path[:-1]]
                if len(best) == 2:
                    return best
            if tries >= G_SINGLE_TRIES:
                return best
    return best


def _anomaly(graph: Graph, cycle: list[int]) -> Anomaly:
    edges = []
    for i, a in enumerate(cycle):
        b = cycle[(i + 1) % len(cycle)]
        kind = graph.edge_kind(a, b, _PREFER)
        edges.append((kind, graph.reason(a, b, kind)))
    kinds = [k for k, _r in edges]
    anti = [k for k in kinds if k & RW]
    if not anti:
        name = "G0" if all(k == WW for k in kinds) else "G1c"
    elif len(anti) == 1:
        name = "G-single"
    else:
        name = "G2-item" if all(k == RW_ITEM for k in anti) else "G2"
    return Anomaly(name, [graph.txns[n] for n in cycle], edges)


def _dirty(name: str, graph: Graph, found: tuple[int, int, VersionRead]) -> Anomaly:
    reader, writer, seen = found
    reason = Reason(seen.table, seen.id)
    return Anomaly(name, [graph.txns[writer], graph.txns[reader]], [(WR, reason)])


def _kind_name(kind: int, reason: Reason) -> str:
    if kind == WR and reason.predicate:
        return "wr (predicate)"
    return {WW: "ww", WR: "wr", RW_ITEM: "rw", RW_PREDICATE: "rw (predicate)"}[kind]


def _stale(reason: Reason, overwriter: TxnRecord) -> str:
    """A note when the recorded version read was replaced at or before the reader's snapshot."""
    if reason.version is None or overwriter.commit is None or reason.snapshot is None \
            or overwriter.commit > reason.snapshot:
        return ""
    seen = f"the version of commit {reason.version}" if reason.version else "no version"
    return f", yet the read saw {seen}: older than its snapshot"


def _doc(reason: Reason) -> str:
    doc = reason.doc if len(reason.doc) <= 12 else reason.doc[:8] + "…"
    return f"{reason.table} {doc}"


def explain(kind: int, reason: Reason, a: TxnRecord, b: TxnRecord) -> str:
    """Why the edge ``a → b`` of ``kind`` exists, in one sentence."""
    write = reason.write.kind if reason.write is not None else "write"
    through = f" through {reason.read}" if reason.read is not None and not reason.read.is_point else ""
    if kind == WW:
        return f"T{b.id}'s {write} of {_doc(reason)} replaced the version T{a.id} wrote"
    if kind == WR and reason.predicate:
        return (f"T{b.id}'s read of {reason.read} at snapshot {reason.snapshot} saw T{a.id}'s {write} "
                f"of {_doc(reason)} (it left the range)")
    if kind == WR:
        state = "aborted" if a.commit is None else "committed"
        return f"T{b.id} read {_doc(reason)}{through} as T{a.id} ({state}) wrote it"
    if kind == RW_ITEM:
        return (f"T{a.id} read {_doc(reason)}{through} at snapshot {reason.snapshot}; T{b.id}'s {write} "
                f"(commit {b.commit}) replaced that version{_stale(reason, b)}")
    return (f"T{a.id} read {reason.read} at snapshot {reason.snapshot}; T{b.id}'s {write} of "
            f"{_doc(reason)} (commit {b.commit}) changes what that range holds")
