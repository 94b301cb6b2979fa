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
``{"table", "id", "writer", "write"}``), a write's ``over``, a read's
``versions`` (``[[document ID, commit timestamp], ...]``: the versions it saw;
files written before reads carried them read as before, every version taken at
the snapshot); ``"commit": null`` marks an aborted transaction.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ..atomic import atomic_path
from ..jsonlines import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LINE_BYTES, check_type, describe, read_lines
from .model import HIGH, LOW, DocWrite, HistoryError, KeyRange, ReadVersions, TxnRecord, VersionRead

FORMAT_VERSION = 1
_HEADER = "convex_sim_history"
#: Default cap on a history file's size: it is read into memory whole.
DEFAULT_MAX_BYTES = 1024 ** 3


def _encode(value: Any) -> Any:
    if type(value) is tuple or type(value) is list:
        return [_encode(x) for x in value]
    if value is HIGH or value is LOW:
        return {"$bound": "high" if value is HIGH else "low"}
    if type(value) is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    return value


def _decode(value: Any, where: str) -> Any:
    """A key (element) from JSON; ``where`` names it (``line 2 reads[0].lo[1]``)."""
    if type(value) is list:
        return tuple(_decode(x, f"{where}[{i}]") for i, x in enumerate(value))
    if type(value) is dict:
        if len(value) == 1 and value.get("$bound") in ("high", "low"):
            return HIGH if value["$bound"] == "high" else LOW
        if len(value) == 1 and "$bytes" in value:
            try:
                return base64.b64decode(check_type(value["$bytes"], "str", where, "$bytes", HistoryError),
                                        validate=True)
            except (binascii.Error, ValueError):
                raise HistoryError(f"{where}: invalid base64 in $bytes: {describe(value['$bytes'])}") from None
        raise HistoryError(f"{where}: a key element must be a value, an array, {{\"$bytes\": ...}} or "
                           f"{{\"$bound\": \"high\"|\"low\"}}, got {describe(value)}")
    return value


