from convex_sim.cli import main


def test_demo_runs_the_scenarios_and_shows_the_race(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "pages, newest first: [['message 4', 'message 3'], ['message 2', 'message 1'], ['message 0']]" in out
    assert "second conflicts: bank:transfer committed at ts 3" in out
    assert "balances: ada 40, bob 60" in out
    assert "balances: ada -20, bob 120" in out


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("convex_sim 0.1.0")
