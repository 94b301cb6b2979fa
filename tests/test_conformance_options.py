"""Per-scenario options of conformance.toml: ``env``, ``serializable``, ``expect_failure``,
setup results named with ``as`` and used through ``{ "$setup" = "name" }``; the JUnit report's
``time`` attribute."""

from __future__ import annotations

import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from convex_sim.check import CheckConfigError, load_config
from convex_sim.cli import main

APP = "opts_shop"
FILES = {
    f"{APP}/__init__.py": "",
    f"{APP}/schema.py": """
        from convex_sim import define_schema, define_table, v
        schema = define_schema({
            "products": define_table({"sku": v.string(), "stock": v.int64()}),
            "holds": define_table({"product": v.id("products"), "state": v.string()}),
            "counters": define_table({"value": v.int64()}),
        })
    """,
    f"{APP}/inventory.py": """
        from convex_sim import ConvexError, action, internal_mutation, mutation, query, v

        @mutation(args={"sku": v.string(), "stock": v.int64()})
        def add(ctx, args):
            return ctx.db.insert("products", args)

        @mutation(args={"product": v.id("products")})
        def reserve(ctx, args):
            product = ctx.db.get(args["product"])
            if product["stock"] < 1:
                raise ConvexError("sold out")
            ctx.db.patch(product["_id"], {"stock": product["stock"] - 1})
            return ctx.db.insert("holds", {"product": product["_id"], "state": "held"})

        @mutation(args={"hold": v.id("holds")})
        def confirm(ctx, args):
            hold = ctx.db.get(args["hold"])
            if hold["state"] != "held":
                raise ConvexError("no longer held")
            ctx.db.patch(hold["_id"], {"state": "confirmed"})

        @query(args={"product": v.id("products")})
        def stock(ctx, args):
            return ctx.db.get(args["product"])["stock"]

        @internal_mutation(args={"product": v.id("products")})
        def take(ctx, args):
            product = ctx.db.get(args["product"])
            ctx.db.patch(product["_id"], {"stock": product["stock"] - 1})

        @action(args={"products": v.array(v.id("products"))})
        async def reserve_via_action(ctx, args):
            for product in args["products"]:
                if await ctx.run_query("inventory:stock", {"product": product}) >= 1:
                    await ctx.run_mutation("inventory:take", {"product": product})
    """,
    f"{APP}/counter.py": """
        from convex_sim import action, internal_mutation, query, v

        @query(args={})
        def get(ctx, args):
            row = ctx.db.query("counters").first()
            return row["value"] if row else 0

        @internal_mutation(args={"value": v.int64()})
        def put(ctx, args):
            row = ctx.db.query("counters").first()
            if row is None:
                ctx.db.insert("counters", {"value": args["value"]})
            else:
                ctx.db.patch(row["_id"], {"value": args["value"]})

        @action(args={})
        async def bump_via_action(ctx, args):
            value = await ctx.run_query("counter:get", {})
            await ctx.run_mutation("counter:put", {"value": value + 1})
    """,
    f"{APP}_checks.py": """
        def no_oversell(ctx):
            for product in ctx.db.query("products").collect():
                assert product["stock"] >= 0, f"{product['sku']} oversold: {product['stock']}"
    """,
}
HEAD = f'[app]\nmodules = "{APP}"\n'
MUG = 'setup = [{ mutation = "inventory:add", args = { sku = "mug", stock = 1 }, as = "mug" }]\n'


@pytest.fixture
def folder(tmp_path):
    """A folder holding the app, its invariant module, and (written by each test) conformance.toml."""
    for path, text in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(textwrap.dedent(text))
    yield tmp_path
    for module in list(sys.modules):
        if module.startswith(APP):
            del sys.modules[module]


def check(folder: Path, scenarios: str, *flags: str) -> int:
    config = folder / "conformance.toml"
    config.write_text(HEAD + textwrap.dedent(scenarios))
    return main(["check", str(config), *flags])


def bad(tmp_path: Path, scenarios: str) -> str:
    """The CheckConfigError a file with the bank app and ``scenarios`` raises."""
    config = tmp_path / "bad.toml"
    config.write_text('[app]\nmodules = "scenarios.bank"\n' + textwrap.dedent(scenarios))
    with pytest.raises(CheckConfigError) as info:
        load_config(config)
    return str(info.value)


# -- setup results: `as` and { "$setup" = "name" } --------------------------------------------

def test_ops_and_later_setup_calls_use_named_setup_results(folder, capsys):
    assert check(folder, """
        [[scenario]]
        name = "two confirmations of one hold"
        setup = [
          { mutation = "inventory:add", args = { sku = "mug", stock = 1 }, as = "mug" },
          { mutation = "inventory:reserve", args = { product = { "$setup" = "mug" } }, as = "hold" },
        ]
        ops = [{ op = "inventory:confirm", args = { hold = { "$setup" = "hold" } }, times = 2 }]
        invariant = "opts_shop_checks:no_oversell"

        [[scenario]]
        name = "a reference inside an array"
        setup = [{ mutation = "inventory:add", args = { sku = "mug", stock = 2 }, as = "mug" }]
        ops = [{ op = "inventory:reserve_via_action", args = { products = [{ "$setup" = "mug" }] } }]
    """) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "ok   two confirmations of one hold" in out and "ok   a reference inside an array" in out


