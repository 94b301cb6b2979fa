"""`convex-sim check`: declared scenarios explored, JUnit XML and a Markdown summary for CI,
exit codes 0 (as expected), 1 (a violation), 2 (bad input); sharding."""

import xml.etree.ElementTree as ET
from pathlib import Path

from convex_sim.check import load_config, shard
from convex_sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "scenarios" / "bank" / "conformance.toml"


def test_the_bundled_bank_scenarios_hold_and_junit_is_written(tmp_path, capsys):
    junit, summary = tmp_path / "out" / "junit.xml", tmp_path / "summary.md"
    assert main(["check", str(BANK), "--junit", str(junit), "--summary", str(summary)]) == 0
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "2" and suite.get("failures") == "0"
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names[0].startswith("three transfers") and not list(suite.iter("failure"))
    assert "| two transfers through an action" in summary.read_text()
    assert (junit.stat().st_mode & 0o777) == 0o644


def test_the_bundled_typescript_scenarios_hold(ts_bank_project):
    assert main(["check", str(ts_bank_project / "conformance.toml")]) == 0


def test_a_seeded_race_fails_with_exit_1_and_its_timeline(tmp_path, capsys):
    config = tmp_path / "race.toml"
    config.write_text(BANK.read_text().replace('expect = "fail"\n', ""))
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    assert main(["check", str(config), "--junit", str(junit), "--summary", str(summary)]) == 1
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "1"
    (failure,) = suite.iter("failure")
    assert "ada has balance -20" in failure.text
    text = summary.read_text()
    assert "**VIOLATION**" in text and "Schedule 'BAAABB'" in text and "bank:transfer_via_action" in text


def test_a_race_expected_but_absent_is_a_violation(tmp_path):
    config = tmp_path / "none.toml"
    config.write_text(BANK.read_text().replace('ops = [{ op = "bank:transfer_via_action"', 'ops = [{ op = "bank:transfer"'))
    assert main(["check", str(config)]) == 1


def test_bad_input_exits_2_with_the_reason(tmp_path, capsys):
    cases = {
        "no app": "[[scenario]]\nops = [{ op = \"bank:transfer\" }]\n",
        "bad strategy": BANK.read_text().replace('invariant = "scenarios.bank.bank:no_overdraft"\n\n',
                                                 'invariant = "scenarios.bank.bank:no_overdraft"\nstrategy = "dfs"\n\n', 1),
        "bad invariant": BANK.read_text().replace("bank:no_overdraft", "bank:nothing_here", 1),
        "not toml": "[app\n",
    }
    messages = {}
    for name, text in cases.items():
        config = tmp_path / f"{name.replace(' ', '_')}.toml"
        config.write_text(text)
        assert main(["check", str(config)]) == 2, name
        messages[name] = capsys.readouterr().err
    assert "missing key `app` at the top level" in messages["no app"]
    assert "strategy: expected 'exhaustive', 'random' or 'pct', got 'dfs'" in messages["bad strategy"]
    assert "cannot load invariant 'scenarios.bank.bank:nothing_here'" in messages["bad invariant"]
    assert "cannot read the conformance file" in messages["not toml"]
    assert main(["check", str(BANK), "--shard", "2/2"]) == 2


def test_shards_split_the_scenarios_without_overlap():
    _make, scenarios = load_config(BANK)
    parts = [shard(scenarios, f"{i}/2") for i in (0, 1)]
    assert [len(p) for p in parts] == [1, 1]
    assert {s.name for s in parts[0]} | {s.name for s in parts[1]} == {s.name for s in scenarios}
    assert not {s.name for s in parts[0]} & {s.name for s in parts[1]}
