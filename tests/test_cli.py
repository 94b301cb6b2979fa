from convex_sim.cli import main


def test_demo_explores_the_scenarios_and_shows_the_race(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "pages, newest first: [['message 4', 'message 3'], ['message 2', 'message 1'], ['message 0']]" in out
    assert "bank:transfer x3 (one mutation each)      exhaustive: 12 schedules, 3 distinct outcomes, ok" in out
    assert "bank:transfer_via_action x2               exhaustive: 10 schedules, 2 distinct outcomes, 1 failure(s)" in out
    assert "signup: register_via_action x2" in out and "orders: place + cancel" in out
    assert "Schedule 'BAAABB' (6 steps, 2 context switches)" in out
    assert "FAILED (after step 6): invariant failed: ada has balance -20" in out
    assert "third order refused by components.limiter_a: {'code': 'RATE_LIMITED'" in out
    assert "rolled back as one: {'orders': 2, 'counted': 2.0, 'audited': 2.0}" in out
    assert "sharded counter component x3              exhaustive: 1 schedules, 1 distinct outcomes, ok (conflicts 0" in out
    ts_components = out.split("== typescript components:")[1]
    assert "skipped" in ts_components or (
        "installed: pool, pool/batchWorker, rateLimiter, rateLimiter/batchWorker, scores, scores/batchWorker, shardedCounter, tallyA, tallyA/counter, tallyB, tallyB/counter" in ts_components
        and "@convex-dev/sharded-counter add x3        exhaustive: 1 schedules" in ts_components
        and "aggregate of 3, 5, 7: {'count': 3.0, 'sum': 15.0}; workpool ran [0.0, 1.0, 2.0]" in ts_components)


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("convex_sim 0.1.0")
