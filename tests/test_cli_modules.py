"""The ``convex-sim`` command imports the user's modules as pytest's rootdir does: ``check``
from the conformance file's folder (then the current directory), ``replay`` from the current
directory (then ``--project``'s folder), for every option naming a ``module:attribute``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from convex_sim import ConvexSim
from convex_sim.cli import main

CONSOLE_SCRIPT = Path(sys.executable).parent / "convex-sim"


def write_app(folder: Path, name: str) -> None:
    """A Python app package ``name`` and an invariant module ``{name}_checks`` in ``folder``."""
    files = {
        f"{name}/__init__.py": "",
        f"{name}/schema.py": """
            from convex_sim import define_schema, define_table, v
            schema = define_schema({"counters": define_table({"value": v.int64()})})
        """,
        f"{name}/counter.py": """
            from convex_sim import mutation, v

            @mutation(args={})
            def bump(ctx, args):
                row = ctx.db.query("counters").first()
                if row is None:
                    return ctx.db.insert("counters", {"value": 1})
                ctx.db.patch(row["_id"], {"value": row["value"] + 1})
                return row["_id"]
        """,
        f"{name}_checks.py": """
            def at_most_three(ctx):
                assert all(row["value"] <= 3 for row in ctx.db.query("counters").collect())
        """,
        "conformance.toml": f"""
            [app]
            modules = "{name}"

            [[scenario]]
            name = "two bumps"
            ops = [{{ op = "counter:bump", times = 2 }}]
            invariant = "{name}_checks:at_most_three"
        """,
    }
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(textwrap.dedent(text))


@pytest.fixture
def forget_modules():
    """Names of modules a test imports from its temporary folder, dropped afterwards."""
    names: list[str] = []
    yield names
    for module in list(sys.modules):
        if any(module == n or module.startswith(n + ".") for n in names):
            del sys.modules[module]


def console(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The installed ``convex-sim`` console script (its sys.path has no project folder)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(CONSOLE_SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def test_the_console_script_checks_a_file_in_the_current_directory(tmp_path):
    write_app(tmp_path, "cli_modules_here")
    run = console(["check", "conformance.toml"], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok   two bumps" in run.stdout


def test_the_console_script_checks_a_file_in_another_folder(tmp_path):
    app = tmp_path / "shop"
    app.mkdir()
    write_app(app, "cli_modules_there")
    run = console(["check", "shop/conformance.toml"], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_check_in_process_finds_modules_beside_the_file_and_restores_sys_path(tmp_path, forget_modules):
    forget_modules += ["cli_modules_inproc", "cli_modules_inproc_checks"]
    write_app(tmp_path, "cli_modules_inproc")
    before = list(sys.path)
    assert main(["check", str(tmp_path / "conformance.toml")]) == 0
    assert sys.path == before


def test_a_module_that_is_nowhere_is_still_exit_2_naming_it(tmp_path, capsys, forget_modules):
    forget_modules += ["cli_modules_missing"]
    write_app(tmp_path, "cli_modules_missing")
    config = tmp_path / "conformance.toml"
    config.write_text(config.read_text().replace("cli_modules_missing_checks:", "not_a_module_anywhere:"))
    assert main(["check", str(config)]) == 2
    assert "No module named 'not_a_module_anywhere'" in capsys.readouterr().err


def _trace(folder: Path, name: str) -> Path:
    """A trace of two bumps of the app ``name`` in ``folder``."""
    sys.path.insert(0, str(folder))
    try:
        from importlib import import_module

        sim = ConvexSim(import_module(f"{name}.schema").schema, modules=name, seed=0)
        trace = folder / "traces" / "t.jsonl"
        trace.parent.mkdir()
        with sim.record(trace):
            sim.mutation("counter:bump", {})
            sim.mutation("counter:bump", {})
    finally:
        sys.path.remove(str(folder))
    return trace


def test_the_console_script_replays_with_modules_from_the_current_directory(tmp_path, forget_modules):
    forget_modules += ["cli_modules_replay"]
    write_app(tmp_path, "cli_modules_replay")
    _trace(tmp_path, "cli_modules_replay")
    run = console(["replay", "traces/t.jsonl", "--app", "cli_modules_replay",
                   "--schema", "cli_modules_replay.schema:schema", "--explore",
                   "--invariant", "cli_modules_replay_checks:at_most_three"], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 events replayed, no divergence" in run.stdout


def test_replay_does_not_import_from_the_traces_folder(tmp_path, capsys, forget_modules):
    forget_modules += ["cli_modules_trace_dir", "cli_modules_trace_dir_checks"]
    write_app(tmp_path, "cli_modules_trace_dir")
    trace = _trace(tmp_path, "cli_modules_trace_dir")
    (tmp_path / "cli_modules_trace_dir_checks.py").rename(trace.parent / "cli_modules_trace_dir_checks.py")
    sys.path.insert(0, str(tmp_path))   # the app itself is importable; the invariant is beside the trace
    try:
        assert main(["replay", str(trace), "--app", "cli_modules_trace_dir", "--explore",
                     "--invariant", "cli_modules_trace_dir_checks:at_most_three"]) == 2
    finally:
        sys.path.remove(str(tmp_path))
    assert "No module named 'cli_modules_trace_dir_checks'" in capsys.readouterr().err


def test_replay_imports_from_the_project_folder(make_project, tmp_path, capsys, forget_modules):
    forget_modules += ["cli_modules_project_checks"]
    root = make_project({"convex/counter.ts": """
        import { mutation } from "./_generated/server";
        export const bump = mutation({ args: {}, handler: async () => 1 });
    """})
    (root / "cli_modules_project_checks.py").write_text("def anything(ctx):\n    return True\n")
    sim = ConvexSim.from_project(root, seed=0)
    trace = tmp_path / "t.jsonl"
    with sim.record(trace):
        sim.mutation("counter:bump", {})
    assert main(["replay", str(trace), "--project", str(root), "--explore",
                 "--invariant", "cli_modules_project_checks:anything"]) == 0, capsys.readouterr().err
