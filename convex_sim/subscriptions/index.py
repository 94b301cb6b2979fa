"""The range index: which query instances a commit's writes touch."""

from __future__ import annotations

from typing import Any

from ..database import ReadRange, _Bound

# --- The range index -------------------------------------------------------------------------


class RangeIndex:
    """Which query instances read a given index key, without looking at the others.

    Ranges are bucketed by their first key element when both ends share it
    (an ``eq`` on the first index field, or a ``db.get``: nearly every query);
    the rest ("wide" ranges, like a full table scan) sit in a short list that
    every lookup checks. ``visited`` counts the ranges compared.
    """

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], dict[Any, dict[int, list[ReadRange]]]] = {}
        self._wide: dict[tuple[str, str], dict[int, list[ReadRange]]] = {}
        self.visited = 0

    @staticmethod
    def _bucket(read: ReadRange) -> Any:
        lo, hi = read.lo, read.hi
        if lo and len(hi) >= 1 and not isinstance(lo[0], _Bound) and lo[0] == hi[0]:
            return lo[0]
        return None

    def add(self, owner: int, reads: list[ReadRange]) -> None:
        for read in reads:
            place = (read.table, read.index)
            bucket = self._bucket(read)
            if bucket is None:
                self._wide.setdefault(place, {}).setdefault(owner, []).append(read)
            else:
                self._buckets.setdefault(place, {}).setdefault(bucket, {}).setdefault(owner, []).append(read)

    def remove(self, owner: int, reads: list[ReadRange]) -> None:
        for read in reads:
            place = (read.table, read.index)
            bucket = self._bucket(read)
            holder = self._wide.get(place) if bucket is None else self._buckets.get(place, {}).get(bucket)
            if holder is not None:
                holder.pop(owner, None)
                if bucket is not None and not holder:
                    del self._buckets[place][bucket]

    def stab(self, table: str, index: str, key: tuple) -> list[int]:
        """The owners with a range of ``table.index`` that contains ``key``."""
        place = (table, index)
        found: list[int] = []
        candidates = [self._buckets.get(place, {}).get(key[0], {}) if key else {}, self._wide.get(place, {})]
        for group in candidates:
            for owner, reads in group.items():
                for read in reads:
                    self.visited += 1
                    if read.contains(key):
                        found.append(owner)
                        break
        return found
