"""The direct serialization graph of a history (Adya 1999), its cycles and their names.

Nodes are committed transactions. Per document, the versions are ordered by
their writers' commit timestamps (or by a write's explicit ``over``). Edges:

* **ww** ``Ti → Tj``: Tj installed the version after Ti's;
* **wr** ``Ti → Tj``: Tj read the version Ti installed (an item read), or Tj's
  range read saw Ti's write move a document out of the range (predicate);
* **rw** ``Ti → Tj`` (anti-dependency): Ti read a version and Tj installed the
  next one (item), or Tj's write put a document into, or took one out of, a
  range Ti read at a snapshot before it (predicate).

A read saw the versions the history records beside it (``versions``, captured
by the recorder as the read happened); a document it does not list is taken
at the transaction's snapshot (``begin``): one it did not return, one it
wrote itself, and every document in a history without ``versions``.
``observed`` names a version by its writer. Cycles are found per strongly
connected component and named by the weakest class they belong to: G0 (ww
only), G1c (ww and wr), G-single (exactly one rw), G2-item (rw edges, all on
items), G2 (some rw on a predicate). G1a (reading an aborted write) and G1b
(reading an intermediate write) need no cycle.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .model import DocWrite, HistoryError, KeyRange, ReadVersions, TxnRecord, VersionRead

WW, WR, RW_ITEM, RW_PREDICATE = 1, 2, 4, 8
RW = RW_ITEM | RW_PREDICATE
ALL = WW | WR | RW
#: Edge kinds by bit, for reports.
KIND_NAMES = {WW: "ww", WR: "wr", RW_ITEM: "rw", RW_PREDICATE: "rw (predicate)"}
#: Above this many anti-dependency edges in one component, G-single is searched among the first.
G_SINGLE_TRIES = 2_000


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an edge exists: the document (and range, for reads) that creates it."""

    table: str
    doc: str
    write: DocWrite | None = None     # the write that creates the edge (ww, rw) or was read (wr)
    read: KeyRange | None = None      # the range read (wr, rw)
    snapshot: int | None = None
    predicate: bool = False           # the edge comes from a range, not from a document read
    version: int | None = None        # the commit timestamp of the version read, if recorded


class _Chain:
    """One document's (``doc``, its ID) committed versions in version order: parallel lists."""

    __slots__ = ("_keys", "commits", "doc", "nodes", "writes")

    def __init__(self, doc: str) -> None:
        self.doc = doc
        self.commits: list[int] = []
        self.nodes: list[int] = []
        self.writes: list[DocWrite] = []
        self._keys: dict[str, tuple[list, list[int]]] | None = None

    def keys(self, index: str) -> tuple[list, list[int]]:
        """The document's key in ``index`` before the first write then after each (``[k0, k1,
        ...]``, None where absent), and the positions of the writes that change it (computed once)."""
        if self._keys is None:
            self._keys = {}
        found = self._keys.get(index)
        if found is None:
            writes = self.writes
            keys = [writes[0].key_in(index, False), *(w.key_in(index, True) for w in writes)]
            moves = [j for j in range(len(writes)) if keys[j] != keys[j + 1]]
            found = self._keys[index] = (keys, moves)
        return found


