"""Checking documents that arrive whole, with their own ``_id`` and ``_creationTime`` (a
snapshot export, an import): the ID decodes, belongs to the row's table and is new, the
creation time is a finite number. Each problem is a sentence: the field, what was expected,
what came.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..ids import decode_table_number
from ..values import format_value

#: A field that is not there (``got nothing``).
MISSING: Any = object()
STORAGE = "_storage"


def describe(value: Any) -> str:
    """``value`` as a message shows what came: ``'x'``, ``5.0``, ``null``, ``36 (an int64)``."""
    if value is MISSING:
        return "nothing"
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return f"{value} (an int64)"
    if type(value) is list:
        return f"an array ({format_value(value, 40)})"
    if type(value) is dict:
        return f"an object ({format_value(value, 40)})"
    return format_value(value, 60)


def creation_time_problem(value: Any) -> str | None:
    """What is wrong with ``value`` as a ``_creationTime`` (a finite float64), or None."""
    if type(value) is float and math.isfinite(value):
        return None
    return f"field _creationTime: expected a finite number (ms since the epoch), got {describe(value)}"


class IdChecker:
    """Checks the ``_id`` of each row of one import: an ID string of the row's table, not seen
    before in the import, and not in the database already (unless ``allow_existing``: rows
    that update documents; an ID the database already files under the row's table passes).

    ``numbers`` maps a table to the number its IDs carry (a snapshot's own numbering; by default
    the database's); a table missing there takes the number of its first row's ID. An ID
    carrying another table's number is refused; one carrying a number no table has passes
    (documents loaded from elsewhere keep the numbers of the deployment they came from)."""

    def __init__(self, db: Any, numbers: Mapping[str, int] | None = None, *,
                 allow_existing: bool = False) -> None:
        self.db, self.allow_existing = db, allow_existing
        self.numbers = dict(numbers) if numbers is not None else {
            name: number for name, (number, _definition) in db._declared.items()}
        self.names = {number: name for name, number in self.numbers.items()}
        self.seen: dict[str, str] = {}   # ID -> where it came first

    def _expected(self, table: str) -> str:
        if table == STORAGE and table not in self.numbers:
            return "an ID of a file"
        number = self.numbers.get(table)
        return f'an ID of table "{table}"' + ("" if number is None else f" (table number {number})")

    def problem(self, table: str, doc_id: Any, where: str) -> str | None:
        """What is wrong with ``doc_id`` as the ID of a new row of ``table`` from ``where``."""
        if type(doc_id) is not str:
            return f"field _id: expected an ID (a string), got {describe(doc_id)}"
        number = decode_table_number(doc_id)
        if number is None:
            return f"field _id: expected {self._expected(table)}, got {describe(doc_id)}, which is not an ID"
        wanted = self.numbers.get(table)
        if number != wanted:
            owner = self.names.get(number)
            if owner is not None and not (self.allow_existing and self.db._id_tables.get(doc_id) == table):
                return f'field _id: expected {self._expected(table)}, got an ID of table "{owner}" ({number})'
            if wanted is None:   # learned from the table's first row
                self.numbers[table], self.names[number] = number, table
        if doc_id in self.seen:
            return f"field _id: expected a new ID, got {describe(doc_id)}, already at {self.seen[doc_id]}"
        if not self.allow_existing:
            holder = self._holder(doc_id)
            if holder is not None:
                return f'field _id: expected a new ID, got {describe(doc_id)}, which exists in table "{holder}"'
        self.seen[doc_id] = where
        return None

    def _holder(self, doc_id: str) -> str | None:
        """The table holding a live document ``doc_id`` in the database, if one does."""
        db = self.db
        name = db.table_of_id(doc_id)
        table = db._tables.get(name) if name is not None else None
        version = table.visible(doc_id, db.latest_ts) if table is not None else None
        return name if version is not None and version[1] is not None else None
