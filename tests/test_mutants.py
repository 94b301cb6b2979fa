"""The mutants of tools/mutants.py still apply (``make mutants`` runs them against the suite)."""

import pytest

from tools.mutants import BY_NAME, MUTANTS, ROOT, Mutant, MutantError, mutated_source, patched


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_applies_and_changes_its_file(mutant):
    source = (ROOT / mutant.path).read_text()
    assert mutated_source(mutant, source) != source


def test_a_mutant_whose_text_moved_is_an_error():
    stale = Mutant("stale", "convex_sim/database/log.py", (("no such text", "x"),), "nothing")
    with pytest.raises(MutantError, match=r"mutant stale: expected the text .no such text. once in "
                                          r"convex_sim/database/log\.py, found it 0 time"):
        mutated_source(stale, (ROOT / stale.path).read_text())


def test_patched_applies_in_process_and_undoes():
    from convex_sim.database import ReadRange

    read = ReadRange("t", "by_id", (1,), (3,))
    assert read.contains((3,))
    with patched("contains-exclusive-hi") as mutant:
        assert mutant is BY_NAME["contains-exclusive-hi"] and not read.contains((3,))
    assert read.contains((3,))
