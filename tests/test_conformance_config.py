"""conformance.toml is validated whole: unknown keys (with the nearest known one), wrong
types, unreadable files; only CheckConfigError comes out of load_config."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convex_sim.check import CheckConfigError, load_config
from convex_sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "scenarios" / "bank" / "conformance.toml"

APP = '[app]\nmodules = "scenarios.bank"\n\n'
SCENARIO = '''[[scenario]]
name = "transfers"
setup = [{ mutation = "bank:open_account", args = { owner = "ada", balance = 100 } }]
ops = [{ op = "bank:transfer", args = { src = "ada", dst = "bob", amount = 60 }, times = 2 }]
invariant = "scenarios.bank.bank:no_overdraft"
budget = 50
'''


def write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def error_of(tmp_path, text):
    with pytest.raises(CheckConfigError) as raised:
        load_config(write(tmp_path, text))
    return str(raised.value)


@pytest.mark.parametrize(("text", "expected"), [
    (APP + SCENARIO.replace("invariant =", "invariants ="),
     "c.toml, line 8: unknown key `invariants` in [[scenario]] 1; did you mean `invariant`?"),
    (APP + SCENARIO.replace("times = 2", "time = 2"),
     "c.toml, line 7: unknown key `time` in [[scenario]] 1 ops[0]; did you mean `times`?"),
    (APP + SCENARIO.replace('args = { src', 'arg = { src'),
     "c.toml, line 7: unknown key `arg` in [[scenario]] 1 ops[0]; did you mean `args`?"),
    (APP + SCENARIO.replace("mutation = ", "mutaton = "),
     "c.toml, line 6: unknown key `mutaton` in [[scenario]] 1 setup[0]; did you mean `mutation`?"),
    (APP.replace("modules", "module") + SCENARIO,
     "c.toml, line 2: unknown key `module` in [app]; did you mean `modules`?"),
    (APP + SCENARIO.replace("[[scenario]]", "[[scenarios]]"),
     "c.toml, line 4: unknown key `scenarios` at the top level; did you mean `scenario`?"),
    (APP + SCENARIO + 'colour = "blue"\n',
     "c.toml, line 10: unknown key `colour` in [[scenario]] 1 (known: "),
])
def test_unknown_keys_are_named_with_table_line_and_nearest_key(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


@pytest.mark.parametrize(("text", "expected"), [
    (APP + SCENARIO.replace("budget = 50", 'budget = "50"'),
     "[[scenario]] 1 budget: expected an integer, got '50'"),
    (APP + SCENARIO.replace("times = 2", 'times = "3"'),
     "[[scenario]] 1 ops[0].times: expected an integer, got '3'"),
    (APP + SCENARIO.replace("times = 2", "times = 0"),
     "[[scenario]] 1 ops[0].times: expected an integer of at least 1, got 0"),
    (APP + SCENARIO.replace("budget = 50", "budget = true"),
     "[[scenario]] 1 budget: expected an integer, got True"),
    (APP + SCENARIO.replace('name = "transfers"', "name = 5"),
     "[[scenario]] 1 name: expected a string, got 5"),
    (APP + SCENARIO.replace('args = { src = "ada", dst = "bob", amount = 60 }', 'args = "ada"'),
     "[[scenario]] 1 ops[0].args: expected a table, got 'ada'"),
    (APP + SCENARIO.replace("budget = 50", 'strategy = "dfs"'),
     "[[scenario]] 1 strategy: expected 'exhaustive', 'random' or 'pct', got 'dfs'"),
    (APP + SCENARIO.replace("budget = 50", "expect = 1"),
     "[[scenario]] 1 expect: expected 'ok' or 'fail', got 1"),
    (APP + SCENARIO.replace(SCENARIO.splitlines()[2], "setup = 3"), "[[scenario]] 1 setup: expected an array, got 3"),
    (APP + SCENARIO.replace('{ mutation = "bank:open_account",', '{ mutation = "bank:open_account", query = "x",'),
     "[[scenario]] 1 setup[0]: a setup call names exactly one of query, mutation, action"),
    (APP + SCENARIO.replace('invariant = "scenarios.bank.bank:no_overdraft"',
                            'invariant = 2024-01-01T00:00:00Z'),
     "[[scenario]] 1 invariant: expected a string, got datetime"),
    (APP + SCENARIO.replace("amount = 60", "amount = 2024-01-01"), "[[scenario]] 1 ops[0].args.amount: "),
    (APP.replace('"scenarios.bank"', "[1]") + SCENARIO, "[app] modules: expected a string, got [1]"),
    ('[app]\nenv = { "1X" = "y" }\nmodules = "scenarios.bank"\n' + SCENARIO, "[app] env"),
    ("app = 3\n" + SCENARIO, "app: expected a table, got 3"),
    ("scenario = 3\n" + APP, "scenario: expected an array, got 3"),
    (APP, "no [[scenario]] declared"),
    (APP + SCENARIO.replace("ops = [", "ops = [] #"), "[[scenario]] 1 ops: expected a non-empty array, got []"),
    (b'[app]\nmodules = "\xff"\n', "c.toml: not UTF-8 text"),
    ("x = " + "[" * 5000 + "]" * 5000 + "\n" + APP + SCENARIO, "c.toml: nested deeper than"),
])
def test_wrong_types_and_values_are_clear_errors(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert expected in message
    assert "\n" not in message


def test_an_op_may_act_as_an_identity(tmp_path):
    text = APP + SCENARIO.replace("times = 2", 'times = 2, identity = { subject = "ada", name = "Ada" }')
    _make, scenarios = load_config(write(tmp_path, text))
    assert [op.identity for op in scenarios[0].ops] == [{"subject": "ada", "name": "Ada"}] * 2
    bad = APP + SCENARIO.replace("times = 2", 'times = 2, identity = "ada"')
    assert "[[scenario]] 1 ops[0].identity: expected a table, got 'ada'" in error_of(tmp_path, bad)


def test_the_documented_format_is_what_is_accepted():
    """Every key the conformance reference lists is a key the schema knows, and the reverse."""
    from convex_sim.check import config_keys

    doc = (ROOT / "docs" / "ci.md").read_text()
    for table, keys in config_keys().items():
        for key in keys:
            assert f"`{key}`" in doc, (table, key)


def test_the_cli_exits_2_with_the_unknown_key(tmp_path, capsys):
    path = write(tmp_path, APP + SCENARIO.replace("invariant =", "invariants ="))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean `invariant`?" in err and "Traceback" not in err


# -- Hypothesis: a mutated conformance file loads or raises CheckConfigError ----------------

_VALUES = st.sampled_from(['"x"', "1", "-1", "0", "true", "[]", "{}", "1.5", '"fail"', '"random"',
                           "2024-01-01", '{ a = 1 }', '[{ op = "bank:transfer" }]', '"bank:nope"',
                           '"scenarios.bank.bank:nothing"', '"os:getcwd"', "nan", "inf", "[[1]]"])
_KEYS = st.sampled_from(["name", "setup", "ops", "invariant", "budget", "strategy", "expect", "times",
                         "args", "arg", "op", "identity", "modules", "project", "schema", "env", "timez"])


@st.composite
def mutated_config(draw):
    lines = BANK.read_text().splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["flip", "truncate", "duplicate", "drop", "assign", "value"]))
        if kind == "flip" and lines[i]:
            raw = lines[i].encode("utf-8", "surrogateescape")
            at = draw(st.integers(0, len(raw) - 1))
            raw = raw[:at] + bytes([raw[at] ^ (1 << draw(st.integers(0, 7)))]) + raw[at + 1:]
            lines[i] = raw.decode("utf-8", "surrogateescape")
        elif kind == "truncate":
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "drop" and len(lines) > 1:
            del lines[i]
        elif kind == "assign":
            lines.insert(i, f"{draw(_KEYS)} = {draw(_VALUES)}\n")
        elif kind == "value" and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {draw(_VALUES)}\n"
    return "".join(lines).encode("utf-8", "surrogateescape")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated_config())
def test_a_mutated_config_loads_or_raises_check_config_error(tmp_path, text):
    path = write(tmp_path, text, "fuzz.toml")
    try:
        make, scenarios = load_config(path)
    except CheckConfigError as exc:
        assert "\n" not in str(exc)
    else:
        assert scenarios and all(s.ops for s in scenarios) and callable(make)


def test_a_config_past_its_size_cap_is_refused_without_reading_it_whole(tmp_path):
    """The cap has a default (1 MiB) and a parameter; an endless file is not read whole."""
    from convex_sim.check import MAX_CONFIG_BYTES, CheckConfigError, load_config

    assert MAX_CONFIG_BYTES == 1 << 20
    path = tmp_path / "c.toml"
    path.write_text('[app]\nmodules = "scenarios.bank"\n' + "# padding\n" * 20)
    with pytest.raises(CheckConfigError, match="more than a conformance file's 100-byte limit"):
        load_config(path, max_bytes=100)
    with pytest.raises(CheckConfigError, match="more than a conformance file's 1048576-byte limit"):
        load_config("/dev/zero")
