"""Canonical outcomes (modulo allocated IDs), serial-order candidates, differences for humans."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..values import format_value, sort_key
from .ops import op_letter
from .records import StepRecord


def canonical_outcome(results: list, state: dict[str, list[dict]], initial_ids: frozenset[str],
               is_id: Callable[[str], bool]) -> str:
    """A string equal for outcomes that differ only in the IDs and creation times allocated."""
    labels: dict[str, str] = {}

    def relabel(value: Any) -> Any:
        t = type(value)
        if t is str:
            if value in labels:
                return labels[value]
            return value
        if t is list:
            return [relabel(x) for x in value]
        if t is dict:
            return {k: relabel(x) for k, x in value.items()}
        return value

    def visit(value: Any) -> None:
        t = type(value)
        if t is str and value not in initial_ids and value in new_ids and value not in labels:
            labels[value] = f"<new {len(labels) + 1}>"
        elif t is list:
            for x in value:
                visit(x)
        elif t is dict:
            for k in sorted(value):
                visit(value[k])

    new_ids = {d["_id"] for rows in state.values() for d in rows if d["_id"] not in initial_ids}
    new_ids |= {x for x in _strings_in(results) - initial_ids if is_id(x)}
    visit(results)
    tables = {}
    for name in sorted(state):
        rows = [_strip(d, initial_ids) for d in state[name]]
        # Rows in an order allocation cannot change: IDs already labelled (from the results
        # or earlier tables) as their labels, the others masked.
        masked = sorted(rows, key=lambda d: sort_key(_mask(relabel(d), new_ids - labels.keys())))
        for row in masked:
            visit(row)
        tables[name] = sorted((relabel(r) for r in masked), key=sort_key)
    return json.dumps({"results": relabel(results), "state": tables}, sort_keys=True, default=repr)


def _strings_in(value: Any) -> set[str]:
    if type(value) is str:
        return {value}
    if type(value) is list:
        return set().union(*(_strings_in(x) for x in value)) if value else set()
    if type(value) is dict:
        return set().union(*(_strings_in(x) for x in value.values())) if value else set()
    return set()


def _strip(doc: dict, initial_ids: frozenset[str]) -> dict:
    """Drop what only allocation order decides: a new document's creation time, job timing."""
    out = dict(doc)
    if doc["_id"] not in initial_ids:
        out.pop("_creationTime", None)
    out.pop("scheduled_time", None)
    out.pop("completed_time", None)
    return out


def _mask(value: Any, new_ids: set[str]) -> Any:
    t = type(value)
    if t is str:
        return "?" if value in new_ids else value
    if t is list:
        return [_mask(x, new_ids) for x in value]
    if t is dict:
        return {k: _mask(x, new_ids) for k, x in value.items()}
    return value


def guided_orders(records: Sequence[StepRecord], n: int) -> list[tuple[int, ...]]:
    """Serial orders of ``n`` ops suggested by a schedule's steps: by each op's last commit,
    by its first step."""
    last_commit: dict[int, int] = {}
    first_step: dict[int, int] = {}
    for record in records:
        first_step.setdefault(record.op, record.number)
        if record.commit_ts is not None or record.kind in ("commit", "query"):
            last_commit[record.op] = record.number
    by_commit = tuple(sorted(range(n), key=lambda i: (last_commit.get(i, 0), i)))
    by_start = tuple(sorted(range(n), key=lambda i: (first_step.get(i, 0), i)))
    return [by_commit, by_start]


def topological_orders(records: Sequence[StepRecord], n: int) -> Iterable[tuple[int, ...]]:
    """Orders consistent with the conflict graph of a schedule's steps (a → b when a step of b
    came after a dependent step of a)."""
    edges: dict[int, set[int]] = {i: set() for i in range(n)}
    for i, a in enumerate(records):
        for b in records[i + 1:]:
            if a.op != b.op and a.depends_on(b):
                edges[a.op].add(b.op)

    def extend(order: list[int], remaining: set[int]) -> Iterable[tuple[int, ...]]:
        if not remaining:
            yield tuple(order)
            return
        ready = sorted(i for i in remaining if not any(i in edges[j] for j in remaining if j != i))
        for i in ready or sorted(remaining):
            yield from extend([*order, i], remaining - {i})

    return extend([], set(range(n)))


def difference(a: str, b: str) -> str:
    """The first differing parts of two canonical outcomes, for humans."""
    try:
        da, db = json.loads(a), json.loads(b)
    except ValueError:
        return "the outcomes"
    diffs: list[str] = []
    for i, (ra, rb) in enumerate(zip(da["results"], db["results"], strict=False)):
        if ra != rb:
            diffs.append(f"result of {op_letter(i)} {_short(ra)} vs {_short(rb)}")
    for table in sorted(set(da["state"]) | set(db["state"])):
        rows_a, rows_b = da["state"].get(table, []), db["state"].get(table, [])
        if rows_a != rows_b:
            diffs.append(_table_difference(table, rows_a, rows_b))
    return "; ".join(diffs[:3]) or "nothing visible"


def _table_difference(table: str, rows_a: list[dict], rows_b: list[dict]) -> str:
    if len(rows_a) != len(rows_b):
        return f"{table} has {len(rows_a)} rows vs {len(rows_b)}"
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        for key in sorted(set(row_a) | set(row_b)):
            if row_a.get(key) != row_b.get(key):
                who = row_a.get("_id", "?")
                return f"{table}[{who}].{key} {format_value(row_a.get(key))} vs {format_value(row_b.get(key))}"
    return f"{table} differs"


def _short(value: Any) -> str:
    """An op's canonical result (``["ok", x]``, ``["ConvexError", data]``, ...) for humans."""
    if isinstance(value, list) and len(value) == 2:
        tag, payload = value
        if tag == "ok":
            return format_value(payload, 50)
        if tag == "ConvexError":
            return f"ConvexError({format_value(payload, 50)})"
        return f"{payload}"
    return format_value(value, 50)
