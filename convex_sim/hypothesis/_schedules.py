"""Hypothesis strategies for schedules: let ``@given`` search interleavings and shrink them.

::

    from hypothesis import given
    from convex_sim.hypothesis import schedules

    @given(choices=schedules())
    def test_transfers_never_overdraw(choices):
        run = sim.run_schedule(ops, choices, invariant=no_overdraft, check_serializable=False)
        assert run.ok, str(run)

A schedule is a list of op indices (taken modulo the number of ops): which
op advances at each step; when the list runs out, the ops finish one after
another. Hypothesis shrinks failing lists toward shorter ones with smaller
indices, which means fewer steps and fewer context switches.
"""

from __future__ import annotations

from hypothesis import strategies as st


def schedules(max_steps: int = 64, ops: int | None = None) -> st.SearchStrategy[list[int]]:
    """Choice lists for ``sim.run_schedule``; ``ops`` bounds the indices (default: any)."""
    if type(max_steps) is not int or max_steps < 0:
        raise ValueError(f"schedules: max_steps must be an int >= 0, got {max_steps!r}")
    if ops is not None and (type(ops) is not int or ops < 1):
        raise ValueError(f"schedules: ops must be an int >= 1, got {ops!r}")
    return st.lists(st.integers(0, (ops - 1) if ops else 255), max_size=max_steps)
