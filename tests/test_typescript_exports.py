"""Validators, schemas and crons from the JSON the `convex` package exports (shapes as
`exportArgs()`, `defineSchema(...).export()` and `cronJobs().crons` produce them)."""

import pytest

from convex_sim import ConvexSimError, ValidationError, v
from convex_sim.js.project import crons_from_json, schema_from_json, validator_from_json


def _obj(**fields):
    return {"type": "object", "value": {k: {"fieldType": t, "optional": o} for k, (t, o) in fields.items()}}


def test_every_validator_kind():
    spec = _obj(
        s=({"type": "string"}, False), n=({"type": "number"}, False), i=({"type": "bigint"}, False),
        b=({"type": "boolean"}, False), z=({"type": "null"}, False), a=({"type": "any"}, True),
        y=({"type": "bytes"}, False), d=({"type": "id", "tableName": "users"}, True),
        l=({"type": "literal", "value": {"$integer": "AQAAAAAAAAA="}}, False),
        arr=({"type": "array", "value": {"type": "string"}}, False),
        rec=({"type": "record", "keys": {"type": "string"},
              "values": {"fieldType": {"type": "number"}, "optional": False}}, False),
        u=({"type": "union", "value": [{"type": "literal", "value": "x"}, {"type": "null"}]}, False),
    )
    validator = validator_from_json(spec, "t")
    assert validator == v.object({
        "s": v.string(), "n": v.float64(), "i": v.int64(), "b": v.boolean(), "z": v.null(),
        "a": v.optional(v.any()), "y": v.bytes(), "d": v.optional(v.id("users")), "l": v.literal(1),
        "arr": v.array(v.string()), "rec": v.record(v.string(), v.float64()),
        "u": v.union(v.literal("x"), v.null())})
    with pytest.raises(ValidationError, match=r"Path: \.l"):
        validator.check({"s": "", "n": 1.0, "i": 1, "b": True, "z": None, "y": b"", "l": 2,
                         "arr": [], "rec": {}, "u": None})


def test_an_unknown_validator_kind_is_named():
    with pytest.raises(ConvexSimError, match="bank:f \\(args\\): unknown validator type 'set'"):
        validator_from_json({"type": "set"}, "bank:f (args)")


def test_schema_with_indexes_search_and_vector_indexes():
    exported = """{"tables": [{"tableName": "docs",
        "indexes": [{"indexDescriptor": "by_tag", "fields": ["tag"]}],
        "searchIndexes": [{"indexDescriptor": "search", "searchField": "text", "filterFields": ["tag"]}],
        "vectorIndexes": [{"indexDescriptor": "vec", "vectorField": "v", "dimensions": 3, "filterFields": []}],
        "documentType": {"type": "object", "value": {
            "tag": {"fieldType": {"type": "string"}, "optional": false},
            "text": {"fieldType": {"type": "string"}, "optional": false},
            "v": {"fieldType": {"type": "array", "value": {"type": "number"}}, "optional": false}}}}],
        "schemaValidation": true}"""
    table = schema_from_json(exported).table("docs")
    assert table.all_indexes()["by_tag"].fields == ("tag",)
    assert table.search_indexes["search"].search_field == "text"
    assert table.vector_indexes["vec"].dimensions == 3


def test_every_cron_schedule_kind():
    args = [{"body": "x"}]
    crons = crons_from_json({
        "i": {"name": "jobs:tick", "args": args, "schedule": {"type": "interval", "minutes": 5}},
        "h": {"name": "jobs:tick", "args": args, "schedule": {"type": "hourly", "minuteUTC": 7}},
        "d": {"name": "jobs:tick", "args": args, "schedule": {"type": "daily", "hourUTC": 3, "minuteUTC": 4}},
        "w": {"name": "jobs:tick", "args": args,
              "schedule": {"type": "weekly", "dayOfWeek": "tuesday", "hourUTC": 1, "minuteUTC": 2}},
        "m": {"name": "jobs:tick", "args": args, "schedule": {"type": "monthly", "day": 9, "hourUTC": 0}},
        "c": {"name": "jobs:tick", "args": args, "schedule": {"type": "cron", "cron": "*/10 * * * *"}},
    })
    jobs = crons.jobs
    assert jobs["i"].interval_ms == 300_000 and jobs["i"].args == {"body": "x"}
    assert [jobs[k].expression for k in "hdwmc"] == ["7 * * * *", "4 3 * * *", "2 1 * * 2", "0 0 9 * *",
                                                     "*/10 * * * *"]
    with pytest.raises(ConvexSimError, match="unknown schedule"):
        crons_from_json({"x": {"name": "jobs:tick", "args": args, "schedule": {"type": "yearly"}}})