def to_json(txn: TxnRecord) -> dict[str, Any]:
    """One transaction as its JSON Lines object."""
    line: dict[str, Any] = {"txn": txn.id, "function": txn.function, "begin": txn.begin, "commit": txn.commit}
    if txn.reads:
        versions = txn.versions or ((),) * len(txn.reads)
        line["reads"] = [{"table": r.table, "index": r.index, "lo": _encode(r.lo), "hi": _encode(r.hi),
                          **({"description": str(r.description)} if r.description else {}),
                          **({"versions": [list(v) for v in seen]} if seen else {})}
                         for r, seen in zip(txn.reads, versions, strict=True)]
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
    """Write ``transactions`` as a JSON Lines history file, atomically (a temporary file
    renamed onto ``path`` when complete); return the path."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({_HEADER: FORMAT_VERSION}) + "\n")
        for txn in transactions:
            handle.write(json.dumps(to_json(txn), sort_keys=True, separators=(",", ":")) + "\n")
    return os.fspath(path)


def load_history(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                 max_depth: int = DEFAULT_MAX_DEPTH) -> list[TxnRecord]:
    """Read a JSON Lines history file (see the module docstring and docs/checking.md). A
    file over ``max_bytes``, a line over ``max_line_bytes`` or nested deeper than
    ``max_depth``, and any malformed line or field are a HistoryError naming the line."""
    name = os.fspath(path)
    with open(name, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise HistoryError(f"{name}: {size} bytes, more than the {max_bytes}-byte limit "
                               "(max_bytes, --max-bytes)")
        return list(read_history(handle, name, max_line_bytes=max_line_bytes, max_depth=max_depth))


def read_history(lines: IO[bytes] | IO[str] | Iterable[bytes | str], name: str = "history", *,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                 max_depth: int = DEFAULT_MAX_DEPTH) -> Iterator[TxnRecord]:
    """Parse history lines (header first); errors name the line and the field."""
    header_seen = False
    for number, obj in read_lines(lines, lambda n: f"{name} line {n}", HistoryError,
                                  max_line_bytes=max_line_bytes, max_depth=max_depth):
        where = f"{name} line {number}"
        if not header_seen:
            if not isinstance(obj, dict) or obj.get(_HEADER) != FORMAT_VERSION:
                raise HistoryError(f"{where}: expected the header {{\"{_HEADER}\": {FORMAT_VERSION}}}, "
                                   f"got {describe(obj)}")
            header_seen = True
            continue
        yield from_json(obj, where)
    if not header_seen:
        raise HistoryError(f"{name}: empty; expected the header {{\"{_HEADER}\": {FORMAT_VERSION}}}")


def from_json(obj: Any, where: str = "transaction") -> TxnRecord:
    """One transaction from its JSON object; every field is checked."""
    _object(obj, where)
    txn_id = _field(obj, "txn", "int", where)
    begin = _field(obj, "begin", "int", where)
    commit = _field(obj, "commit", "int or null", where, required=False)
    function = _field(obj, "function", "str", where, required=False) or ""
    extra = _field(obj, "extra", "object", where, required=False) or {}
    read_list = _list(obj, "reads", where)
    reads = tuple(_read(r, f"{where} reads[{i}]") for i, r in enumerate(read_list))
    versions = tuple(_versions(r, f"{where} reads[{i}]") for i, r in enumerate(read_list))
    writes = tuple(_write(w, f"{where} writes[{i}]") for i, w in enumerate(_list(obj, "writes", where)))
    observed = tuple(_observed(o, f"{where} observed[{i}]") for i, o in enumerate(_list(obj, "observed", where)))
    return TxnRecord(txn_id, function, begin, commit, reads, writes, observed, dict(extra),
                     versions if any(versions) else ())


def _read(r: Any, where: str) -> KeyRange:
    _object(r, where)
    return KeyRange(_field(r, "table", "str", where), _field(r, "index", "str", where),
                    _key(r, "lo", where), _key(r, "hi", where),
                    _field(r, "description", "str", where, required=False) or "")


def _versions(r: dict, where: str) -> ReadVersions:
    """A read's ``versions``: ``[document ID, commit timestamp]`` pairs (none if absent)."""
    pairs = []
    for j, pair in enumerate(_list(r, "versions", where)):
        if not isinstance(pair, list) or len(pair) != 2 or type(pair[0]) is not str or type(pair[1]) is not int:
            raise HistoryError(f"{where} versions[{j}]: expected [document ID, commit timestamp], "
                               f"got {describe(pair)}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _observed(o: Any, where: str) -> VersionRead:
    _object(o, where)
    write = _field(o, "write", "int", where, required=False)
    return VersionRead(_field(o, "table", "str", where), _field(o, "id", "str", where),
                       _field(o, "writer", "int", where), -1 if write is None else write)


def _write(w: Any, where: str) -> DocWrite:
    _object(w, where)
    keys = []
    for j, entry in enumerate(_list(w, "keys", where)):
        if not isinstance(entry, list) or len(entry) != 3 or type(entry[0]) is not str:
            raise HistoryError(f"{where} keys[{j}]: expected [index, old key or null, new key or null], "
                               f"got {describe(entry)}")
        old, new = (None if k is None else _key_value(k, f"{where} keys[{j}][{n}]")
                    for n, k in ((1, entry[1]), (2, entry[2])))
        keys.append((entry[0], old, new))
    over = _field(w, "over", "int or null", where, required=False)
    return DocWrite(_field(w, "table", "str", where), _field(w, "id", "str", where), tuple(keys), over)


def _object(obj: Any, where: str) -> None:
    if not isinstance(obj, dict):
        raise HistoryError(f"{where}: expected an object, got {describe(obj)}")


def _field(obj: dict, name: str, kinds: str, where: str, *, required: bool = True) -> Any:
    if name not in obj:
        if required:
            raise HistoryError(f"{where}: missing field {name!r} ({kinds})")
        return None
    return check_type(obj[name], kinds, where, name, HistoryError)


def _list(obj: dict, name: str, where: str) -> list:
    return _field(obj, name, "array", where, required=False) or []


def _key(obj: dict, name: str, where: str) -> tuple:
    return _key_value(_field(obj, name, "array", where), f"{where}.{name}")


def _key_value(value: Any, where: str) -> tuple:
    if not isinstance(value, list):
        raise HistoryError(f"{where}: expected a key (array), got {describe(value)}")
    return _decode(value, where)
