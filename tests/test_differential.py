"""Differential testing against convex-test: the same TypeScript apps (the bank, the inventory,
convex-test's own app when the corpus holds it), the same seeded call sequences — function
calls, clock advances, scheduled functions, HTTP requests — through both simulators, every
answer and the final tables compared."""

import shutil
from pathlib import Path

import pytest

from convex_sim import ConvexSim
from convex_sim.differential import (
    Mismatch,
    _shrink,
    compare,
    differential,
    result_ref,
    run_convex_sim,
)
from convex_sim.differential.calls import drop_call
from scenarios import ts_bank, ts_inventory
from tests.conftest import prepared_project

PEER = Path(__file__).resolve().parent.parent / "conformance" / "differential"


@pytest.fixture(scope="module")
def peer():
    """convex-test, installed from its lock file (skipped, saying what to install, without
    Node.js and npm: convex-test runs under vitest)."""
    from convex_sim.js.bundler import install_node_modules

    if shutil.which("node") is None or shutil.which("npx") is None:
        pytest.skip("Node.js and npm are not installed: install them (https://nodejs.org) to compare "
                    "convex-sim with convex-test")
    install_node_modules(PEER)
    return PEER


def _convex_test_app():
    from conformance import convex_test_app

    project, why = convex_test_app.project()
    if project is None:
        pytest.skip(f"{why} (`make corpus` fetches it)")
    return project, convex_test_app


APPS = {
    "ts_bank": lambda: (prepared_project(ts_bank.PROJECT), ts_bank),
    "ts_inventory": lambda: (prepared_project(ts_inventory.PROJECT), ts_inventory),
    "convex-test": _convex_test_app,
}


@pytest.mark.parametrize("app", list(APPS))
def test_convex_sim_agrees_with_convex_test_on_seeded_sequences(app, peer):
    project, module = APPS[app]()
    sequences = module.call_sequences(40, seed=2024)
    result = differential(project, sequences, module.TABLES, peer=peer)
    assert result.sequences == 40 and result.calls == sum(len(s) for s in sequences)
    assert result.ok, "\n\n".join(map(str, result.mismatches))


@pytest.mark.parametrize("module", [ts_bank, ts_inventory])
def test_generated_sequences_move_time_run_the_scheduler_and_send_http(module):
    sequences = module.call_sequences(60, seed=1)
    assert sequences == module.call_sequences(60, seed=1)
    kinds = {call["kind"] for s in sequences for call in s}
    assert {"advance", "finishScheduled", "fetch", "query", "mutation", "action"} <= kinds
    assert any("$result" in str(call.get("args")) for s in sequences for call in s)


#: A job scheduled a second ahead, looked at before, at and after its time; an HTTP action.
TIMELINE = [
    {"kind": "mutation", "path": "jobs:scheduleLater", "args": {"ms": 1000.0, "body": "later"}},
    {"kind": "advance", "ms": 999.0},
    {"kind": "query", "path": "jobs:status", "args": {"id": result_ref(0)}},
    {"kind": "advance", "ms": 1.0},
    {"kind": "query", "path": "jobs:status", "args": {"id": result_ref(0)}},
    {"kind": "fetch", "path": "/webhook", "method": "POST", "json": {"author": "ada", "body": "hook"}},
    {"kind": "mutation", "path": "jobs:scheduleLater", "args": {"ms": 60_000.0, "body": "much later"}},
    {"kind": "finishScheduled"},
    {"kind": "query", "path": "messages:list", "args": {"channel": "jobs"}},
]


def test_time_the_scheduler_and_http_are_driven_on_both_sides(ts_bank_project, peer):
    from convex_sim.differential import ConvexTestRunner

    theirs = ConvexTestRunner(ts_bank_project, peer).run([TIMELINE], ts_bank.TABLES)[0]["results"]
    ours = run_convex_sim(ts_bank_project, [TIMELINE], ts_bank.TABLES)[0]["results"]
    for side in (ours, theirs):
        assert side[2]["ok"]["state"] == {"kind": "pending"}
        assert side[4]["ok"]["state"] == {"kind": "success"}
        assert side[5]["ok"]["status"] == 200 and side[5]["ok"]["body"]["ok"] is True
        assert sorted(m["body"] for m in side[8]["ok"]) == ["later", "much later"]
    assert differential(ts_bank_project, [TIMELINE], ts_bank.TABLES, peer=peer).ok


def test_a_convex_sim_that_does_not_run_due_jobs_is_caught(ts_bank_project, peer, monkeypatch):
    monkeypatch.setattr(ConvexSim, "advance_time", lambda self, ms: self._clock.advance(ms))
    result = differential(ts_bank_project, [TIMELINE[:5]], ts_bank.TABLES, peer=peer, shrink=0)
    (found,) = result.mismatches
    assert found.where == "call 5" and "advance 1 ms" in str(found)
    assert found.convex_sim["ok"]["state"] == {"kind": "pending"}


