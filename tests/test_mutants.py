"""The mutants of tools/mutants.py still apply (``make mutants`` runs them against the suite)."""

import pytest

from tools.mutants import (
    BY_NAME,
    MUTANTS,
    ROOT,
    Mutant,
    MutantError,
    copy_repository,
    installed_node_modules,
    main,
    mutated_source,
    patched,
)


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


# --- the gate's copies and its control ------------------------------------------------------------

TOKEN_TEST = "tests/test_auth_tokens.py::test_a_token_is_refused_from_the_second_of_its_exp"


def test_a_copy_holds_real_node_modules_and_bundles_inside_itself(tmp_path):
    from convex_sim.js import node_tools_missing
    from convex_sim.js.bundler import bundle_project

    installed = installed_node_modules()
    if ROOT / "scenarios" / "ts_bank" / "node_modules" not in installed or node_tools_missing():
        pytest.skip(node_tools_missing() or "the TypeScript scenarios are not installed")
    copy_repository(tmp_path)
    for modules in installed:
        copied = tmp_path / modules.relative_to(ROOT)
        assert copied.is_dir() and not copied.is_symlink() and not (copied / ".cache").exists()
        assert (copied / ".package-lock.json").read_bytes() == (modules / ".package-lock.json").read_bytes()
    bundle = bundle_project(tmp_path / "scenarios" / "ts_bank")
    assert bundle.cache_dir.is_relative_to(tmp_path)


def test_a_passing_control_lets_the_mutants_run(capsys):
    assert main(["--test", TOKEN_TEST, "token-accepted-at-exp"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"passed    control (no mutant){' ' * 17} 1 passed")
    assert f"killed    token-accepted-at-exp{' ' * 15} FAILED {TOKEN_TEST}" in out
    assert "1/1 mutants killed" in out


def test_a_broken_control_stops_the_gate_before_any_mutant(capsys):
    assert main(["--break-control", "--test", TOKEN_TEST, "token-accepted-at-exp"]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"failed    control (no mutant){' ' * 17} ERROR {TOKEN_TEST}")
    assert "no mutant was run" in out and "token-accepted-at-exp" not in out
