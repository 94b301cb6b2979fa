"""Realistic, reproducible seed data (faker): ``seed_table(sim, "users", n=100)``.

Each row passes the table's validator. A string field gets a faker provider chosen by
its name (``email``, ``name``, ``url``, ``phone``, ``body``/``text``, ``title``, ``city``,
...); a number field named like a time (``createdAt``, ``due_date``, ``*_at``, ``*Time``)
gets milliseconds within five years before the virtual clock; ``v.id(t)`` fields get IDs
of existing documents of ``t``; everything else a plain value of its validator. The
faker instance is seeded from the sim's seed, the table and how many rows it already
has, so the same seed gives the same rows on every machine.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConvexSimError
from .hypothesis._builtin import existing_ids
from .schema import _without_system_fields
from .validators import (
    AnyValidator,
    ArrayValidator,
    BooleanValidator,
    BytesValidator,
    Float64Validator,
    IdValidator,
    Int64Validator,
    LiteralValidator,
    NullValidator,
    ObjectValidator,
    OptionalValidator,
    RecordValidator,
    StringValidator,
    UnionValidator,
    Validator,
)
from .values import format_value

#: Rows inserted per transaction (well under Convex's per-transaction write limits).
BATCH = 500
_FIVE_YEARS_MS = 5 * 365 * 24 * 3600 * 1000
#: Faker providers for string fields, by normalized field name (lowercase, no _ or -).
_BY_NAME: dict[str, Callable[[Any], str]] = {
    "email": lambda f: f.email(), "name": lambda f: f.name(), "fullname": lambda f: f.name(),
    "firstname": lambda f: f.first_name(), "lastname": lambda f: f.last_name(),
    "username": lambda f: f.user_name(), "handle": lambda f: f.user_name(),
    "owner": lambda f: f.user_name(), "author": lambda f: f.name(),
    "url": lambda f: f.url(), "website": lambda f: f.url(), "link": lambda f: f.url(),
    "phone": lambda f: f.phone_number(), "phonenumber": lambda f: f.phone_number(),
    "text": lambda f: f.paragraph(), "body": lambda f: f.paragraph(),
    "content": lambda f: f.paragraph(), "description": lambda f: f.paragraph(),
    "bio": lambda f: f.sentence(), "message": lambda f: f.sentence(),
    "title": lambda f: f.sentence(nb_words=4).rstrip("."), "subject": lambda f: f.sentence(nb_words=5),
    "city": lambda f: f.city(), "country": lambda f: f.country(), "address": lambda f: f.address(),
    "company": lambda f: f.company(), "color": lambda f: f.color_name(), "slug": lambda f: f.slug(),
    "tag": lambda f: f.word(), "channel": lambda f: f.word(),
}
_SUFFIXES: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("email", _BY_NAME["email"]), ("url", _BY_NAME["url"]), ("name", _BY_NAME["name"]),
    ("phone", _BY_NAME["phone"]),
)
_TIME = re.compile(r"(^|_)(at|time|date|timestamp|ts)$|[a-z](At|Time|Date)$|^(date|time|when|due)")
_SMALL = {"age": (18, 90), "count": (0, 100), "quantity": (0, 100), "rating": (1, 5)}

_faker: Any = None


class SeedDataError(ConvexSimError, ValueError):
    """Seed data cannot be made: unknown table, an ID into an empty table, a bad count."""


def _new_faker(seed: int) -> Any:
    global _faker
    if _faker is None:
        from faker import Faker

        _faker = Faker("en_US")           # building one costs ~50 ms: one per process
    _faker.seed_instance(seed)            # instance-level random: no global state touched
    return _faker


def _norm(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


class _Maker:
    """Values for one batch of rows: a seeded faker, the sim (IDs, clock)."""

    def __init__(self, sim: Any, fake: Any) -> None:
        self.sim, self.fake = sim, fake
        self._ids: dict[str, list[str]] = {}

    def value(self, validator: Validator, name: str) -> Any:
        fake = self.fake
        if isinstance(validator, StringValidator):
            key = _norm(name)
            provider = _BY_NAME.get(key) or next((p for s, p in _SUFFIXES if key.endswith(s)), None)
            return provider(fake) if provider else fake.word()
        if isinstance(validator, (Int64Validator, Float64Validator)):
            number = self._number(name)
            return number if isinstance(validator, Int64Validator) else float(number)
        if isinstance(validator, IdValidator):
            return fake.random_element(self._table_ids(validator.table))
        if isinstance(validator, LiteralValidator):
            return validator.value
        if isinstance(validator, UnionValidator):
            return self.value(fake.random_element(validator.members), name)
        if isinstance(validator, ObjectValidator):
            return self.row(validator)
        if isinstance(validator, ArrayValidator):
            return [self.value(validator.element, name) for _ in range(fake.random_int(0, 3))]
        if isinstance(validator, RecordValidator):
            keys = {self.value(validator.keys, "tag") for _ in range(fake.random_int(0, 3))}
            return {k: self.value(validator.values, k) for k in sorted(keys)}
        return self._scalar(validator, name)

    def _scalar(self, validator: Validator, name: str) -> Any:
        if isinstance(validator, BooleanValidator):
            return self.fake.pybool()
        if isinstance(validator, NullValidator):
            return None
        if isinstance(validator, BytesValidator):
            return self.fake.binary(length=16)
        if isinstance(validator, AnyValidator):
            return self.fake.word()
        raise SeedDataError(f"seed_table: no fake data for validator {validator!r} (field {name!r})")

    def _number(self, name: str) -> int:
        if _TIME.search(name):
            now = int(self.sim.clock)
            return self.fake.random_int(now - _FIVE_YEARS_MS, now)
        low, high = _SMALL.get(_norm(name), (0, 10_000))
        return self.fake.random_int(low, high)

    def _table_ids(self, table: str) -> list[str]:
        if table not in self._ids:
            self._ids[table] = existing_ids(self.sim, table)
        if not self._ids[table]:
            raise SeedDataError(f'seed_table: a field needs IDs of table "{table}", which has no '
                                f'documents; seed "{table}" first')
        return self._ids[table]

    def row(self, validator: ObjectValidator) -> dict:
        out = {}
        for name, field in validator.fields.items():
            if isinstance(field, OptionalValidator):
                if self.fake.random_int(0, 4) == 0:     # absent one time in five
                    continue
                field = field.inner
            out[name] = self.value(field, name)
        return out


def fake_rows(sim: Any, table: str, n: int, *, seed: int | None = None,
              fields: Mapping[str, Callable[[Any], Any]] | None = None) -> list[dict]:
    """``n`` schema-valid rows for ``table`` (not inserted). ``fields`` maps a field name to
    ``fn(faker)`` for values of your own; ``seed`` overrides the seed derived from the sim."""
    if type(n) is not int or n < 0:
        raise SeedDataError(f"seed_table: n must be an int >= 0, got {n!r}")
    definition = sim.schema.table(table) if sim.schema is not None else None
    if definition is None:
        raise SeedDataError(f"seed_table: the schema has no table {table!r}")
    validator = _without_system_fields(definition.document)
    if seed is None:
        seed = (sim.seed * 1_000_003 + zlib.crc32(table.encode()) * 7_919
                + len(existing_ids(sim, table))) % 2**63
    maker = _Maker(sim, _new_faker(seed))
    custom = dict(fields or {})
    rows = []
    for _ in range(n):
        shape = validator
        if isinstance(shape, UnionValidator):
            shape = maker.fake.random_element(shape.members)
        if not isinstance(shape, ObjectValidator):
            raise SeedDataError(f"seed_table: table {table!r} holds {shape!r}, not objects")
        row = maker.row(shape)
        for name, make in custom.items():
            row[name] = _checked_custom(sim, shape, len(rows), name, make(maker.fake))
        rows.append(row)
    return rows


def _checked_custom(sim: Any, shape: ObjectValidator, index: int, name: str, value: Any) -> Any:
    """A value of one's own for field ``name`` of row ``index``: not a system field, and an
    ID of the right table where the schema wants one."""
    if name.startswith("_"):
        raise SeedDataError(f"seed_table: field {name}: expected a field of your own, got a system "
                            "field (the database sets _id and _creationTime)")
    field = shape.fields.get(name)
    if isinstance(field, OptionalValidator):
        field = field.inner
    if isinstance(field, IdValidator):
        owner = sim.db.table_of_id(value)
        if owner != field.table:
            whose = "not an ID" if owner is None else f'an ID of table "{owner}"'
            raise SeedDataError(f'seed_table: row {index}, field {name}: expected an ID of table '
                                f'"{field.table}", got {format_value(value)}, {whose}')
    return value


def seed_table(sim: Any, table: str, n: int = 100, *, seed: int | None = None,
               fields: Mapping[str, Callable[[Any], Any]] | None = None) -> list[str]:
    """Insert ``n`` realistic, schema-valid rows into ``table``; return their IDs in order."""
    rows = fake_rows(sim, table, n, seed=seed, fields=fields)
    ids: list[str] = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        ids += sim.run(lambda ctx, batch=batch: [ctx.db.insert(table, row) for row in batch])
    return ids