class Graph:
    """The serialization graph of the committed transactions of a history."""

    def __init__(self, txns: Sequence[TxnRecord]) -> None:
        self.txns = list(txns)
        self.node_of: dict[int, int] = {}
        for node, txn in enumerate(self.txns):
            if txn.id in self.node_of:
                raise HistoryError(f"check_history: transaction ids must be unique, got T{txn.id} twice")
            self.node_of[txn.id] = node
        n = len(self.txns)
        # Invariant: adj[a][b] is the OR of the kinds of the edges a → b (a != b, both committed).
        self.adj: list[dict[int, int]] = [{} for _ in range(n)]
        self._capture: tuple[int, int, int] | None = None
        self._captured: Reason | None = None
        self.chains: dict[tuple[str, str], _Chain] = {}
        self._ranges: dict[tuple[str, str], tuple[list[tuple], list[_Chain]]] = {}
        self._points: dict[tuple[str, tuple], _Chain] | None = None
        self.edge_count = 0
        #: ``(reader node, writer node, VersionRead)`` of reads of aborted / intermediate writes.
        self.aborted_reads: list[tuple[int, int, VersionRead]] = []
        self.intermediate_reads: list[tuple[int, int, VersionRead]] = []
        self._build_chains()
        self._ww_edges(self.chains.values())
        for node, txn in enumerate(self.txns):
            if txn.versions and len(txn.versions) != len(txn.reads):
                raise HistoryError(f"check_history: T{txn.id} has versions for {len(txn.versions)} reads "
                                   f"but has {len(txn.reads)} read(s)")
            if txn.commit is not None:
                self._reads_edges(node, txn)

    # -- edges ----------------------------------------------------------------------------------
    def _add(self, a: int, b: int, kind: int, write: DocWrite, read: KeyRange | None, snapshot: int | None,
             predicate: bool = False, version: int | None = None) -> None:
        if a == b:
            return
        if self._capture is not None:   # re-deriving one edge's reason (see reason())
            if self._capture == (a, b, kind) and self._captured is None:
                self._captured = Reason(write.table, write.id, write, read, snapshot, predicate, version)
            return
        edges = self.adj[a]
        have = edges.get(b, 0)
        if not have & kind:
            edges[b] = have | kind
            self.edge_count += 1

    def reason(self, a: int, b: int, kind: int) -> Reason:
        """Why the edge ``a → b`` of ``kind`` exists (re-derived: reasons are not kept per edge)."""
        self._capture, self._captured = (a, b, kind), None
        try:
            if kind == WW:
                self._ww_edges([self.chains[w.table, w.id] for w in self.txns[b].writes])
            else:
                reader = b if kind == WR else a
                self._reads_edges(reader, self.txns[reader])
        finally:
            self._capture = None
        if self._captured is None:
            raise HistoryError(f"check_history: no {KIND_NAMES[kind]} edge T{self.txns[a].id} → T{self.txns[b].id}")
        return self._captured

    def _build_chains(self) -> None:
        committed = sorted((t.commit, node) for node, t in enumerate(self.txns) if t.commit is not None)
        chains = self.chains
        for commit, node in committed:
            final: dict[tuple[str, str], DocWrite] = {}
            for write in self.txns[node].writes:
                final[write.table, write.id] = write   # a document written twice: its last write
            for doc, write in final.items():
                chain = chains.get(doc)
                if chain is None:
                    chain = chains[doc] = _Chain(doc[1])
                chain.commits.append(commit)  # type: ignore[arg-type]
                chain.nodes.append(node)
                chain.writes.append(write)

    def _ww_edges(self, chains: Iterable[_Chain]) -> None:
        for chain in chains:
            nodes, writes = chain.nodes, chain.writes
            for i, write in enumerate(writes):
                if write.over is not None:
                    before = self.node_of.get(write.over)
                    if before is None:
                        raise HistoryError(f"check_history: T{self.txns[nodes[i]].id} overwrites {write.table} "
                                           f"{write.id} of T{write.over}, which is not in the history")
                    self._add(before, nodes[i], WW, write, None, None)
                elif i:
                    self._add(nodes[i - 1], nodes[i], WW, write, None, None)

    def _reads_edges(self, node: int, txn: TxnRecord) -> None:
        """The edges of everything transaction ``node`` read: its ranges and observed versions."""
        versions = txn.versions
        for k, read in enumerate(txn.reads):
            self._read_edges(node, txn.begin, read, versions[k] if versions else ())
        for seen in txn.observed:
            self._observed_edges(node, seen)

    def _read_edges(self, node: int, snapshot: int, read: KeyRange, versions: ReadVersions) -> None:
        """The edges of one read; ``versions``: the documents it returned, each at the version it saw."""
        if read.is_point:
            chain = self._point_chains().get((read.table, read.lo))
            if chain is not None:
                self._chain_edges(node, snapshot, read, chain, True, versions[0][1] if versions else None)
            return
        if not versions:
            for chain in self._chains_in(read):
                self._chain_edges(node, snapshot, read, chain, False, None)
            return
        returned = dict(versions)
        for chain in self._chains_in(read):
            self._chain_edges(node, snapshot, read, chain, False, returned.get(chain.doc))

    def _chain_edges(self, node: int, snapshot: int, read: KeyRange, chain: _Chain, point: bool,
                     version: int | None) -> None:
        """The wr and rw edges between the reader ``node`` and the writers of one document.

        The hot loop of the checker: ``keys[j]`` is the document's key after its j-th write
        (``keys[0]``: before the first), so the key the reader saw is ``keys[i]``. With a
        recorded ``version`` the reader saw the document (returned it) at that commit;
        without, at its ``snapshot``, and a range read saw it if its key there is inside.
        """
        i = bisect.bisect_right(chain.commits, snapshot if version is None else version)
        writes, nodes = chain.writes, chain.nodes
        lo, hi = read.lo, read.hi
        if point or version is not None:
            seen = True
        else:
            keys, moves = chain.keys(read.index)
            key = keys[i]
            seen = key is not None and lo <= key <= hi
        if seen:   # the reader saw this document: item edges to its version and the next one
            if i:
                self._add(nodes[i - 1], node, WR, writes[i - 1], read, snapshot, False, version)
            if i < len(writes):   # the next version (if the reader wrote it itself: no edge)
                self._add(node, nodes[i], RW_ITEM, writes[i], read, snapshot, False, version)
            return
        if i and (before := keys[i - 1]) is not None and lo <= before <= hi:   # it left the range
            self._add(nodes[i - 1], node, WR, writes[i - 1], read, snapshot, True)
        for j in moves[bisect.bisect_left(moves, i):]:   # the first later write bringing it in
            after = keys[j + 1]
            if after is not None and lo <= after <= hi:
                self._add(node, nodes[j], RW_PREDICATE, writes[j], read, snapshot, True)
                break

    def _observed_edges(self, node: int, seen: VersionRead) -> None:
        """Edges of a version the history says ``node`` observed (not inferred from its snapshot)."""
        reader = self.txns[node]
        writer = self.node_of.get(seen.writer)
        if writer is None:
            raise HistoryError(f"check_history: T{reader.id} observed {seen.table} {seen.id} as written by "
                               f"T{seen.writer}, which is not in the history")
        mine = [w for w in self.txns[writer].writes if w.table == seen.table and w.id == seen.id]
        position = seen.write if seen.write >= 0 else len(mine) - 1
        if not 0 <= position < len(mine):
            raise HistoryError(f"check_history: T{reader.id} observed write {seen.write} of {seen.table} "
                               f"{seen.id} by T{seen.writer}, which wrote it {len(mine)} time(s)")
        recording = self._capture is None
        if self.txns[writer].commit is None:
            if recording:
                self.aborted_reads.append((node, writer, seen))
            return
        if position != len(mine) - 1 and recording:
            self.intermediate_reads.append((node, writer, seen))
        chain = self.chains[seen.table, seen.id]
        self._add(writer, node, WR, mine[position], None, reader.begin)
        i = chain.nodes.index(writer) + 1
        if i < len(chain.nodes):
            self._add(node, chain.nodes[i], RW_ITEM, chain.writes[i], None, reader.begin)

    def _point_chains(self) -> dict[tuple[str, tuple], _Chain]:
        if self._points is None:
            self._points = {}
            for (table, _doc), chain in self.chains.items():
                for write in chain.writes:
                    for key in (write.key_in("by_id", False), write.key_in("by_id", True)):
                        if key is not None:
                            self._points[table, key] = chain
        return self._points

    def _chains_in(self, read: KeyRange) -> list[_Chain]:
        """The documents with a written key (old or new) inside ``read``, each once."""
        place = (read.table, read.index)
        entries = self._ranges.get(place)
        if entries is None:
            entries = self._ranges[place] = self._range_entries(*place)
        keys, chains = entries
        start = bisect.bisect_left(keys, read.lo)
        stop = bisect.bisect_right(keys, read.hi, lo=start)
        if stop - start == 1:
            return [chains[start]]
        return list({id(c): c for c in chains[start:stop]}.values())

    def _range_entries(self, table: str, index: str) -> tuple[list[tuple], list[_Chain]]:
        entries: list[tuple[tuple, int, _Chain]] = []
        for number, ((chain_table, _doc), chain) in enumerate(self.chains.items()):
            if chain_table != table:
                continue
            seen: set[tuple] = set()
            for write in chain.writes:
                for key in (write.key_in(index, False), write.key_in(index, True)):
                    if key is not None and key not in seen:
                        seen.add(key)
                        entries.append((key, number, chain))
        try:
            entries.sort(key=lambda e: (e[0], e[1]))
        except TypeError as exc:
            raise HistoryError(f"check_history: keys of {table}.{index} cannot be ordered: {exc}") from None
        return [e[0] for e in entries], [e[2] for e in entries]

    # -- cycles ---------------------------------------------------------------------------------
    def components(self, mask: int = ALL, nodes: Iterable[int] | None = None) -> list[list[int]]:
        """Strongly connected components with more than one node, over edges of ``mask``
        (restricted to ``nodes``), each sorted, in order of their smallest node (Tarjan, iterative)."""
        allowed = None if nodes is None else set(nodes)
        order = range(len(self.txns)) if allowed is None else sorted(allowed)
        index: dict[int, int] = {}
        low: dict[int, int] = {}
        on_stack: set[int] = set()
        stack: list[int] = []
        found: list[list[int]] = []
        counter = 0
        for root in order:
            if root in index:
                continue
            work = [(root, iter(self.adj[root].items()))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                v, edges = work[-1]
                advanced = False
                for w, kinds in edges:
                    if not kinds & mask or (allowed is not None and w not in allowed):
                        continue
                    if w not in index:
                        index[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on_stack.add(w)
                        work.append((w, iter(self.adj[w].items())))
                        advanced = True
                        break
                    if w in on_stack:
                        low[v] = min(low[v], index[w])
                if advanced:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
        return sorted(found)

    def shortest_path(self, start: int, goal: int, mask: int, nodes: set[int]) -> list[int] | None:
        """The shortest path ``start → … → goal`` over edges of ``mask`` within ``nodes`` (BFS)."""
        parent: dict[int, int] = {start: start}
        queue = deque([start])
        while queue:
            v = queue.popleft()
            for w, kinds in self.adj[v].items():
                if kinds & mask and w in nodes and w not in parent:
                    parent[w] = v
                    if w == goal:
                        path = [w]
                        while path[-1] != start:
                            path.append(parent[path[-1]])
                        return path[::-1]
                    queue.append(w)
        return None

    def cycle_through(self, node: int, mask: int, nodes: set[int]) -> list[int] | None:
        """A shortest cycle through ``node`` (its nodes, ``node`` first) over edges of ``mask``."""
        best: list[int] | None = None
        for w, kinds in self.adj[node].items():
            if kinds & mask and w in nodes:
                path = [node] if w == node else self.shortest_path(w, node, mask, nodes)
                if path is not None and (best is None or len(path) < len(best)):
                    best = [node, *path[:-1]] if w != node else [node]
                    if len(best) == 2:
                        break
        return best

    def edge_kind(self, a: int, b: int, prefer: Sequence[int]) -> int:
        """The kind of edge ``a → b`` to show, the first of ``prefer`` that it has."""
        kinds = self.adj[a][b]
        return next(k for k in prefer if kinds & k)

