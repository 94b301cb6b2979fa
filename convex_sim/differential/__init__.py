"""Differential testing against convex-test: the same TypeScript app, the same calls, both
simulators, answers compared.

convex-test (the `convex-test` npm package, run by vitest under node) and convex-sim
each run every call sequence from a fresh deployment, one call at a time — function
calls, clock advances that run due scheduled functions, "finish all scheduled functions",
HTTP requests (:mod:`.calls`); then each call's outcome and every table's final documents
(``_scheduled_functions`` too, when listed) are compared after normalising what
legitimately differs: document IDs (renamed by order of first appearance, also inside
strings) and ``_creationTime`` values (by rank). A ``ConvexError`` must carry equal data
on both sides; any other error only has to be an error on both sides (messages differ).
Both clocks start at the same instant and move only when a sequence says so.

convex-test runs calls one at a time and has no OCC, so only sequential behaviour is
compared. Where convex-test departs from Convex's documented behaviour, convex-sim
follows Convex: such cases are listed in docs/conformance.md.

The peer is installed from ``conformance/differential/package-lock.json`` (pinned).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..clock import DEFAULT_START_MS
from ..errors import ConvexSimError
from ..js.abi import system_json
from ..sim import ConvexSim
from ..values import to_json
from .calls import (
    SCHEDULED_FUNCTIONS,
    Call,
    describe,
    drop_call,
    encode_args,
    result_ref,
    run_sequence,
)
from .departures import DEPARTURES, Departure

RUNNER = Path(__file__).with_name("runner.test.js")
VITEST_CONFIG = 'export default { test: { environment: "edge-runtime", testTimeout: 600000 } };\n'


@dataclass
class Mismatch:
    """A sequence on which the two simulators disagree, and where."""

    sequence: list[Call]
    where: str                    # "call 3" or "table accounts"
    convex_sim: Any
    convex_test: Any

    def __str__(self) -> str:
        calls = "\n".join(f"  {i}. {describe(c)}" for i, c in enumerate(self.sequence, start=1))
        return (f"convex-sim and convex-test disagree at {self.where} of:\n{calls}\n"
                f"  convex-sim:  {json.dumps(self.convex_sim)}\n  convex-test: {json.dumps(self.convex_test)}")


@dataclass
class DifferentialResult:
    """What a differential run compared and what it found."""

    sequences: int
    calls: int
    mismatches: list[Mismatch] = field(default_factory=list)
    departures: dict[str, int] = field(default_factory=dict)   # known departure -> times seen

    @property
    def ok(self) -> bool:
        return not self.mismatches


# --- the two sides --------------------------------------------------------------------------


def _encode_calls(sequence: Sequence[Call]) -> list[dict]:
    return [{**call, "args": encode_args(call.get("args") or {})} for call in sequence]


class ConvexTestRunner:
    """convex-test in a workspace: the pinned peer installation plus a copy of the app's
    ``convex/`` folder; :meth:`run` runs many sequences in one vitest process."""

    def __init__(self, project: str | os.PathLike[str], peer: str | os.PathLike[str]) -> None:
        self.project, self.peer = Path(project), Path(peer)
        if not (self.peer / "node_modules" / "convex-test").is_dir():
            raise ConvexSimError(f"convex-test is not installed in {self.peer}: run `npm ci` there.")

    def run(self, sequences: Sequence[Sequence[Call]], tables: Sequence[str]) -> list[dict]:
        with tempfile.TemporaryDirectory(prefix="convex-differential-") as tmp:
            work = Path(tmp)
            shutil.copytree(self.project / "convex", work / "convex")
            (work / "node_modules").symlink_to(self.peer.resolve() / "node_modules")
            shutil.copy(self.peer / "package.json", work / "package.json")
            shutil.copy(RUNNER, work / "differential.test.js")
            (work / "vitest.config.js").write_text(VITEST_CONFIG)
            source, target = work / "input.json", work / "output.json"
            source.write_text(json.dumps({"tables": list(tables), "startTime": DEFAULT_START_MS,
                                          "sequences": [_encode_calls(s) for s in sequences]}))
            proc = subprocess.run(
                ["npx", "vitest", "run", "differential.test.js"], cwd=work, capture_output=True, text=True,
                check=False, env={**os.environ, "DIFF_INPUT": str(source), "DIFF_OUTPUT": str(target),
                                  "NO_COLOR": "1", "VITE_CONFIG_NATIVE_IGNORE_WARNING": "true"})
            if proc.returncode != 0 or not target.exists():
                raise ConvexSimError(f"convex-test run failed (exit {proc.returncode}):\n"
                                     f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            return json.loads(target.read_text())


def run_convex_sim(project: str | os.PathLike[str], sequences: Sequence[Sequence[Call]],
                   tables: Sequence[str], *, seed: int = 0) -> list[dict]:
    """The same sequences through convex-sim, in the runner's output shape (Convex JSON)."""
    out = []
    for sequence in sequences:
        sim = ConvexSim.from_project(project, seed=seed, start_time_ms=DEFAULT_START_MS)
        results = run_sequence(sim, sequence)
        user = [name for name in tables if name != SCHEDULED_FUNCTIONS]
        dump = sim.run(lambda ctx, user=user: {name: to_json(ctx.db.query(name).collect()) for name in user})
        if SCHEDULED_FUNCTIONS in tables:
            dump[SCHEDULED_FUNCTIONS] = system_json(sim.scheduled())
        out.append({"results": results, "tables": {name: dump[name] for name in tables}})
    return out


