"""One set of value rules for Python and TypeScript apps.

Each case is a value that a Python app and a TypeScript app both take as an argument, return,
and insert (as the field ``v`` of a document); both must give the same outcome, and a
refusal the same error class. The rules are Convex's:

* field names (convex-js ``src/values/value.ts`` ``validateObjectField``, applied by
  ``convexToJsonInternal`` and ``jsonToConvex`` to every object key of arguments, return
  values and documents; convex-backend ``crates/convex/sync_types/src/identifier.rs``
  ``check_valid_field_name``): at most 1024 characters, no leading ``$``, only non-control
  ASCII (0x20 to 0x7E);
* nesting: at most 64 levels in any value (convex-backend ``crates/value/src/size.rs``
  ``MAX_NESTING``, ``check_nesting``), 16 in a document (``crates/common/src/document.rs``
  ``MAX_DOCUMENT_NESTING``);
* a return value of at most 16 MiB (convex-backend ``crates/common/src/knobs.rs``
  ``FUNCTION_MAX_RESULT_SIZE``, checked by ``crates/isolate/src/helpers.rs``
  ``deserialize_udf_result``);
* strings are valid Unicode, integers fit in int64.

The TypeScript side builds each value from a JSON spec (``build``), so a value no argument
could carry (a ``$`` key, a bigint out of range, a lone surrogate) still reaches the
``convex`` package's own conversion.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from convex_sim import ConvexError, ConvexSim, mutation, query, v
from convex_sim.errors import InvalidValueError, LimitExceededError
from convex_sim.functions import Registry
from convex_sim.limits import MAX_RETURN_BYTES
from convex_sim.values import check_value, value_size
from tests.conftest import _make_project

VALUES_TS = """
    import { mutation, query } from "./_generated/server";
    import { anyApi } from "convex/server";
    import { ConvexError, v } from "convex/values";

    // The value a spec describes: JSON, with {"@": [kind, arg, inner]} for what JSON lacks.
    function build(spec: any): any {
      if (Array.isArray(spec)) return spec.map(build);
      if (spec === null || typeof spec !== "object") return spec;
      const keys = Object.keys(spec);
      if (keys.length === 1 && keys[0] === "@") {
        const [kind, arg, inner] = spec["@"];
        if (kind === "int") return BigInt(arg);
        if (kind === "bytes") return new Uint8Array(arg).buffer;
        if (kind === "text") return "x".repeat(arg);
        let value = build(inner);
        for (let i = 0; i < arg; i++) value = [value];
        return value;
      }
      const out: any = {};
      for (const k of keys) out[k] = build(spec[k]);
      return out;
    }

    export const take = query({ args: { x: v.any() }, handler: async () => null });
    export const sink = mutation({ args: { x: v.any() }, handler: async () => null });
    export const give = query({ args: { spec: v.string() }, handler: async (_ctx, { spec }) =>
      build(JSON.parse(spec)) });
    export const store = mutation({ args: { spec: v.string() }, handler: async (ctx, { spec }) => {
      await ctx.db.insert("things", { v: build(JSON.parse(spec)) });
      return null;
    } });
    export const schedule = mutation({ args: { spec: v.string() }, handler: async (ctx, { spec }) => {
      await ctx.scheduler.runAfter(0, anyApi.values.sink, { x: build(JSON.parse(spec)) });
      return null;
    } });
    export const fail = mutation({ args: { spec: v.string() }, handler: async (_ctx, { spec }) => {
      throw new ConvexError(build(JSON.parse(spec)));
    } });
    export const storeDocument = mutation({ args: { spec: v.string() }, handler: async (ctx, { spec }) => {
      await ctx.db.insert("things", build(JSON.parse(spec)));
      return null;
    } });
