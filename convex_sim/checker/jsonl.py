"""Histories as JSON Lines (docs/checking.md): a header line, then one transaction a line.

::

    {"convex_sim_history": 1}
    {"txn": 3, "function": "bank:debit", "begin": 2, "commit": 3,
     "reads": [{"table": "accounts", "index": "by_owner", "lo": [[5, "ada"]],
                "hi": [[5, "ada"], {"$bound": "high"}]}],
     "writes": [{"table": "accounts", "id": "j57…", "keys": [["by_id", [[5, "j57…"]], [[5, "j57…"]]]]}]}

Keys are arrays compared element by element (arrays as tuples); ``{"$bytes":
base64}`` is a bytes element; ``{"$bound": "high"}`` / ``"low"`` end a bound.
Optional fields: ``reads``, ``writes``, ``observed`` (versions read explicitly:
``{"table", "id", "writer", "write"}``), a write's ``over``; ``"commit": null``
marks an aborted transaction.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

from .model import HIGH, LOW, DocWrite, HistoryError, KeyRange, TxnRecord, VersionRead

FORMAT_VERSION = 1
_HEADER = "convex_sim_history"


def _encode(value: Any) -> Any:
    if type(value) is tuple or type(value) is list:
        return [_encode(x) for x in value]
    if value is HIGH or value is LOW:
        return {"$bound": "high" if value is HIGH else "low"}
    if type(value) is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    return value


def _decode(value: Any, where: str) -> Any:
    if type(value) is list:
        return tuple(_decode(x, where) for x in value)
    if type(value) is dict:
        if value.get("$bound") in ("high", "low"):
            return HIGH if value["$bound"] == "high" else LOW
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        raise HistoryError(f"{where}: a key element must be a value, an array, {{\"$bytes\": ...}} or "
                           f"{{\"$bound\": \"high\"|\"low\"}}, got {value!r}")
    return value


def to_json(txn: TxnRecord) -> dict[str, Any]:
    """One transaction as its JSON Lines object."""
    line: dict[str, Any] = {"txn": txn.id, "function": txn.function, "begin": txn.begin, "commit": txn.commit}
    if txn.reads:
        line["reads"] = [{"table": r.table, "index": r.index, "lo": _encode(r.lo), "hi": _encode(r.hi),
                          **({"description": str(r.description)} if r.description else {})} for r in txn.reads]
    if txn.writes:
        line["writes"] = [{"table": w.table, "id": w.id, "keys": [[i, _encode(o), _encode(n)] for i, o, n in w.keys],
                           **({"over": w.over} if w.over is not None else {})} for w in txn.writes]
    if txn.observed:
        line["observed"] = [{"table": o.table, "id": o.id, "writer": o.writer, "write": o.write}
                            for o in txn.observed]
    if txn.extra:
        line["extra"] = txn.extra
    return line


def dump_history(transactions: Iterable[TxnRecord], path: str | os.PathLike[str]) -> str:
    """Write ``transactions`` as a JSON Lines history file; return the path."""
    target = os.fspath(path)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({_HEADER: FORMAT_VERSION}) + "\n")
        for txn in transactions:
            handle.write(json.dumps(to_json(txn), sort_keys=True, separators=(",", ":")) + "\n")
    return target


def load_history(path: str | os.PathLike[str]) -> list[TxnRecord]:
    """Read a JSON Lines history file (see the module docstring and docs/checking.md)."""
    with open(os.fspath(path), encoding="utf-8") as handle:
        return list(read_history(handle, os.fspath(path)))


def read_history(lines: IO[str] | Iterable[str], name: str = "history") -> Iterator[TxnRecord]:
    """Parse history lines (header first); errors name the line and the field."""
    header_seen = False
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"{name} line {number}"
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise HistoryError(f"{where}: not JSON ({exc})") from None
        if not header_seen:
            if not isinstance(obj, dict) or obj.get(_HEADER) != FORMAT_VERSION:
                raise HistoryError(f"{where}: expected the header {{\"{_HEADER}\": {FORMAT_VERSION}}}, got {text.strip()[:80]}")
            header_seen = True
            continue
        yield from_json(obj, where)
    if not header_seen:
        raise HistoryError(f"{name}: empty; expected the header {{\"{_HEADER}\": {FORMAT_VERSION}}}")


def from_json(obj: Any, where: str = "transaction") -> TxnRecord:
    """One transaction from its JSON object."""
    if not isinstance(obj, dict):
        raise HistoryError(f"{where}: expected an object, got {obj!r}")
    txn_id = _field(obj, "txn", int, where)
    begin = _field(obj, "begin", int, where)
    commit = obj.get("commit")
    if commit is not None and type(commit) is not int:
        raise HistoryError(f"{where}: field 'commit' expected an int or null, got {commit!r}")
    reads = tuple(KeyRange(_field(r, "table", str, f"{where} reads[{i}]"), _field(r, "index", str, f"{where} reads[{i}]"),
                           _key(r, "lo", f"{where} reads[{i}]"), _key(r, "hi", f"{where} reads[{i}]"),
                           r.get("description", ""))
                  for i, r in enumerate(_list(obj, "reads", where)))
    writes = tuple(_write(w, f"{where} writes[{i}]") for i, w in enumerate(_list(obj, "writes", where)))
    observed = tuple(VersionRead(_field(o, "table", str, f"{where} observed[{i}]"), _field(o, "id", str, f"{where} observed[{i}]"),
                                 _field(o, "writer", int, f"{where} observed[{i}]"), o.get("write", -1))
                     for i, o in enumerate(_list(obj, "observed", where)))
    return TxnRecord(txn_id, str(obj.get("function", "")), begin, commit, reads, writes, observed,
                     dict(obj.get("extra") or {}))


def _write(w: Any, where: str) -> DocWrite:
    keys = []
    for j, entry in enumerate(_list(w, "keys", where)):
        if not isinstance(entry, list) or len(entry) != 3 or type(entry[0]) is not str:
            raise HistoryError(f"{where} keys[{j}]: expected [index, old key or null, new key or null], got {entry!r}")
        keys.append((entry[0], None if entry[1] is None else _decode(entry[1], where),
                     None if entry[2] is None else _decode(entry[2], where)))
    over = w.get("over")
    if over is not None and type(over) is not int:
        raise HistoryError(f"{where}: field 'over' expected a transaction id (int), got {over!r}")
    return DocWrite(_field(w, "table", str, where), _field(w, "id", str, where), tuple(keys), over)


def _field(obj: Any, name: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict) or name not in obj:
        raise HistoryError(f"{where}: missing field {name!r} ({kind.__name__})")
    value = obj[name]
    if type(value) is not kind:
        raise HistoryError(f"{where}: field {name!r} expected {kind.__name__}, got {value!r}")
    return value


def _list(obj: dict, name: str, where: str) -> list:
    value = obj.get(name, [])
    if not isinstance(value, list):
        raise HistoryError(f"{where}: field {name!r} expected an array, got {value!r}")
    return value


def _key(obj: dict, name: str, where: str) -> tuple:
    value = obj.get(name)
    if not isinstance(value, list):
        raise HistoryError(f"{where}: field {name!r} expected a key (array), got {value!r}")
    return _decode(value, where)