# --- normalising and comparing ------------------------------------------------------------------


#: Pagination cursors are opaque by contract (Convex encrypts them): only their presence counts.
_OPAQUE = frozenset({"continueCursor", "splitCursor"})
#: Where an ID may sit inside a string ("3 of <id>"): between these.
_WORDS = re.compile(r"([\s,:;()\[\]{}\"']+)")


def _media_type(value: Any) -> Any:
    """A Content-Type as compared: case and spaces between parameters do not count (RFC 9110
    section 8.3.1: ``text/plain;charset=UTF-8`` is ``text/plain; charset=utf-8``)."""
    return value.replace(" ", "").lower() if isinstance(value, str) else value


def _failed_state(value: dict) -> bool:
    """A scheduled function's ``state`` of a failed run: its error text is each side's own."""
    return value.get("kind") == "failed" and set(value) <= {"kind", "error"}


def _normalise(outcome: dict, is_id: Callable[[str], bool]) -> dict:
    """IDs renamed ``id1``, ``id2``, ... by first appearance (results, then tables by name);
    ``_creationTime`` replaced by the document's rank in its table at the end (creation times
    only promise order within a table); numbers as floats; error messages dropped."""
    names: dict[str, str] = {}
    ranks: dict[str, str] = {}
    for docs in outcome["tables"].values():
        ordered = sorted((d["_creationTime"], d["_id"]) for d in docs)
        ranks.update({doc_id: f"t{i}" for i, (_t, doc_id) in enumerate(ordered)})

    def rename(text: str) -> str:
        return names.setdefault(text, f"id{len(names) + 1}") if is_id(text) else text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return rename(value) if is_id(value) else "".join(map(rename, _WORDS.split(value)))
        if isinstance(value, dict):
            if _failed_state(value):
                return {"kind": "failed"}
            out = {k: ("<cursor>" if k in _OPAQUE and x is not None else
                       _media_type(x) if k == "contentType" else walk(x))
                   for k, x in sorted(value.items()) if k != "_creationTime"}
            if "_creationTime" in value:
                out["_creationTime"] = ranks.get(value.get("_id"), "t?")
            return out
        if isinstance(value, list):
            return [walk(x) for x in value]
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    results = [{"error": True} if "error" in r else walk(r) for r in outcome["results"]]
    return {"results": results, "tables": {t: walk(outcome["tables"][t]) for t in sorted(outcome["tables"])}}


def _sim_id(sim_ids: Callable[[str], str | None]) -> Callable[[str], bool]:
    return lambda text: sim_ids(text) is not None


def _peer_ids(tables: Sequence[str]) -> Callable[[str], bool]:
    """convex-test's IDs: a zero-padded counter followed by the table name."""
    names = (*tables, "_storage", "_scheduled_functions")

    def is_id(text: str) -> bool:
        return any(text.endswith(t) and len(text) > len(t) and text[:-len(t)].isdigit() for t in names)

    return is_id


