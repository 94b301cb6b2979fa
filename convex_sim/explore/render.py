"""Rendering: the coalesced timeline of a schedule, and its HTML page."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import Protocol

from ..atomic import write_atomically
from ..database import ReadRange
from .ops import Flow, Op, op_letter
from .records import StepRecord
from .shrinking import switches


class Example(Protocol):
    """What a timeline shows of a failing schedule (a ``Counterexample`` is one)."""

    schedule: str
    reason: str
    steps: list[StepRecord]
    ops: list[Op | Flow]
    seed: int
    kind: str


def coalesce(records: Sequence[StepRecord]) -> list[StepRecord]:
    """Merge each mutation's begin with its commit (or conflict) when nothing ran in between:
    from everyone else's point of view that pair is one atomic step. Steps keep the engine's
    numbering (one per letter of the schedule string): a merged pair spans ``number``..``last``."""
    out: list[StepRecord] = []
    i = 0
    while i < len(records):
        r = records[i]
        nxt = records[i + 1] if i + 1 < len(records) else None
        if (r.kind == "begin" and nxt is not None and nxt.op == r.op and nxt.function == r.function
                and nxt.kind in ("commit", "conflict")):
            kind = "mutation" if nxt.kind == "commit" else "conflict"
            out.append(StepRecord(i + 1, r.op, kind, r.function, r.snapshot_ts, nxt.commit_ts,
                                  nxt.reads, nxt.writes, r.pending, nxt.result or r.result,
                                  r.orders_everything or nxt.orders_everything, last=i + 2))
            i += 2
            continue
        out.append(StepRecord(i + 1, r.op, r.kind, r.function, r.snapshot_ts, r.commit_ts,
                              r.reads, r.writes, r.pending, r.result, r.orders_everything))
        i += 1
    return out


def _describe_reads(reads: Sequence[ReadRange]) -> str:
    seen = []
    for read in reads:
        text = str(read)
        if text not in seen:
            seen.append(text)
    return "; ".join(seen[:3]) + (f"; +{len(seen) - 3} more" if len(seen) > 3 else "")


def _describe_writes(record: StepRecord) -> str:
    if record.writes:
        return "; ".join(f"{w.kind} {w.table} {w.id[:8]}…" for w in record.writes[:3]) + (
            f"; +{len(record.writes) - 3} more" if len(record.writes) > 3 else "")
    if record.pending:
        return "buffers " + "; ".join(f"{t} {i[:8]}…" for t, i in record.pending[:3])
    return ""


def render_timeline(example: Example) -> str:
    """The numbered timeline of a counterexample, then the failure and the replay line."""
    return timeline(example.schedule, example.steps, example.ops, example.reason, example.kind, example.seed)


def timeline(schedule: str, steps: Sequence[StepRecord], op_list: Sequence[Op | Flow],
             reason: str | None, kind: str, seed: int) -> str:
    """The numbered timeline of a schedule's steps; ``reason`` None: it passed."""
    ops = ", ".join(f"{op_letter(i)} = {op.label}" for i, op in enumerate(op_list))
    engine_steps = steps[-1].end if steps else 0   # as many as the schedule string has letters
    lines = [f"Schedule {schedule!r} ({engine_steps} steps, "
             f"{switches([s.op for s in steps])} context switches)   ops: {ops}"]
    for s in steps:
        ts = f"snapshot {s.snapshot_ts}" if s.snapshot_ts is not None else ""
        if s.commit_ts is not None:
            ts += f" → commit {s.commit_ts}"
        number = f"{s.number}–{s.last}" if s.last else f"{s.number}"
        lines.append(f"  {number + '.':>6} {op_letter(s.op)}  {s.kind:<9} {s.function:<30} {ts}")
        if s.reads:
            lines.append(f"        reads  {_describe_reads(s.reads)}")
        writes = _describe_writes(s) if s.kind != "mutation" or s.writes else ""
        if writes:
            lines.append(f"        writes {writes}")
        if s.result:
            lines.append(f"        → {s.result}")
    if reason is None:
        lines.append("OK")
    else:
        where = f" (after step {steps[-1].end})" if kind == "invariant" and steps else ""
        lines.append(f"FAILED{where}: {reason}")
    lines.append(f"seed {seed}; replay: sim.replay_schedule({schedule!r})")
    return "\n".join(lines)


def render_html(example: Example, path: str | os.PathLike[str]) -> str:
    """Write a self-contained HTML timeline (one column per op), atomically; return the path."""
    n = len(example.ops)
    head = "".join(f"<th>{op_letter(i)}<br><small>{html.escape(op.label)}</small></th>" for i, op in enumerate(example.ops))
    rows = []
    writers: dict[tuple[str, str], int] = {}
    for s in example.steps:
        cells = []
        for i in range(n):
            if i != s.op:
                cells.append("<td></td>")
                continue
            links = []
            for read in s.reads:
                for key, step_no in writers.items():
                    if key[0] == read.table:
                        links.append(f"reads from step {step_no}")
                        break
            for w in s.writes:
                if (w.table, w.id) in writers:
                    links.append(f"overwrites step {writers[(w.table, w.id)]}")
            detail = "<br>".join(html.escape(x) for x in [
                f"{s.kind} {s.function}",
                f"snapshot {s.snapshot_ts}" if s.snapshot_ts is not None else "",
                f"commit {s.commit_ts}" if s.commit_ts is not None else "",
                _describe_reads(s.reads) and "reads " + _describe_reads(s.reads),
                _describe_writes(s) and "writes " + _describe_writes(s),
                f"→ {s.result}" if s.result else "", *[f"↳ {x}" for x in dict.fromkeys(links)]] if x)
            cells.append(f'<td class="step">{detail}</td>')
        for w in s.writes:
            writers[(w.table, w.id)] = s.number
        rows.append(f"<tr><th>{s.number}</th>{''.join(cells)}</tr>")
    document = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>convex-sim counterexample {html.escape(example.schedule)}</title>
<style>
body {{ font: 13px system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }}
td.step {{ background: #eef5ff; }} .fail {{ color: #b00; font-weight: bold; margin-top: 1em; }}
</style></head><body>
<h1>Schedule {html.escape(example.schedule)}</h1>
<table><tr><th>#</th>{head}</tr>{''.join(rows)}</table>
<p class="fail">FAILED: {html.escape(example.reason)}</p>
<p><code>seed {example.seed}; replay: sim.replay_schedule({html.escape(repr(example.schedule))})</code></p>
</body></html>
"""
    return write_atomically(path, document)
