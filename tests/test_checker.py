"""The history checker: each anomaly class built by hand and named; ranges; files; recording."""

import json
from pathlib import Path

import pytest

from convex_sim import ConvexSim
from convex_sim.checker import (
    HIGH,
    LOW,
    DocWrite,
    HistoryError,
    HistoryRecorder,
    KeyRange,
    TxnRecord,
    VersionRead,
    check_history,
    dump_history,
    load_history,
)
from convex_sim.checker.model import within
from scenarios.bank.schema import schema as bank_schema


def get(doc: str) -> KeyRange:
    """A db.get of ``doc`` (a point read in by_id)."""
    return KeyRange("t", "by_id", (doc,), (doc, HIGH))


def put(doc: str, owner: str | None = None, old_owner: str | None = None, *, new: bool = True,
        insert: bool = False, over: int | None = None) -> DocWrite:
    """A write of ``doc``; with owners, its keys in by_owner before and after."""
    keys = [("by_id", None if insert else (doc,), (doc,) if new else None)]
    if owner is not None or old_owner is not None:
        keys.append(("by_owner", (old_owner, doc) if old_owner else None, (owner, doc) if owner else None))
    return DocWrite("t", doc, tuple(keys), over)


def owners(name: str) -> KeyRange:
    return KeyRange("t", "by_owner", (name,), (name, HIGH))


def txn(number: int, begin: int, commit: int | None, reads=(), writes=(), observed=()) -> TxnRecord:
    return TxnRecord(number, f"f{number}", begin, commit, tuple(reads), tuple(writes), tuple(observed))


def only(history) -> tuple[str, str]:
    report = check_history(history)
    assert len(report.anomalies) == 1, str(report)
    return report.anomalies[0].name, str(report.anomalies[0])


def test_a_serial_history_is_ok():
    history = [txn(1, 0, 1, [get("x")], [put("x")]), txn(2, 1, 2, [get("x")], [put("x")]),
               txn(3, 2, 2, [get("x")])]
    report = check_history(history)
    assert report.ok and report.edges == 3, str(report)   # ww 1→2, wr 1→2, wr 2→3
    assert "serializable" in str(report)
    report.assert_ok()


def test_g0_write_cycle():
    history = [txn(1, 0, 1, [], [put("x"), put("y", over=2)]), txn(2, 0, 2, [], [put("x"), put("y")])]
    name, text = only(history)
    assert name == "G0"
    assert "ww → T2" in text and "ww → T1" in text


def test_g1a_aborted_read():
    history = [txn(1, 0, None, [], [put("x")]), txn(2, 0, 1, [get("x")], [put("y")], [VersionRead("t", "x", 1)])]
    name, text = only(history)
    assert name == "G1a" and "aborted" in text


def test_g1b_intermediate_read():
    history = [txn(1, 0, 1, [], [put("x"), put("x")]), txn(2, 1, 2, [], [put("y")], [VersionRead("t", "x", 1, 0)])]
    name, _ = only(history)
    assert name == "G1b"


def test_g1c_circular_information_flow():
    history = [txn(1, 0, 1, [], [put("x")], [VersionRead("t", "y", 2)]),
               txn(2, 0, 2, [], [put("y")], [VersionRead("t", "x", 1)])]
    name, text = only(history)
    assert name == "G1c" and text.count("wr →") == 2


def test_g_single_lost_update():
    history = [txn(1, 0, 1, [get("x")], [put("x")]), txn(2, 0, 2, [get("x")], [put("x")])]
    name, text = only(history)
    assert name == "G-single"
    assert "T1 f1  snapshot 0 → commit 1" in text
    assert "ww → T2: T2's update of t x replaced the version T1 wrote" in text
    assert "rw → T1: T2 read t x at snapshot 0; T1's update (commit 1) replaced that version" in text


def test_g2_item_write_skew():
    history = [txn(1, 0, 1, [get("x"), get("y")], [put("x")]), txn(2, 0, 2, [get("x"), get("y")], [put("y")])]
    name, text = only(history)
    assert name == "G2-item" and text.count("rw →") == 2


def test_g2_predicate_phantom_inserts():
    history = [txn(1, 0, 1, [owners("a")], [put("p", "a", insert=True)]),
               txn(2, 0, 2, [owners("a")], [put("q", "a", insert=True)])]
    name, text = only(history)
    assert name == "G2"
    assert text.count("rw (predicate) →") == 2 and "changes what that range holds" in text


def test_a_row_moved_into_a_range_is_a_predicate_edge():
    # T2 moves p from owner b to owner a, into the range T1 read; T1 writes z, which T2 read.
    history = [txn(1, 0, 1, [owners("a")], [put("z")]),
               txn(2, 0, 2, [get("z")], [put("p", "a", "b")])]
    name, text = only(history)
    assert name == "G2" and "rw (predicate) → T2" in text and "rw → T1" in text
    # The same move, read after it committed: no anomaly.
    assert check_history([txn(1, 2, 3, [owners("a")], [put("z")]), txn(2, 0, 2, [get("z")], [put("p", "a", "b")])]).ok