@pytest.mark.parametrize("scenario, fragments", [
    ('setup = [{ mutation = "bank:open_account", args = { owner = "ada", balance = 1 }, as = "ada" }]\n'
     'ops = [{ op = "bank:transfer", args = { src = { "$setup" = "bob" }, dst = "x", amount = 1 } }]\n',
     ["[[scenario]] 1 ops[0].args.src", '"$setup" = "bob"', "no setup call is named `bob`",
      "named: `ada`", "line 6"]),
    ('setup = [\n'
     '  { mutation = "bank:open_account", args = { owner = { "$setup" = "bob" }, balance = 1 } },\n'
     '  { mutation = "bank:open_account", args = { owner = "bob", balance = 1 }, as = "bob" },\n'
     ']\nops = [{ op = "bank:total" }]\n',
     ["[[scenario]] 1 setup[0].args.owner", "`bob` is the result of setup[1], which runs after it",
      "line 6"]),
    ('setup = [\n'
     '  { mutation = "bank:open_account", args = { owner = "a", balance = 1 }, as = "x" },\n'
     '  { mutation = "bank:open_account", args = { owner = "b", balance = 1 }, as = "x" },\n'
     ']\nops = [{ op = "bank:total" }]\n',
     ["[[scenario]] 1 setup[1].as", "`x` names setup[0] already"]),
    ('ops = [{ op = "bank:total", args = { a = { "$setpu" = "x" } } }]\n',
     ["[[scenario]] 1 ops[0].args.a", "unknown reference `$setpu`; did you mean `$setup`?"]),
    ('setup = [{ mutation = "bank:open_account", args = { owner = "a", balance = 1 }, as = "a" }]\n'
     'ops = [{ op = "bank:total", args = { a = { "$setup" = "a", field = "x" } } }]\n',
     ["[[scenario]] 1 ops[0].args.a", "a reference is a table with the one key `$setup`"]),
    ('ops = [{ op = "bank:total", args = { a = { "$setup" = 1 } } }]\n',
     ["[[scenario]] 1 ops[0].args.a", "expected the name of a setup call", "got 1"]),
    ('setup = [{ mutation = "bank:total", ass = "x" }]\nops = [{ op = "bank:total" }]\n',
     ["unknown key `ass` in [[scenario]] 1 setup[0]; did you mean `as`?"]),
])
def test_bad_references_are_clear_errors(tmp_path, scenario, fragments):
    message = bad(tmp_path, "\n[[scenario]]\n" + scenario)
    for fragment in fragments:
        assert fragment in message, message


def test_a_bad_reference_is_exit_2_in_one_line(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[app]\nmodules = "scenarios.bank"\n[[scenario]]\n'
                      'ops = [{ op = "bank:total", args = { a = { "$setup" = "nope" } } }]\n')
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ops[0].args.a" in err and "`nope`" in err


# -- expect_failure and serializable ----------------------------------------------------------

RACE = MUG.replace("stock = 1", "stock = 1") + \
    'ops = [{ op = "inventory:reserve_via_action", args = { products = [{ "$setup" = "mug" }] }, times = 2 }]\n' \
    'invariant = "opts_shop_checks:no_oversell"\n'
LOST_UPDATE = 'ops = [{ op = "counter:bump_via_action", times = 2 }]\n'


def test_expect_failure_passes_only_on_that_kind_first(folder, capsys, tmp_path):
    race = "\n[[scenario]]\nname = \"race\"\n" + RACE + 'expect = "fail"\n'
    assert check(folder, race + 'expect_failure = "invariant"\n') == 0
    capsys.readouterr()
    junit = tmp_path / "junit.xml"
    assert check(folder, race + 'expect_failure = "serializability"\n', "--junit", str(junit)) == 1
    out = capsys.readouterr().out
    assert "FAIL race: expected a serializability failure first, the first was invariant" in out
    (failure,) = ET.parse(junit).getroot().iter("failure")
    assert failure.get("message") == "expected a serializability failure first, the first was invariant"


def test_expect_failure_of_a_kind_that_never_happens_is_a_violation(folder, capsys):
    lost = "\n[[scenario]]\nname = \"lost\"\n" + LOST_UPDATE + 'serializable = false\nexpect = "fail"\n'
    assert check(folder, lost + 'expect_failure = "serializability"\n') == 1
    assert "FAIL lost: expected a serializability failure, found none" in capsys.readouterr().out


