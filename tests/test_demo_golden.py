"""`make demo` prints exactly tests/golden/demo.txt (regenerate: CONVEX_SIM_UPDATE_GOLDEN=1 pytest)."""

import os
from pathlib import Path

from convex_sim.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden" / "demo.txt"
TS_SECTIONS = "\n== typescript"


def test_demo_output_matches_the_golden_file(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    if os.environ.get("CONVEX_SIM_UPDATE_GOLDEN"):
        GOLDEN.write_text(out)
    golden = GOLDEN.read_text()
    ts_skipped = "  skipped: " in out.split(TS_SECTIONS, 1)[1]
    if ts_skipped:  # no Node.js here: the Python sections must still match exactly
        out, golden = out.split(TS_SECTIONS, 1)[0], golden.split(TS_SECTIONS, 1)[0]
    assert out == golden


def test_the_demo_shows_every_race_with_its_fix_and_a_legend():
    golden = GOLDEN.read_text()
    for race in ("bank:transfer_via_action x2", "counter: read then write (client flow) x2",
                 "signup: register_via_action x2", "orders: place + cancel, racing the job",
                 "bank:transferViaAction x2 (TypeScript)"):
        timeline = golden.split(f"\n{race}, shrunk to its shortest schedule:\nSchedule '", 1)[1]
        assert "\nfix: " in timeline.split("\n\n", 1)[0]
    assert "  conflicts: commits the OCC committer rejected" in golden
    assert "  sleep_blocked: branches not explored" in golden
    assert "virtual clock 2024-01-01T00:00:00Z" in golden
