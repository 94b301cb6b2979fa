"""Loading traces and history files that are torn, damaged or hostile: what is read, what
is refused, and that only the documented error comes out (TraceError, HistoryError)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convex_sim import ConvexError, ConvexSim
from convex_sim.checker import HistoryError, check_history, dump_history, load_history
from convex_sim.checker.model import HIGH, DocWrite, KeyRange, TxnRecord
from convex_sim.trace import TraceError, TraceReader, TraceWriter, replay
from scenarios.bank.schema import schema as bank_schema

ROOT = Path(__file__).resolve().parent.parent


def bank_sim():
    return ConvexSim(bank_schema, modules="scenarios.bank", seed=0)


def record_session(path):
    """A trace with calls, an identity, an error, a ``sim.run`` and a clock move."""
    sim = bank_sim()
    with sim.record(path):
        sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
        sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
        with pytest.raises(ConvexError):
            sim.mutation("bank:transfer", {"src": "bob", "dst": "ada", "amount": 5})
        sim.with_identity(subject="ada").mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 30})
        sim.run(lambda ctx: ctx.db.insert("accounts", {"owner": "cy", "balance": 7}))
        sim.advance_time(1000)
        sim.query("bank:total", {})
    return path


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return record_session(tmp_path_factory.mktemp("trace") / "t.jsonl").read_bytes()


def lines_of(data):
    return data.splitlines(keepends=True)


# -- torn traces -------------------------------------------------------------------------

def test_a_torn_last_line_is_noted_and_the_lines_before_it_replay(tmp_path, session):
    path = tmp_path / "torn.jsonl"
    lines = lines_of(session)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    report = replay(bank_sim(), path)
    assert report.ok and report.events == len(lines) - 2
    assert report.notes == [f"{path}:{len(lines)}: torn last line (no newline at its end and not "
                            "complete JSON), skipped: the writer stopped in the middle of it"]
    assert "torn last line" in str(report)


def test_a_torn_last_line_cut_inside_a_utf8_character_is_still_torn(tmp_path):
    sim, path = bank_sim(), tmp_path / "t.jsonl"
    with sim.record(path):
        sim.mutation("bank:open_account", {"owner": "ådå", "balance": 1})
    data = path.read_bytes()
    cut = data.index("ådå".encode()) + 1    # inside the two bytes of "å"
    path.write_bytes(data[:cut])
    report = replay(bank_sim(), path)
    assert report.ok and report.events == 0 and "t.jsonl:2: torn last line" in report.notes[0]


@pytest.mark.parametrize("cut", ["half", "newline"])
def test_a_damaged_line_before_the_last_is_an_error_naming_file_and_line(tmp_path, session, cut):
    lines = lines_of(session)
    damaged = lines[2][:40] + (b"\n" if cut == "half" else b"")
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join([*lines[:2], damaged, *lines[3:]]))
    with pytest.raises(TraceError, match=r"t\.jsonl:3: not JSON"):
        replay(bank_sim(), path)


def test_a_complete_last_line_without_its_newline_is_read(tmp_path, session):
    path = tmp_path / "t.jsonl"
    path.write_bytes(session.rstrip(b"\n"))
    report = replay(bank_sim(), path)
    assert report.ok and report.notes == [] and report.events == len(lines_of(session)) - 1


def test_each_event_is_one_write_of_one_whole_line(tmp_path, monkeypatch):
    writes = []
    real_write = os.write

    def spy(fd, data):
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spy)
    writer = TraceWriter(tmp_path / "t.jsonl", {"app": None})
    big = "x" * 3_000_000
    for n in range(3):
        writer.write({"type": "call", "kind": "query", "path": "a:b", "args": {"big": big, "n": n}})
    writer.close()
    assert len(writes) == 4                       # the header, then one write per event
    assert all(w.endswith(b"\n") and w.count(b"\n") == 1 for w in writes)
    assert [json.loads(w)["args"]["n"] for w in writes[1:]] == [0, 1, 2]


_RECORD_FOREVER = """
import sys
sys.path.insert(0, {root!r})
from convex_sim import ConvexSim
from scenarios.bank.schema import schema
sim = ConvexSim(schema, modules="scenarios.bank", seed=0)
sim.mutation("bank:open_account", {{"owner": "ada", "balance": 1}})
with sim.record({path!r}):
    for n in range(1_000_000):
        sim.query("bank:balance", {{"owner": "ada" + "y" * 400_000 + str(n)}})
