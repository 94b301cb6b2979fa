"""Differential testing against convex-test: the TypeScript bank scenario, the same seeded call
sequences through both simulators, every answer and the final tables compared."""

from pathlib import Path

import pytest

from convex_sim import ConvexSim
from convex_sim.differential import Mismatch, _shrink, compare, run_convex_sim
from scenarios.ts_bank import TABLES, call_sequences

PEER = Path(__file__).resolve().parent.parent / "conformance" / "differential"


@pytest.fixture(scope="module")
def peer(ts_bank_project):
    from convex_sim.js.bundler import install_node_modules

    install_node_modules(PEER)
    return PEER


def test_convex_sim_agrees_with_convex_test_on_seeded_sequences(ts_bank_project, peer):
    from convex_sim.differential import differential

    sequences = call_sequences(60, seed=2024, max_calls=10)
    result = differential(ts_bank_project, sequences, TABLES, peer=peer)
    assert result.sequences == 60 and result.calls == sum(len(s) for s in sequences)
    assert result.ok, "\n\n".join(map(str, result.mismatches))


def test_a_difference_is_found_and_named(ts_bank_project):
    sequences = call_sequences(3, seed=5)
    ours = run_convex_sim(ts_bank_project, sequences, TABLES)
    is_ours = lambda text: ConvexSim.from_project(ts_bank_project).db.table_of_id(text) is not None  # noqa: E731
    assert compare(sequences, ours, ours, is_ours, TABLES, is_ours) == []
    theirs = run_convex_sim(ts_bank_project, sequences, TABLES)
    theirs[1]["results"][0] = {"convexError": {"code": "SOMETHING_ELSE"}}
    (found,) = compare(sequences, ours, theirs, is_ours, TABLES, is_ours)
    assert found.where == "call 1" and found.sequence == sequences[1]
    assert "convex-test: {\"convexError\": {\"code\": \"SOMETHING_ELSE\"}}" in str(found)


def test_shrinking_keeps_only_the_calls_that_matter():
    calls = [{"kind": "mutation", "path": f"m:f{i}", "args": {}} for i in range(6)]

    def disagreements(batch):  # a fake pair of simulators that disagree whenever f2 and f4 both run
        return [Mismatch(list(s), "call 1", 1, 2) for s in batch
                if {"m:f2", "m:f4"} <= {c["path"] for c in s}]

    shrunk = _shrink(Mismatch(calls, "call 1", 1, 2), disagreements)
    assert [c["path"] for c in shrunk.sequence] == ["m:f2", "m:f4"]


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
