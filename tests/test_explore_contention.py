"""Starvation under adversarial schedules is reported as contention, not as a correctness failure.

Convex gives up on a mutation after its OCC retries (convex-backend ``knobs.rs``,
``UDF_EXECUTOR_OCC_MAX_RETRIES``, verified in tests/test_fidelity_calls.py): an explorer that
keeps a commit losing can starve any correct app, so that verdict is separate.
"""

from convex_sim import ConvexSim, Op
from scenarios.races.schema import schema


def _explore(**options):
    sim = ConvexSim(schema, modules="scenarios.races", seed=0)
    sim.mutation("counter:set", {"name": "c", "value": 0})
    ops = [Op("counter:increment", {"name": "c"})] * 6
    return sim.explore(ops, strategy="random", max_schedules=150, seed=3, **options)


def test_starvation_is_reported_as_contention_and_the_app_passes():
    result = _explore()
    assert result.ok and result.contention, str(result)
    assert all(f.kind == "error ContentionError" for f in result.contention)
    assert "starved by contention" in str(result)
    assert "ContentionError" in str(result.contention[0])


def test_contention_can_be_made_a_failure():
    result = _explore(fail_on_contention=True)
    assert not result.ok and not result.contention
    assert result.failures[0].kind == "error ContentionError"
