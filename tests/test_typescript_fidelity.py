"""Convex behaviours checked through a TypeScript app (scenarios/ts_bank/convex/fidelity.ts):
the same behaviours tests/test_action_concurrency.py and tests/test_fidelity_*.py check for
Python apps, reached through the `convex` package's syscalls."""


def test_promise_all_of_run_mutation(ts, within):
    """``Promise.all`` of ``ctx.runMutation`` promises (convex-backend npm-packages/convex/src/
    server/impl/actions_impl.ts: each is an async syscall ``1.0/actions/mutation``): every
    mutation commits, and the action sees all of them."""
    assert within(30, lambda: ts.action("fidelity:tickAll", {"n": 4})) == 4.0


def test_set_timeout_in_an_action_moves_the_clock_and_runs_due_jobs(ts, within):
    """``setTimeout`` in an action waits for time to pass, and a function the action scheduled
    runs meanwhile (Convex docs "Scheduled Functions"); here the wait moves the virtual clock."""
    start = ts.clock
    result = within(30, lambda: ts.action("fidelity:scheduleAndPoll", {}))
    assert result == {"polls": 4.0, "waitedMs": 1000.0}
    assert ts.clock - start == 1000.0
    assert ts.query("fidelity:jobsDone", {}) == ["success"]


def test_deployment_and_request_metadata_and_audit_log(ts):
    # convex meta_impl.js / audit_logging.js: the deployment's name, region and class; the
    # request's metadata; an audit entry is kept with the call's logs, not dropped.
    first = ts.mutation("fidelity:deploymentAndRequest", {})
    assert first["deployment"] == {"name": "sim", "region": None, "class": "s16"}
    assert first["request"]["ip"] is None and len(first["request"]["requestId"]) == 16
    assert '[AUDIT] fidelity:deploymentAndRequest: {"action": "inspect", "count": 2}' in ts.calls[-1].logs
    again = ts.mutation("fidelity:deploymentAndRequest", {})
    assert again["request"]["requestId"] != first["request"]["requestId"]