"""


@pytest.mark.parametrize("delay", [0.4, 0.9])
def test_a_recorder_killed_mid_run_leaves_whole_lines_and_at_most_a_torn_last_one(tmp_path, delay):
    path = tmp_path / "t.jsonl"
    partial = tmp_path / "t.jsonl.partial"
    child = subprocess.Popen([sys.executable, "-c", _RECORD_FOREVER.format(root=str(ROOT), path=str(path))])
    try:
        deadline = time.monotonic() + 60
        while (not partial.exists() or partial.stat().st_size < 2_000_000) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert partial.exists() and not path.exists()
    reader = TraceReader(partial)
    read = list(reader.events())
    assert len(read) >= 4
    assert [line for line, _ in read] == list(range(2, len(read) + 2))
    complete = partial.read_bytes().count(b"\n")
    assert len(read) == complete - 1 and len(reader.notes) <= 1


# -- bad input ---------------------------------------------------------------------------

def _replace_line(data, number, new):
    lines = lines_of(data)
    lines[number - 1] = new
    return b"".join(lines)


def _set_field(data, number, path, value):
    lines = lines_of(data)
    event = json.loads(lines[number - 1])
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    lines[number - 1] = json.dumps(event).encode() + b"\n"
    return b"".join(lines)


def _deep(n):
    return "[" * n + "]" * n


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: _replace_line(d, 3, b'{"type":"call","path":"\xff\xfe"}\n'), r"t\.jsonl:3: not UTF-8 text"),
    (lambda d: _replace_line(d, 3, f'{{"type":"call","args":{_deep(100_000)}}}\n'.encode()),
     r"t\.jsonl:3: nested deeper than 64 levels"),
    (lambda d: _replace_line(d, 3, f'{{"type":"call","args":{{"a":{_deep(70)}}}}}\n'.encode()),
     r"t\.jsonl:3: nested deeper than 64 levels"),
    (lambda d: _replace_line(d, 3, b'{"type":"call","kind":"query","start":NaN}\n'), r"t\.jsonl:3: not JSON"),
    (lambda d: _set_field(d, 3, ["kind"], 5), r"t\.jsonl:3: field 'kind' expected str, got 5"),
    (lambda d: _set_field(d, 3, ["path"], ["x"]), r"t\.jsonl:3: field 'path' expected str, got \['x'\]"),
    (lambda d: _set_field(d, 3, ["kind"], "dance"),
     r"t\.jsonl:3: field 'kind' expected one of query, mutation, action, run, got 'dance'"),
    (lambda d: _set_field(d, 3, ["args"], [1]), r"t\.jsonl:3: field 'args' expected object or null, got \[1\]"),
    (lambda d: _set_field(d, 3, ["args", "owner"], {"$bytes": "!!!"}),
     r"t\.jsonl:3: field 'args\.owner': .*\$bytes"),
    (lambda d: _set_field(d, 3, ["result"], {"$integer": "AAAA"}), r"t\.jsonl:3: field 'result': .*\$integer"),
    (lambda d: _set_field(d, 3, ["start"], "noon"), r"t\.jsonl:3: field 'start' expected number or null, got 'noon'"),
    (lambda d: _set_field(d, 3, ["snapshot_ts"], True), r"t\.jsonl:3: field 'snapshot_ts' expected int or null, got True"),
    (lambda d: _set_field(d, 3, ["identity"], "ada"), r"t\.jsonl:3: field 'identity' expected object or null, got 'ada'"),
    (lambda d: _set_field(d, 4, ["error"], {"data": 1}), r"t\.jsonl:4: missing field 'error\.type' \(str\)"),
    (lambda d: _set_field(d, 6, ["writes", 0, "table"], 7), r"t\.jsonl:6: field 'writes\[0\]\.table' expected str, got 7"),
    (lambda d: _set_field(d, 7, ["args"], "abc"), r"t\.jsonl:7: field 'args' expected array, got 'abc'"),
    (lambda d: _set_field(d, 7, ["args"], ["abc"]), r"t\.jsonl:7: field 'args\[0\]' expected number, got 'abc'"),
    (lambda d: _set_field(d, 7, ["op"], 3), r"t\.jsonl:7: field 'op' expected str, got 3"),
    (lambda d: _set_field(d, 1, ["seed"], "zero"), r"t\.jsonl:1: field 'seed' expected int or null, got 'zero'"),
    (lambda d: _set_field(d, 1, ["clock_start"], []), r"t\.jsonl:1: field 'clock_start' expected number or null"),
    (lambda d: _replace_line(d, 3, b"[1, 2]\n"), r"t\.jsonl:3: expected a JSON object, got \[1, 2\]"),
])
def test_bad_fields_and_encodings_are_trace_errors_naming_file_line_and_field(tmp_path, session, change, message):
    path = tmp_path / "t.jsonl"
    path.write_bytes(change(session))
    with pytest.raises(TraceError, match=message):
        replay(bank_sim(), path)


def test_a_line_over_the_size_cap_is_refused_before_it_is_read_whole(tmp_path, session):
    path = tmp_path / "t.jsonl"
    path.write_bytes(session)
    longest = max(len(line) for line in lines_of(session))
    assert replay(bank_sim(), path, max_line_bytes=longest).ok
    with pytest.raises(TraceError, match=rf"t\.jsonl:\d+: line longer than {longest - 1} bytes"):
        replay(bank_sim(), path, max_line_bytes=longest - 1)


# -- history files ---------------------------------------------------------------------------

HEADER = b'{"convex_sim_history": 1}\n'


def _txn(**fields):
    return json.dumps({"txn": 1, "function": "f", "begin": 0, "commit": 1, **fields}).encode() + b"\n"


@pytest.mark.parametrize(("line", "message"), [
    (b'{"txn": 1, "begin": 0, "commit": 1, "function": "\xff"}\n', r"h\.jsonl line 2: not UTF-8 text"),
    (_txn(reads=[{"table": "t", "index": "i", "lo": json.loads(_deep(500)), "hi": []}]),
     r"h\.jsonl line 2: nested deeper than 64 levels"),
    (b'{"txn": 1, "begin": 0, "commit": 1, "reads": ' + _deep(100_000).encode() + b"}\n",
     r"h\.jsonl line 2: nested deeper than 64 levels"),
    (_txn(reads=[{"table": "t", "index": "i", "lo": [{"$bytes": "!!!"}], "hi": []}]),
     r"h\.jsonl line 2 reads\[0\]\.lo\[0\]: invalid base64 in \$bytes: '!!!'"),
    (_txn(function=5), r"h\.jsonl line 2: field 'function' expected str, got 5"),
    (_txn(extra=5), r"h\.jsonl line 2: field 'extra' expected object, got 5"),
    (_txn(begin=True), r"h\.jsonl line 2: field 'begin' expected int, got True"),
    (_txn(reads=[{"table": "t", "index": "i", "lo": [], "hi": [], "description": 3}]),
     r"h\.jsonl line 2 reads\[0\]: field 'description' expected str, got 3"),
    (_txn(observed=[{"table": "t", "id": "x", "writer": 1, "write": "last"}]),
     r"h\.jsonl line 2 observed\[0\]: field 'write' expected int, got 'last'"),
    (_txn(writes=[{"table": "t", "id": "x", "keys": [["i", [1], [{"a": 1}]]]}]),
     r"h\.jsonl line 2 writes\[0\] keys\[0\]\[2\]\[0\]: a key element must be"),
    (_txn(reads=[5]), r"h\.jsonl line 2 reads\[0\]: expected an object, got 5"),
    (_txn(commit=1.5), r"h\.jsonl line 2: field 'commit' expected int or null, got 1\.5"),
    (b'{"txn": 1, "begin": 0, "commit": Infinity}\n', r"h\.jsonl line 2: not JSON"),
    (b"[1]\n", r"h\.jsonl line 2: expected an object, got \[1\]"),
    (b'{"txn": 1, "begin": 0, "commit": 1', r"h\.jsonl line 2: truncated last line"),
])
def test_bad_history_lines_are_history_errors_naming_line_and_field(tmp_path, line, message):
    path = tmp_path / "h.jsonl"
    path.write_bytes(HEADER + line)
    with pytest.raises(HistoryError, match=message):
        load_history(path)


def test_history_size_caps(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_bytes(HEADER + _txn() + _txn(txn=2, commit=2, begin=1))
    assert len(load_history(path)) == 2
    with pytest.raises(HistoryError, match=r"h\.jsonl: \d+ bytes, more than the 100-byte limit"):
        load_history(path, max_bytes=100)
    with pytest.raises(HistoryError, match=r"h\.jsonl line 2: line longer than 30 bytes"):
        load_history(path, max_line_bytes=30)


def test_a_history_is_dumped_atomically(tmp_path):
    path = tmp_path / "h.jsonl"
    good = [TxnRecord(1, "f", 0, 1, (KeyRange("t", "by_id", (("x",),), (("x",), HIGH)),),
                      (DocWrite("t", "x", (("by_id", None, (("x",),)),)),))]
    dump_history(good, path)
    before = path.read_bytes()

    def broken():
        yield TxnRecord(2, "g", 1, 2)
        raise RuntimeError("the recorder failed")

    with pytest.raises(RuntimeError):
        dump_history(broken(), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["h.jsonl"]


# -- Hypothesis: mutated files give a result or the documented error ---------------------

def _mutations():
    """A strategy of functions mangling the lines of a JSON Lines file."""
    junk = st.sampled_from([b"", b"\xff", b"\xc3", b"NaN", b"[" * 3000, b'{"$bytes": "!!"}', b"null",
                            b'"', b"}", b"1e999999", b"9" * 5000, b"true", b'{"$integer": "AA=="}'])

    @st.composite
    def mutate(draw, data):
        lines = lines_of(data)
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(lines) - 1))
            kind = draw(st.sampled_from(["flip", "truncate", "duplicate", "drop", "splice", "replace_value"]))
            line = lines[i]
            if kind == "flip" and line:
                at = draw(st.integers(0, len(line) - 1))
                line = line[:at] + bytes([line[at] ^ (1 << draw(st.integers(0, 7)))]) + line[at + 1:]
            elif kind == "truncate":
                line = line[:draw(st.integers(0, len(line)))]
            elif kind == "duplicate":
                lines.insert(i, line)
            elif kind == "drop" and len(lines) > 1:
                del lines[i]
                continue
            elif kind == "splice" and line:
                at = draw(st.integers(0, len(line)))
                line = line[:at] + draw(junk) + line[at:]
            elif kind == "replace_value":
                line = _swap_a_value(line, draw)
            if i < len(lines):
                lines[i] = line
        return b"".join(lines)

    return mutate


def _swap_a_value(line, draw):
    """One field of the line's object set to a value of another type."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return line
    if not isinstance(obj, dict) or not obj:
        return line
    key = draw(st.sampled_from(sorted(obj)))
    obj[key] = draw(st.sampled_from([None, 1, -1, 2.5, True, "x", [], {}, [1, "a"], {"$bytes": "%%"},
                                     {"a": {"b": [None]}}, "bank:balance", "query", "run"]))
    return json.dumps(obj).encode() + (b"\n" if line.endswith(b"\n") else b"")


_FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])


@_FUZZ
@given(data=st.data())
def test_a_mutated_trace_replays_or_raises_trace_error(tmp_path, session, data):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data.draw(_mutations()(session)))
    try:
        report = replay(bank_sim(), path)
    except TraceError as exc:
        assert str(path) in str(exc)
    else:
        assert report.events >= 0


@_FUZZ
@given(data=st.data())
def test_a_mutated_history_loads_or_raises_history_error(tmp_path, data):
    history = [TxnRecord(1, "bank:a", 0, 1, (KeyRange("t", "by_owner", ((5, "ada"),), ((5, "ada"), HIGH)),),
                         (DocWrite("t", "x", (("by_id", None, ((5, "x"),)), ("by_owner", None, ((5, "ada"), b"\x01"))),),)),
               TxnRecord(2, "bank:b", 0, 2, (KeyRange("t", "by_id", ((5, "x"),), ((5, "x"), HIGH)),),
                         (DocWrite("t", "x", (("by_id", ((5, "x"),), None),), over=1),))]
    source = tmp_path / "h.jsonl"
    dump_history(history, source)
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data.draw(_mutations()(source.read_bytes())))
    try:
        check_history(load_history(path))
    except HistoryError as exc:
        assert str(path) in str(exc) or "T" in str(exc)


def test_a_call_refused_for_a_lone_surrogate_is_recorded_and_noted_on_replay(tmp_path):
    """What the app refused never breaks the recording (the trace is UTF-8 JSON): the caller
    gets the app's InvalidValueError, the event keeps the arguments' ASCII repr, and replay
    says it did not re-run that call."""
    from convex_sim.errors import InvalidValueError

    path = tmp_path / "t.jsonl"
    sim = bank_sim()
    with sim.record(path):
        with pytest.raises(InvalidValueError, match="not valid Unicode"):
            sim.mutation("bank:open_account", {"owner": "a\ud800", "balance": 1})
        sim.mutation("bank:open_account", {"owner": "bo", "balance": 1})
    events = [json.loads(line) for line in path.read_text("utf-8").splitlines()[1:]]
    assert events[0]["args"] == {"$repr": ascii({"owner": "a\ud800", "balance": 1})}
    assert events[0]["error"]["type"] == "InvalidValueError"
    report = replay(bank_sim(), path)
    assert report.ok and report.events == 2
    assert any("line 2: bank:open_account" in note and "not replayed" in note for note in report.notes)