def test_a_difference_is_found_and_named(ts_bank_project):
    sequences = ts_bank.call_sequences(3, seed=5)
    ours = run_convex_sim(ts_bank_project, sequences, ts_bank.TABLES)
    is_ours = lambda text: ConvexSim.from_project(ts_bank_project).db.table_of_id(text) is not None  # noqa: E731
    assert compare(sequences, ours, ours, is_ours, ts_bank.TABLES, is_ours) == []
    theirs = run_convex_sim(ts_bank_project, sequences, ts_bank.TABLES)
    theirs[1]["results"][0] = {"convexError": {"code": "SOMETHING_ELSE"}}
    (found,) = compare(sequences, ours, theirs, is_ours, ts_bank.TABLES, is_ours)
    assert found.where == "call 1" and found.sequence == sequences[1]
    assert "convex-test: {\"convexError\": {\"code\": \"SOMETHING_ELSE\"}}" in str(found)


def test_a_wrong_http_answer_is_a_difference(ts_bank_project):
    ours = run_convex_sim(ts_bank_project, [TIMELINE], ts_bank.TABLES)
    theirs = run_convex_sim(ts_bank_project, [TIMELINE], ts_bank.TABLES)
    theirs[0]["results"][5]["ok"]["status"] = 500.0
    is_ours = ConvexSim.from_project(ts_bank_project).db.table_of_id
    (found,) = compare([TIMELINE], ours, theirs, lambda t: is_ours(t) is not None, ts_bank.TABLES,
                       lambda t: is_ours(t) is not None)
    assert found.where == "call 6" and "fetch POST /webhook" in str(found)


def test_ids_inside_strings_are_normalised():
    call = {"kind": "query", "path": "m:f", "args": {}}
    ours = [{"results": [{"ok": "1 of ours1"}], "tables": {}}]
    theirs = [{"results": [{"ok": "1 of 0001products"}], "tables": {}}]
    assert compare([[call]], ours, theirs, lambda t: t == "ours1", (), lambda t: t == "0001products") == []
    theirs[0]["results"][0]["ok"] = "2 of 0001products"
    assert len(compare([[call]], ours, theirs, lambda t: t == "ours1", (), lambda t: t == "0001products")) == 1


def test_shrinking_keeps_only_the_calls_that_matter():
    calls = [{"kind": "mutation", "path": f"m:f{i}", "args": {}} for i in range(6)]

    def disagreements(batch):  # a fake pair of simulators that disagree whenever f2 and f4 both run
        return [Mismatch(list(s), "call 1", 1, 2) for s in batch
                if {"m:f2", "m:f4"} <= {c["path"] for c in s}]

    shrunk = _shrink(Mismatch(calls, "call 1", 1, 2), disagreements)
    assert [c["path"] for c in shrunk.sequence] == ["m:f2", "m:f4"]


def test_dropping_a_call_renumbers_the_references_to_later_results():
    calls = [{"kind": "mutation", "path": "a:x", "args": {}},
             {"kind": "mutation", "path": "a:y", "args": {}},
             {"kind": "mutation", "path": "a:z", "args": {"id": result_ref(1), "other": result_ref(0, "k")}}]
    assert drop_call(calls, 0)[1]["args"] == {"id": result_ref(0), "other": None}


JOB = {"_id": "j", "_creationTime": 1.0, "name": "jobs:tick", "args": [{}], "scheduledTime": 5.0}


def _one_call_outcomes(ours_value, theirs_value):
    call = {"kind": "query", "path": "jobs:status", "args": {}}
    return [[call]], [{"results": [{"ok": ours_value}], "tables": {}}], [{"results": [{"ok": theirs_value}],
                                                                         "tables": {}}]


@pytest.mark.parametrize("ours, theirs, departure", [
    ({**JOB, "state": {"kind": "success"}, "completedTime": 5.0}, {**JOB, "state": {"kind": "success"}},
     "completedTime of a scheduled function that succeeded or was canceled"),
    ({**JOB, "state": {"kind": "success"}}, {**JOB, "state": {"kind": "canceled"}},
     "canceling a scheduled function that already ran"),
])
def test_a_listed_scheduler_departure_is_counted_not_reported(ours, theirs, departure):
    not_ids = lambda _text: False  # noqa: E731
    seen: dict[str, int] = {}
    assert compare(*_one_call_outcomes(ours, theirs), not_ids, (), not_ids, seen) == []
    assert seen == {departure: 1}
    # the other way round is no departure: convex-sim would be the one departing from Convex
    assert len(compare(*_one_call_outcomes(theirs, ours), not_ids, (), not_ids, {})) == 1


def test_a_known_convex_test_departure_is_counted_not_reported():
    call = {"kind": "query", "path": "messages:page",
            "args": {"channel": "a", "paginationOpts": {"numItems": 1.0, "cursor": None}}}
    page = {"page": [{"_id": "x", "_creationTime": 1.0}], "continueCursor": "c", "splitCursor": None,
            "pageStatus": None}
    ours = [{"results": [{"ok": {**page, "isDone": False}}], "tables": {}}]
    theirs = [{"results": [{"ok": {**page, "isDone": True}}], "tables": {}}]
    not_ids = lambda _text: False  # noqa: E731
    seen: dict[str, int] = {}
    assert compare([[call]], ours, theirs, not_ids, (), not_ids, seen) == []
    assert seen == {"a page that fills exactly on the last row": 1}
    theirs[0]["results"][0]["ok"]["page"] = []        # a different page is not that departure
    assert len(compare([[call]], ours, theirs, not_ids, (), not_ids, {})) == 1