def test_a_write_to_the_last_row_of_a_take_is_inside_the_range():
    # T1 read the range up to exactly p's key (a take(1)); T2 updates p in place.
    take = KeyRange("t", "by_owner", ("a",), ("a", "p"))
    history = [txn(1, 0, 1, [take], [put("p", "a", "a")]), txn(2, 0, 2, [take], [put("p", "a", "a")])]
    assert only(history)[0] == "G-single"


def test_a_delete_inside_a_range_is_an_edge():
    # p was in the range T1 read (T1 saw it): its deletion replaces a version T1 read.
    history = [txn(1, 0, 1, [owners("a")], [put("z")]),
               txn(2, 0, 2, [get("z")], [put("p", None, "a", new=False)])]
    name, text = only(history)
    assert name == "G2-item" and "T1 read t p through t.by_owner ['a' .. 'a', …] at snapshot 0; T2's delete" in text


def test_within_handles_prefixes_and_extremes():
    assert within(("a", 1), ("a",), ("a", HIGH))
    assert not within(("b",), ("a",), ("a", HIGH))
    assert within(("a", 5), ("a", 5), ("a", 5))          # both ends inclusive
    assert not within(("a", 5), ("a", LOW), ("a",))      # a bare prefix as upper bound excludes
    assert within((), (), (HIGH,)) and not within(("a",), (), ())


def test_one_anomaly_per_component_and_deterministic_reports():
    lost = [txn(1, 0, 1, [get("x")], [put("x")]), txn(2, 0, 2, [get("x")], [put("x")])]
    skew = [txn(3, 2, 3, [get("u"), get("v")], [put("u")]), txn(4, 2, 4, [get("u"), get("v")], [put("v")])]
    report = check_history(lost + skew)
    assert [a.name for a in report.anomalies] == ["G-single", "G2-item"]
    assert str(report) == str(check_history(lost + skew))
    with pytest.raises(AssertionError, match="2 anomalies; the first:\nG-single"):
        report.assert_ok()


def test_bad_histories_are_clear_errors(tmp_path):
    with pytest.raises(HistoryError, match="unique, got T1 twice"):
        check_history([txn(1, 0, 1), txn(1, 1, 2)])
    with pytest.raises(HistoryError, match="observed t x as written by T9, which is not in the history"):
        check_history([txn(1, 0, 1, observed=[VersionRead("t", "x", 9)])])
    path = tmp_path / "h.jsonl"
    path.write_text('{"convex_sim_history": 1}\n{"txn": "one", "begin": 0, "commit": 1}\n')
    with pytest.raises(HistoryError, match="line 2: field 'txn' expected int, got 'one'"):
        load_history(path)
    path.write_text('{"txn": 1}\n')
    with pytest.raises(HistoryError, match="line 1: expected the header"):
        load_history(path)


def test_history_files_round_trip(tmp_path):
    history = [txn(1, 0, 1, [owners("a")], [put("p", "a", insert=True)]),
               txn(2, 0, 2, [owners("a")], [put("q", "a", insert=True)]),
               txn(3, 2, None, [get("p")], [put("p", "b", "a")], [VersionRead("t", "p", 1)])]
    path = dump_history(history, tmp_path / "h.jsonl")
    lines = Path(path).read_text().splitlines()
    assert json.loads(lines[0]) == {"convex_sim_history": 1} and len(lines) == 4
    loaded = load_history(path)
    assert loaded == history
    assert str(check_history(loaded)) == str(check_history(history))


def test_recording_a_simulator_run_is_serializable():
    sim = ConvexSim(bank_schema, modules="scenarios.bank", seed=0)
    recorder = HistoryRecorder(sim.db)
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    for _ in range(3):
        sim.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 10})
    recorder.stop()
    sim.mutation("bank:transfer", {"src": "ada", "dst": "bob", "amount": 10})
    assert [t.function for t in recorder.transactions] == ["bank:open_account"] * 2 + ["bank:transfer"] * 3
    assert [t.commit for t in recorder.transactions] == [1, 2, 3, 4, 5]
    report = recorder.check()
    assert report.ok and report.edges > 5, str(report)


def test_the_command_checks_a_history_file(tmp_path, capsys):
    from convex_sim.cli import main

    lost = [txn(1, 0, 1, [get("x")], [put("x")]), txn(2, 0, 2, [get("x")], [put("x")])]
    assert main(["check-history", dump_history(lost, tmp_path / "lost.jsonl")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("history: 2 transactions (2 committed), 2 dependency edges: 1 anomaly\nG-single")
    assert main(["check-history", dump_history(lost[:1], tmp_path / "one.jsonl")]) == 0
    assert "serializable" in capsys.readouterr().out
    assert main(["check-history", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
