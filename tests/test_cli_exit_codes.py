"""Every ``convex-sim`` command: 0 ok, 1 a real divergence, anomaly or failed check, 2 bad
input with one line naming the file (never a traceback); the docs' table says the same."""

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convex_sim import ConvexSim
from convex_sim.checker import dump_history
from convex_sim.checker.model import HIGH, DocWrite, KeyRange, TxnRecord
from convex_sim.cli import main
from scenarios.bank.schema import schema as bank_schema

ROOT = Path(__file__).resolve().parent.parent
BANK_CONFIG = ROOT / "scenarios" / "bank" / "conformance.toml"


def run(argv):
    """``main(argv)`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "t.jsonl"
    sim = ConvexSim(bank_schema, modules="scenarios.bank", seed=0)
    with sim.record(path):
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
        sim.query("bank:balance", {"owner": "ada"})
        sim.advance_time(10)
    return path.read_bytes()


def _history():
    def get(doc):
        return KeyRange("t", "by_id", ((5, doc),), ((5, doc), HIGH))

    def put(doc):
        return DocWrite("t", doc, (("by_id", ((5, doc),), ((5, doc),)),))

    return [TxnRecord(1, "f", 0, 1, (get("x"),), (put("x"),)), TxnRecord(2, "g", 0, 2, (get("x"),), (put("x"),))]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    return Path(dump_history(_history(), tmp_path_factory.mktemp("cli") / "h.jsonl")).read_bytes()


def assert_bad_input(code, err, *fragments):
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


# -- replay --------------------------------------------------------------------------------

def _replace(data, old, new):
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize(("change", "fragments"), [
    (lambda d: d + b'{"type":"call","path":"\xff"}\n', ["t.jsonl:5:", "not UTF-8"]),
    (lambda d: d + b'{"type":"call","args":' + b"[" * 50_000 + b"]" * 50_000 + b"}\n",
     ["t.jsonl:5:", "nested deeper than 64 levels"]),
    (lambda d: _replace(d, b'"kind":"query"', b'"kind":5'), ["t.jsonl:3:", "field 'kind' expected str, got 5"]),
    (lambda d: _replace(d, b'"path":"bank:balance"', b'"path":["x"]'), ["t.jsonl:3:", "field 'path'"]),
    (lambda d: _replace(d, b'"args":[10]', b'"args":"abc"'), ["t.jsonl:4:", "field 'args' expected array"]),
    (lambda d: _replace(d, b'"args":{"owner":"ada"}', b'"args":{"owner":{"$bytes":"!!!"}}'),
     ["t.jsonl:3:", "field 'args.owner'"]),
    (lambda d: _replace(d, b'"version":1', b'"version":"1"'), ["t.jsonl:1:", "version"]),
    (lambda d: b"\xef\xbb\xbf" + d, ["t.jsonl:1:"]),
])
def test_replay_bad_input_is_exit_2_in_one_line(tmp_path, trace, change, fragments):
    path = tmp_path / "t.jsonl"
    path.write_bytes(change(trace))
    code, _out, err = run(["replay", str(path), "--app", "scenarios.bank"])
    assert_bad_input(code, err, "convex-sim replay: ", *fragments)


def test_replay_ok_divergence_and_torn_last_line(tmp_path, trace):
    path = tmp_path / "t.jsonl"
    path.write_bytes(trace)
    assert run(["replay", str(path), "--app", "scenarios.bank"])[0] == 0
    path.write_bytes(trace + b'{"type":"call","client":"sim","ki')
    code, out, err = run(["replay", str(path), "--app", "scenarios.bank"])
    assert code == 0 and "3 events replayed, no divergence" in out
    assert f"convex-sim replay: note: {path}:5: torn last line" in err
    path.write_bytes(_replace(trace, b'"result":{"$integer":"ZAAAAAAAAAA="}', b'"result":{"$integer":"ZQAAAAAAAAA="}'))
    assert run(["replay", str(path), "--app", "scenarios.bank"])[0] == 1


def test_replay_line_cap_flag(tmp_path, trace):
    path = tmp_path / "t.jsonl"
    path.write_bytes(trace)
    code, _out, err = run(["replay", str(path), "--app", "scenarios.bank", "--max-line-bytes", "100"])
    assert_bad_input(code, err, "line longer than 100 bytes")


def test_replay_of_a_missing_file_or_app_is_exit_2(tmp_path, trace):
    code, _out, err = run(["replay", str(tmp_path / "none.jsonl"), "--app", "scenarios.bank"])
    assert_bad_input(code, err, "none.jsonl")
    path = tmp_path / "t.jsonl"
    path.write_bytes(trace)
    code, _out, err = run(["replay", str(path), "--app", "scenarios.nothing_here"])
    assert_bad_input(code, err, "scenarios.nothing_here")
    code, _out, err = run(["replay", str(path), "--app", "scenarios.bank", "--invariant", "json:nothing"])
    assert_bad_input(code, err, "json:nothing")


# -- check-history -----------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "fragments"), [
    (b'{"txn": 3, "begin": 0, "commit": 3, "function": "\xff"}\n', ["h.jsonl line 4", "not UTF-8"]),
    (b'{"txn": 3, "begin": 0, "commit": 3, "reads": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n",
     ["h.jsonl line 4", "nested deeper than 64 levels"]),
    (b'{"txn": 3, "begin": 0, "commit": 3, "extra": 5}\n', ["h.jsonl line 4", "field 'extra' expected object, got 5"]),
    (b'{"txn": 3, "begin": 0, "commit": 3, "reads": [{"table": "t", "index": "i", "lo": [{"$bytes": "!!!"}], "hi": []}]}\n',
     ["h.jsonl line 4 reads[0].lo[0]", "invalid base64"]),
    (b'{"txn": 3, "begin": 0, "commit": ' + b"9" * 5000 + b"}\n", ["h.jsonl line 4", "not JSON"]),
])
def test_check_history_bad_input_is_exit_2_in_one_line(tmp_path, history, line, fragments):
    path = tmp_path / "h.jsonl"
    path.write_bytes(history + line)
    code, _out, err = run(["check-history", str(path)])
    assert_bad_input(code, err, "convex-sim check-history: ", *fragments)


def test_check_history_codes_and_caps(tmp_path, history):
    path = tmp_path / "h.jsonl"
    path.write_bytes(history)
    assert run(["check-history", str(path)])[0] == 1            # a lost update: an anomaly
    path.write_bytes(history.rsplit(b"\n", 2)[0] + b"\n")
    assert run(["check-history", str(path)])[0] == 0
    code, _out, err = run(["check-history", str(path), "--max-bytes", "10"])
    assert_bad_input(code, err, "more than the 10-byte limit")
    code, _out, err = run(["check-history", str(path), "--max-line-bytes", "20"])
    assert_bad_input(code, err, "line longer than 20 bytes")


# -- check, codegen, usage ----------------------------------------------------------------------

def test_check_bad_input_is_exit_2_in_one_line(tmp_path):
    cases = {
        "unknown key": BANK_CONFIG.read_text().replace("invariant =", "invariants =", 1),
        "wrong type": BANK_CONFIG.read_text().replace("times = 3", 'times = "3"', 1),
        "not utf-8": b'[app]\nmodules = "\xff"\n',
        "setup fails": BANK_CONFIG.read_text().replace('balance = 100 } }', 'balance = "lots" } }', 1),
        "unknown op": BANK_CONFIG.read_text().replace('op = "bank:transfer"', 'op = "bank:nope"', 1),
    }
    for name, text in cases.items():
        config = tmp_path / "c.toml"
        config.write_text(text) if isinstance(text, str) else config.write_bytes(text)
        code, _out, err = run(["check", str(config)])
        assert code == 2, name
        assert_bad_input(code, err, "convex-sim check: ", "c.toml")
    code, _out, err = run(["check", str(BANK_CONFIG), "--junit", str(tmp_path)])   # a folder
    assert_bad_input(code, err, str(tmp_path))


def test_codegen_of_a_missing_project_is_exit_2(tmp_path):
    code, _out, err = run(["codegen", str(tmp_path / "missing")])
    assert_bad_input(code, err, "No project at")


def test_usage_errors_are_exit_2():
    assert run(["replay"])[0] == 2
    assert run(["check-history"])[0] == 2
    assert run(["nonsense"])[0] == 2
    assert run(["replay", "t.jsonl", "--app", "x", "--max-line-bytes", "lots"])[0] == 2


# -- the docs agree -------------------------------------------------------------------------------

def test_the_docs_table_lists_every_command_and_its_codes():
    reference = (ROOT / "docs" / "reference.md").read_text()
    table = reference.split("## The `convex-sim` command", 1)[1]
    rows = dict(re.findall(r"^\| `convex-sim ([a-z-]+)[^`]*` \|(.*)\|$", table, re.M))
    code, out, _err = run(["--help"])
    assert code == 0
    commands = set(re.search(r"\{([a-z,-]+)\}", out).group(1).split(","))
    assert set(rows) == commands
    for command, codes in rows.items():
        assert "0" in codes and ("2" in codes or command in ("demo", "version")), command


# -- Hypothesis: mutated input, in-process, exit 0/1/2 and no escaping exception ----------------

_JUNK = st.sampled_from([b"", b"\xff", b"[" * 2000, b'{"$bytes":"!"}', b"NaN", b"9" * 5000, b"{}", b"\n"])


@st.composite
def mangled(draw, data):
    lines = data.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        kind = draw(st.sampled_from(["flip", "truncate", "duplicate", "splice"]))
        if kind == "flip" and line:
            at = draw(st.integers(0, len(line) - 1))
            lines[i] = line[:at] + bytes([line[at] ^ (1 << draw(st.integers(0, 7)))]) + line[at + 1:]
        elif kind == "truncate":
            lines[i] = line[:draw(st.integers(0, len(line)))]
        elif kind == "duplicate":
            lines.insert(i, line)
        else:
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(_JUNK) + line[at:]
    return b"".join(lines)


_FUZZ = settings(max_examples=80, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_FUZZ
@given(data=st.data())
def test_replay_of_mutated_traces_exits_0_1_or_2_cleanly(tmp_path, trace, data):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data.draw(mangled(trace)))
    code, _out, err = run(["replay", str(path), "--app", "scenarios.bank"])
    assert code in (0, 1, 2) and "Traceback" not in err
    if code == 2:
        assert err.count("\n") == 1 and "fuzz.jsonl" in err


@_FUZZ
@given(data=st.data())
def test_check_history_of_mutated_histories_exits_0_1_or_2_cleanly(tmp_path, history, data):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data.draw(mangled(history)))
    code, _out, err = run(["check-history", str(path)])
    assert code in (0, 1, 2) and "Traceback" not in err
    if code == 2:
        assert err.count("\n") == 1


# -- real processes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["replay", "check-history"])
def test_a_real_process_exits_2_without_a_traceback(tmp_path, command):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"format":"convex-sim-trace","version":1}\n{"type":"call","path":"\xff"}\n'
                     if command == "replay" else b'{"convex_sim_history": 1}\n' + b"[" * 100_000 + b"\n")
    extra = ["--app", "scenarios.bank"] if command == "replay" else []
    proc = subprocess.run([sys.executable, "-m", "convex_sim", command, str(path), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1 and "bad.jsonl" in proc.stderr


def test_a_real_process_exits_1_on_an_anomaly(tmp_path):
    path = dump_history(_history(), tmp_path / "h.jsonl")
    proc = subprocess.run([sys.executable, "-m", "convex_sim", "check-history", path],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1 and "G-single" in proc.stdout and proc.stderr == ""