def compare(sequences: Sequence[Sequence[Call]], ours: list[dict], theirs: list[dict],
            is_our_id: Callable[[str], bool], tables: Sequence[str],
            is_their_id: Callable[[str], bool] | None = None,
            departures: dict[str, int] | None = None) -> list[Mismatch]:
    """The first disagreement of each sequence (a call's outcome, else a table). IDs are
    recognised by ``is_our_id`` and ``is_their_id`` (default: convex-test's IDs). A
    disagreement that a known :data:`DEPARTURES` entry explains is counted in ``departures``:
    one that explains a call's outcome ends that sequence's comparison; one that reconciles a
    difference (everywhere in the outcome) lets it go on."""
    mismatches = []
    is_peer_id = is_their_id or _peer_ids(tables)
    for sequence, a, b in zip(sequences, ours, theirs, strict=True):
        na, nb = _normalise(a, is_our_id), _normalise(b, is_peer_id)
        while (found := _first_difference(sequence, na, nb)) is not None:
            where, call, x, y = found
            used, x, y = _reconciling(x, y)
            known = None if x == y else next(
                (d for d in DEPARTURES if d.explains is not None and call is not None and d.explains(call, x, y)), None)
            if x != y and known is None:
                mismatches.append(Mismatch(list(sequence), where, found[2], found[3]))
                break
            for departure in [*used, *([known] if known else [])]:
                if departures is not None:
                    departures[departure.name] = departures.get(departure.name, 0) + 1
            if known is not None:
                break
            for departure in used:
                na, nb = departure.reconcile(na, nb)
    return mismatches


def _reconciling(x: Any, y: Any) -> tuple[list[Departure], Any, Any]:
    """The departures that reconcile part of how ``x`` and ``y`` differ, and both values
    with those parts reconciled."""
    used = []
    for departure in DEPARTURES:
        if departure.reconcile is None:
            continue
        a, b = departure.reconcile(x, y)
        if (a, b) != (x, y):
            used.append(departure)
            x, y = a, b
    return used, x, y


def _first_difference(sequence: Sequence[Call], na: dict, nb: dict) -> tuple[str, Call | None, Any, Any] | None:
    """Where two normalised outcomes first differ: (``"call 3"``, the call, both outcomes) or
    (``"table accounts"``, None, both tables' documents)."""
    for i, (x, y) in enumerate(zip(na["results"], nb["results"], strict=True), start=1):
        if x != y:
            return f"call {i}", sequence[i - 1], x, y
    return next(((f"table {t}", None, na["tables"][t], nb["tables"].get(t)) for t in na["tables"]
                 if na["tables"][t] != nb["tables"].get(t)), None)


def differential(project: str | os.PathLike[str], sequences: Sequence[Sequence[Call]],
                 tables: Sequence[str], *, peer: str | os.PathLike[str], shrink: int = 5) -> DifferentialResult:
    """Run ``sequences`` on both simulators and compare; the first ``shrink`` mismatches are
    shrunk (calls removed while the disagreement stays; each round is one peer run)."""
    runner = ConvexTestRunner(project, peer)
    sim_ids = ConvexSim.from_project(project).db.table_of_id
    is_ours = _sim_id(sim_ids)

    def disagreements(batch: Sequence[Sequence[Call]], seen: dict[str, int] | None = None) -> list[Mismatch]:
        return compare(batch, run_convex_sim(project, batch, tables), runner.run(batch, tables), is_ours,
                       tables, departures=seen)

    seen: dict[str, int] = {}
    found = disagreements(sequences, seen)
    found = [_shrink(m, disagreements) for m in found[:shrink]] + found[shrink:]
    return DifferentialResult(len(sequences), sum(len(s) for s in sequences), found, seen)


def _shrink(mismatch: Mismatch, disagreements: Callable[[Sequence[Sequence[Call]]], list[Mismatch]]) -> Mismatch:
    """Remove calls one at a time while both sides still disagree (each round one batch);
    references to later results are renumbered (:func:`.calls.drop_call`)."""
    current = mismatch
    while len(current.sequence) > 1:
        candidates = [drop_call(current.sequence, i) for i in range(len(current.sequence))]
        smaller = disagreements(candidates)
        if not smaller:
            return current
        current = smaller[0]
    return current


__all__ = ["DEPARTURES", "Call", "ConvexTestRunner", "Departure", "DifferentialResult", "Mismatch", "compare",
           "differential", "result_ref", "run_convex_sim"]