def test_serializable_false_turns_the_serial_order_check_off(folder, capsys):
    lost = "\n[[scenario]]\nname = \"lost\"\n" + LOST_UPDATE
    assert check(folder, lost) == 1
    capsys.readouterr()
    assert check(folder, lost + "serializable = false\n") == 0
    assert check(folder, lost + 'expect = "fail"\nexpect_failure = "serializability"\n') == 0


@pytest.mark.parametrize("scenario, fragment", [
    ('expect_failure = "invariant"\n',
     '[[scenario]] 1 expect_failure: needs expect = "fail"'),
    ('expect = "fail"\nexpect_failure = "invariants"\n',
     '[[scenario]] 1 expect_failure: expected "invariant", "serializability", "history", "subscription", '
     '"frontend" or "error <ExceptionType>", got \'invariants\''),
    ('serializable = "no"\n', "[[scenario]] 1 serializable: expected a boolean, got 'no'"),
    ('serialisable = false\n', "unknown key `serialisable` in [[scenario]] 1; did you mean `serializable`?"),
    ('env = { "1X" = "a" }\n', "[[scenario]] 1 env"),
    ('env = { X = 1 }\n', "[[scenario]] 1 env.X: expected a string value, got 1"),
])
def test_bad_options_are_clear_errors(tmp_path, scenario, fragment):
    message = bad(tmp_path, '\n[[scenario]]\nops = [{ op = "bank:total" }]\n' + scenario)
    assert fragment in message, message


def test_error_kinds_are_accepted():
    from convex_sim.conformance_schema import ScenarioTable

    table = ScenarioTable.model_validate({"ops": [{"op": "m:f"}], "expect": "fail",
                                          "expect_failure": "error ConvexError"})
    assert table.expect_failure == "error ConvexError"


# -- env per scenario -------------------------------------------------------------------------

ENV_PROJECT = {"convex/flags.ts": """
    import { mutation } from "./_generated/server";
    export const note = mutation({ args: {}, handler: async (ctx) => {
        await ctx.db.insert("notes", { mode: process.env.MODE ?? "unset", other: process.env.OTHER ?? "unset" });
    } });
"""}


def test_a_scenario_env_is_merged_over_the_app_env(make_project, tmp_path, capsys):
    root = make_project(ENV_PROJECT)
    (root / "opts_env_checks.py").write_text(
        "def mode_on(ctx):\n"
        "    for row in ctx.db.query('notes').collect():\n"
        "        assert (row['mode'], row['other']) == ('on', 'x'), row\n")
    config = root / "conformance.toml"
    config.write_text(textwrap.dedent("""
        [app]
        project = "."
        env = { MODE = "off", OTHER = "x" }

        [[scenario]]
        name = "on"
        env = { MODE = "on" }
        ops = [{ op = "flags:note" }]
        invariant = "opts_env_checks:mode_on"

        [[scenario]]
        name = "the app's env"
        ops = [{ op = "flags:note" }]
        invariant = "opts_env_checks:mode_on"
        expect = "fail"
        expect_failure = "invariant"
    """))
    try:
        assert main(["check", str(config)]) == 0, capsys.readouterr()
        capsys.readouterr()
        # the command line overrides the file, the scenario's env included
        assert main(["check", str(config), "--env", "MODE=off"]) == 1
        assert "FAIL on:" in capsys.readouterr().out
        sys.path.insert(0, str(root))
        _make, scenarios = load_config(config)
        assert [s.env for s in scenarios] == [{"MODE": "on", "OTHER": "x"}, {"MODE": "off", "OTHER": "x"}]
    finally:
        if str(root) in sys.path:
            sys.path.remove(str(root))
        sys.modules.pop("opts_env_checks", None)


# -- JUnit time ---------------------------------------------------------------------------------

def test_junit_test_cases_carry_their_wall_time(folder, tmp_path):
    junit = tmp_path / "junit.xml"
    assert check(folder, "\n[[scenario]]\nname = \"lost\"\n" + LOST_UPDATE + "serializable = false\n"
                 "\n[[scenario]]\nname = \"again\"\n" + LOST_UPDATE + "serializable = false\n",
                 "--junit", str(junit)) == 0
    suite = ET.parse(junit).getroot()
    times = [float(case.get("time")) for case in suite.iter("testcase")]
    assert len(times) == 2 and all(t > 0 for t in times)
    assert float(suite.get("time")) == pytest.approx(sum(times), abs=0.002)


def test_the_documented_examples_follow_the_schema():
    """Each TOML example of docs/ci.md's per-scenario options is a valid file (given an app)."""
    import re
    import tomllib

    from convex_sim import conformance_schema

    doc = (Path(__file__).resolve().parent.parent / "docs" / "ci.md").read_text()
    section = doc.split("## Per-scenario options", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert len(blocks) == 4
    for block in blocks:
        text = block if "[app]" in block else '[app]\nproject = "."\n' + block
        config = conformance_schema.parse(tomllib.loads(text), text)
        assert len(config.scenario) == 1
