"""Hypothesis strategies for convex-sim: schedules, values, arguments, documents, workloads.

::

    from hypothesis import given
    from convex_sim.hypothesis import ops, schedules

    @given(workload=ops(sim, ["bank:transfer", "bank:transfer_via_action"], max_ops=4,
                        fields={"src": owners, "dst": owners}),
           choices=schedules())
    def test_no_overdraft(workload, choices):
        run = sim.run_schedule(workload, choices, invariant=no_overdraft)
        assert run.ok, str(run)

- :func:`schedules`: interleavings, as choice lists for ``sim.run_schedule``;
- :func:`from_validator`: values that pass a validator (IDs of existing documents);
- :func:`args_for`: arguments of an app function (Python or TypeScript);
- :func:`documents_for`: documents of a table of a schema;
- :func:`ops`: concurrent workloads of app functions;
- :class:`ConvexStateMachine`: stateful fuzzing whose rules are app functions.
"""

from ._ops import Workload, ops
from ._schedules import schedules
from ._values import StrategyContext, StrategyError, args_for, documents_for, from_validator
from .stateful import ConvexStateMachine

__all__ = [
    "ConvexStateMachine",
    "StrategyContext",
    "StrategyError",
    "Workload",
    "args_for",
    "documents_for",
    "from_validator",
    "ops",
    "schedules",
]
