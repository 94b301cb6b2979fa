"""Concurrent workloads: lists of ``Op`` whose functions and arguments Hypothesis draws."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hypothesis import strategies as st

from ..explore import Op
from ._values import Fields, StrategyError, args_for


class Workload(list):
    """The operations :func:`ops` drew: a list of ``Op`` that also remembers the slot each
    op was drawn in, out of ``width`` slots.

    ``sim.run_schedule`` reads a schedule's choices as slot numbers (modulo ``width``;
    a choice naming an empty slot is skipped). Removing one op therefore leaves the
    choices of the others meaning what they meant, which lets Hypothesis shrink the
    workload one op at a time while the failing interleaving stays put.
    """

    def __init__(self, operations: Iterable[Op], slots: Sequence[int], width: int) -> None:
        super().__init__(operations)
        # invariant: len(slots) == len(self), slots strictly increasing, each < width
        self.slots = tuple(slots)
        self.width = width

    def choices_for(self, choices: Sequence[int]) -> list[int]:
        """Schedule choices (slot numbers) as positions in this list."""
        position = {slot: i for i, slot in enumerate(self.slots)}
        return [position[c % self.width] for c in choices if c % self.width in position]


def _workload(slots: list[Op | None]) -> Workload:
    drawn = [(i, op) for i, op in enumerate(slots) if op is not None]
    return Workload([op for _, op in drawn], [i for i, _ in drawn], len(slots))


def ops(sim: Any, functions: Sequence[Any], *, max_ops: int = 5, min_ops: int = 1,
        fields: Fields | None = None, identities: Sequence[Any] = (),
        max_size: int = 5) -> st.SearchStrategy[Workload]:
    """Workloads of ``min_ops..max_ops`` operations, each a call of one of ``functions``
    with arguments from its args validator (``fields`` overrides arguments by name), run
    as one of ``identities`` if any are given. With :func:`schedules`, one ``@given``
    fuzzes the workload, its data and its interleaving, and Hypothesis shrinks all three::

        @given(workload=ops(sim, ["bank:transfer"], max_ops=4), choices=schedules())
        def test_no_overdraft(workload, choices):
            assert sim.run_schedule(workload, choices, invariant=no_overdraft).ok
    """
    if type(max_ops) is not int or type(min_ops) is not int or not 1 <= min_ops <= max_ops:
        raise StrategyError(f"ops: need 1 <= min_ops <= max_ops, got min_ops={min_ops!r}, "
                            f"max_ops={max_ops!r}")
    if isinstance(functions, str) or not functions:
        raise StrategyError(f"ops: functions must be a non-empty list of paths, got {functions!r}")
    paths = [sim.registry.resolve(f, caller="ops").path for f in functions]
    per_function = {path: args_for(sim, path, fields=fields, max_size=max_size) for path in paths}
    who = st.sampled_from(list(identities)) if identities else st.none()
    # one_of rather than flatmap: the shrinker moves an op to an earlier function and
    # simplifies its arguments in place; an empty slot (None) is the simplest slot of all.
    one_op = st.one_of([st.builds(Op, st.just(path), per_function[path], who) for path in paths])
    slots = st.lists(st.none() | one_op, min_size=max_ops, max_size=max_ops)
    enough = slots.filter(lambda drawn: sum(op is not None for op in drawn) >= min_ops)
    return enough.map(_workload)