"""


def build(spec: Any) -> Any:
    """The Python value a spec describes (the TypeScript ``build``): JSON numbers are float64."""
    if isinstance(spec, list):
        return [build(x) for x in spec]
    if isinstance(spec, int) and not isinstance(spec, bool):
        return float(spec)
    if not isinstance(spec, dict):
        return spec
    if list(spec) == ["@"]:
        kind, arg, *inner = spec["@"]
        if kind == "int":
            return int(arg)
        if kind == "bytes":
            return bytes(arg)
        if kind == "text":
            return "x" * arg
        value = build(inner[0])
        for _ in range(arg):
            value = [value]
        return value
    return {k: build(x) for k, x in spec.items()}


@query(args={"x": v.any()})
def take(ctx, args):
    return None


@mutation(args={"x": v.any()})
def sink(ctx, args):
    return None


@query(args={"spec": v.string()})
def give(ctx, args):
    return build(json.loads(args["spec"]))


@mutation(args={"spec": v.string()})
def store(ctx, args):
    ctx.db.insert("things", {"v": build(json.loads(args["spec"]))})


@mutation(args={"spec": v.string()})
def store_document(ctx, args):
    ctx.db.insert("things", build(json.loads(args["spec"])))


@mutation(args={"spec": v.string()})
def schedule(ctx, args):
    ctx.scheduler.run_after(0, "values:sink", {"x": build(json.loads(args["spec"]))})


@mutation(args={"spec": v.string()})
def fail(ctx, args):
    raise ConvexError(build(json.loads(args["spec"])))


def python_sim(**more: Any) -> ConvexSim:
    registry = Registry()
    for path, fn in {"values:take": take, "values:give": give, "values:store": store,
                     "values:storeDocument": store_document, "values:fail": fail,
                     "values:schedule": schedule, "values:sink": sink, **more}.items():
        registry.register(path, fn)
    return ConvexSim(None, registry)


@pytest.fixture(scope="module")
def ts_project(tmp_path_factory, ts_bank_project):
    from convex_sim.js import load_project

    root = _make_project(tmp_path_factory.mktemp("value_rules"), ts_bank_project,
                         {"convex/values.ts": VALUES_TS})
    return load_project(root)


@pytest.fixture
def sims(ts_project):
    return {"python": python_sim(), "typescript": ConvexSim.from_project(ts_project)}


def deep(levels: int, leaf: Any = 1) -> dict:
    """A spec of ``levels`` nested arrays around ``leaf``."""
    return {"@": ["deep", levels, leaf]}


OK, BAD, BIG = "ok", InvalidValueError, LimitExceededError
#: (id, spec, outcome as an argument, as a return value, as a document field).
CASES = [
    ("plain", {"a": [1, 2.5, "x", None, True], "b": {"@": ["int", "7"]}, "c": {"@": ["bytes", [1, 2]]}},
     OK, OK, OK),
    ("empty-name", {"": 1}, OK, OK, OK),
    ("printable-ascii-name", {" a-b.c!~": 1}, OK, OK, OK),
    ("dollar-name", {"$a": 1}, BAD, BAD, BAD),
    ("dollar-nested", {"a": [{"$integer": "AQAAAAAAAAA="}]}, BAD, BAD, BAD),
    ("tab-name", {"a\tb": 1}, BAD, BAD, BAD),
    ("nul-name", {"a\x00": 1}, BAD, BAD, BAD),
    ("del-name", {"a\x7f": 1}, BAD, BAD, BAD),
    ("non-ascii-name", {"café": 1}, BAD, BAD, BAD),
    ("lone-surrogate-name", {"a\ud800": 1}, BAD, BAD, BAD),
    ("name-1024", {"n" * 1024: 1}, OK, OK, OK),
    ("name-1025", {"n" * 1025: 1}, BAD, BAD, BAD),
    ("lone-surrogate-string", {"s": "a\udc00"}, BAD, BAD, BAD),
    ("int64-max", {"@": ["int", str(2**63 - 1)]}, OK, OK, OK),
    ("int64-overflow", {"@": ["int", str(2**63)]}, BAD, BAD, BAD),
    ("nesting-15", deep(14, {"a": 1}), OK, OK, OK),         # the field v adds the 16th level
    ("nesting-16", deep(15, {"a": 1}), OK, OK, BAD),
    ("nesting-63", deep(62, []), OK, OK, BAD),
    ("nesting-64", deep(63, []), BAD, OK, BAD),             # the arguments object adds a level
    ("nesting-65", deep(64, []), BAD, BAD, BAD),
    ("nesting-500", deep(500), BAD, BAD, BAD),
    ("return-17-mib", {"@": ["text", 17 << 20]}, BIG, BIG, BAD),
]


def outcome(call, *args: Any) -> Any:
    """``("ok", call(*args))``, or ``("error", its class, its message)``."""
    try:
        return ("ok", call(*args))
    except Exception as exc:  # the outcome is the error's class
        return ("error", type(exc), str(exc))


@pytest.mark.parametrize(("spec", "as_arg", "as_return", "as_field"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_both_languages_apply_the_same_value_rules(sims, spec, as_arg, as_return, as_field):
    text = json.dumps(spec)
    calls = {
        "argument": (as_arg, lambda sim: sim.query("values:take", {"x": build(spec)})),
        "return": (as_return, lambda sim: sim.query("values:give", {"spec": text})),
        "field": (as_field, lambda sim: sim.mutation("values:store", {"spec": text})),
        # The job's row holds the arguments: the document rules apply too (compared only).
        "scheduled argument": (None, lambda sim: sim.mutation("values:schedule", {"spec": text})),
    }
    for where, (expected, call) in calls.items():
        got = {language: outcome(call, sim) for language, sim in sims.items()}
        for language, result in got.items():
            if expected is None:
                continue
            if expected == OK:
                assert result[0] == "ok", f"{where}, {language}: {result}"
            else:
                assert result[:2] == ("error", expected), f"{where}, {language}: {result}"
        assert got["python"][:2] == got["typescript"][:2], f"{where}: {got}"


DOCUMENTS = [
    ("top-level-64", {"n" * 64: 1}, OK),
    ("top-level-65", {"n" * 65: 1}, BAD),
    ("nested-1024", {"a": {"n" * 1024: 1}}, OK),
    ("system-prefix", {"_a": 1}, BAD),
    ("dollar-top-level", {"$a": 1}, BAD),
    ("control-top-level", {"a\nb": 1}, BAD),
]


@pytest.mark.parametrize(("spec", "expected"), [pytest.param(*case[1:], id=case[0]) for case in DOCUMENTS])
def test_both_languages_apply_the_same_document_rules(sims, spec, expected):
    got = {language: outcome(sim.mutation, "values:storeDocument", {"spec": json.dumps(spec)})
           for language, sim in sims.items()}
    for language, result in got.items():
        assert result[0] == "ok" if expected == OK else result[:2] == ("error", expected), (language, result)


@pytest.mark.parametrize(("spec", "refused"), [
    pytest.param({"code": "X", "n": {"@": ["int", "1"]}}, False, id="plain"),
    pytest.param({"$a": 1}, True, id="dollar-name"),
    pytest.param({"s": "a\udc00"}, True, id="lone-surrogate"),
])
def test_convex_error_data_follows_the_same_rules(sims, spec, refused):
    got = {language: outcome(sim.mutation, "values:fail", {"spec": json.dumps(spec)})
           for language, sim in sims.items()}
    for language, result in got.items():
        assert result[1] is (InvalidValueError if refused else ConvexError), (language, result)
    if not refused:
        errors = {}
        for language, sim in sims.items():
            with pytest.raises(ConvexError) as info:
                sim.mutation("values:fail", {"spec": json.dumps(spec)})
            errors[language] = info.value.data
        assert errors["python"] == errors["typescript"] == build(spec)


def test_a_refused_name_never_reaches_a_snapshot_or_a_trace(tmp_path):
    sim = python_sim()
    with pytest.raises(InvalidValueError, match=r"invalid character"):
        sim.mutation("values:store", {"spec": json.dumps({"a\tb": 1})})
    sim.mutation("values:store", {"spec": json.dumps({"ok": 1})})
    sim.export_snapshot(tmp_path / "export.zip")


def test_return_size_limit_is_16_mib():
    """Just under the limit passes, just over is refused (``FUNCTION_MAX_RESULT_SIZE``)."""
    assert MAX_RETURN_BYTES == 16 << 20
    under = "x" * (MAX_RETURN_BYTES - value_size(""))
    assert value_size(under) == MAX_RETURN_BYTES

    @query(args={"n": v.int64()})
    def text(ctx, args):
        return "x" * args["n"]

    sim = python_sim(**{"values:text": text})
    assert len(sim.query("values:text", {"n": len(under)})) == len(under)
    with pytest.raises(LimitExceededError, match=r"return value.*values:text"):
        sim.query("values:text", {"n": len(under) + 1})


def test_check_value_refuses_deep_values_without_recursing_to_the_bottom():
    value: Any = 1
    for _ in range(100_000):
        value = [value]
    with pytest.raises(InvalidValueError, match="nested"):
        check_value(value)


@pytest.mark.parametrize("validator", [v.record(v.string(), v.any()), v.object({"$a": v.any()}), v.any()],
                         ids=["record", "object", "any"])
def test_validators_apply_the_field_name_rules(validator):
    """A validator cannot make a name valid: the value is refused as with no validator."""
    with pytest.raises(InvalidValueError, match=r"starts with '\$'"):
        validator.check({"$a": 1})


def test_argument_size_limit_is_16_mib_on_both_paths(sims):
    """Arguments over 16 MiB are refused before the function runs (convex-backend
    ``knobs.rs`` ``FUNCTION_MAX_ARGS_SIZE``, 1 << 24); 15 MiB pass."""
    from convex_sim.limits import MAX_ARGS_BYTES

    assert MAX_ARGS_BYTES == 16 << 20
    for language, sim in sims.items():
        assert sim.query("values:take", {"x": "x" * (15 << 20)}) is None, language
        with pytest.raises(LimitExceededError, match=r"argument bytes.*values:take"):
            sim.query("values:take", {"x": "x" * (17 << 20)})
