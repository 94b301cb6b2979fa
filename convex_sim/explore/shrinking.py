"""Shrinking, generic over choice sequences: it knows nothing of the app."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence


def shrink(choices: list[int], run: Callable[[list[int]], tuple[tuple, list[int]] | None],
           budget: int = 400) -> list[int]:
    """The simplest schedule found that still fails.

    ``run(candidate)`` returns ``(simplicity key, schedule executed)`` if
    ``candidate`` still fails (a smaller key is simpler), else None. A
    candidate is kept only if it is strictly simpler, so shrinking ends; the
    search then continues from the schedule it executed, every step explicit.
    Passes: cut the list short (the rest runs op by op), delete one choice,
    swap two neighbouring choices.
    """
    first = run(list(choices))
    if first is None:
        return list(choices)
    best, best_choices = first
    tries = 0

    def attempt(candidate: list[int]) -> bool:
        nonlocal best, best_choices, tries
        if tries >= budget:
            return False
        tries += 1
        found = run(candidate)
        if found is not None and found[0] < best:
            best, best_choices = found
            return True
        return False

    improved = True
    while improved and tries < budget:
        improved = False
        for cut in range(len(best_choices)):
            if attempt(best_choices[:cut]):
                improved = True
                break
        for i in range(len(best_choices) - 1, -1, -1):
            if i < len(best_choices) and attempt(best_choices[:i] + best_choices[i + 1:]):
                improved = True
        i = 0
        while i + 1 < len(best_choices):   # an accepted swap may leave a shorter schedule
            a, b = best_choices[i], best_choices[i + 1]
            if a != b and attempt([*best_choices[:i], b, a, *best_choices[i + 2:]]):
                improved = True
            i += 1
    return best_choices


def switches(choices: Sequence[int]) -> int:
    """The number of context switches in a schedule: neighbouring choices of different ops."""
    return sum(1 for a, b in itertools.pairwise(choices) if a != b)
