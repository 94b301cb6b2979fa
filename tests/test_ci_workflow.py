"""docs/ci.md's GitHub Actions job, run as printed: every ``run:`` command of its YAML, in a
fresh folder holding a TypeScript project (the bank scenario, its conformance.toml, and the
docs' ``checks.py``), with ``${{ matrix.shard }}`` substituted for each shard of the matrix.

What the runner would provide is provided: Node.js and npm on PATH, a Python environment on
PATH (a fresh venv; convex-sim's dependencies come from this environment's site-packages, and
pip is kept off the network), and the repository variable the job reads, ``CONVEX_SIM``, set
to a wheel of this checkout (``make dist``'s output)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from convex_sim.js.bundler import node_tools_missing

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ci.md"
SHARD = "${{ matrix.shard }}"


def fenced(lang: str) -> list[str]:
    """docs/ci.md's fenced blocks in ``lang``."""
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text("utf-8"), re.S)


def workflow_job() -> dict:
    (block,) = [b for b in fenced("yaml") if "jobs:" in b]
    (job,) = yaml.safe_load(block)["jobs"].values()
    return job


def test_the_workflow_names_only_commands_and_expressions_a_test_can_stand_for():
    job = workflow_job()
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs, "the workflow runs no command"
    for command in runs:
        assert "${{" not in command.replace(SHARD, ""), command
    assert "pip install convex-sim" not in "\n".join(runs), "convex-sim is on no package index"
    variables = set(re.findall(r"\$\{\{\s*vars\.(\w+)\s*\}\}", str(job.get("env", {}))))
    assert variables == {"CONVEX_SIM"}, job.get("env")


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> dict[str, str]:
    """The environment of a runner after setup-node and setup-python, with ``CONVEX_SIM`` a
    wheel of this checkout."""
    base = tmp_path_factory.mktemp("runner")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(base / "dist"),
                    str(ROOT)], check=True, capture_output=True)
    wheel = next((base / "dist").glob("convex_sim-*.whl"))
    env_dir = base / "python"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, capture_output=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # convex-sim's dependencies, already installed here, as a plain path (its .pth files,
    # this checkout's editable install among them, are not read)
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_"))}
    environ.update(PATH=f"{env_dir / 'bin'}{os.pathsep}{environ.get('PATH', '')}", PIP_NO_INDEX="1",
                   GITHUB_STEP_SUMMARY=str(base / "step_summary.md"), CONVEX_SIM=str(wheel))
    return environ


def user_project(folder: Path) -> Path:
    """The bank scenario as a user's repository holds it: its project files, its
    conformance.toml with the invariant in the docs' ``checks.py`` beside it."""
    bank = ROOT / "scenarios" / "ts_bank"
    shutil.copytree(bank / "convex", folder / "convex", ignore=shutil.ignore_patterns("node_modules"))
    for name in ("package.json", "package-lock.json", "conformance.toml"):
        shutil.copy(bank / name, folder / name)
    config = folder / "conformance.toml"
    config.write_text(config.read_text().replace('"scenarios.ts_bank:no_overdraft"', '"checks:no_overdraft"'))
    (checks,) = [b for b in fenced("python") if b.startswith("# checks.py")]
    (folder / "checks.py").write_text(checks)
    return folder


@pytest.mark.skipif(node_tools_missing() is not None, reason=f"needs {node_tools_missing()}")
def test_every_run_command_of_the_workflow_works_in_a_fresh_folder(tmp_path, runner):
    job = workflow_job()
    project = user_project(tmp_path / "repo")
    shards = job["strategy"]["matrix"]["shard"]
    ran = []
    for step in (s for s in job["steps"] if "run" in s):
        for shard in (shards if SHARD in step["run"] else [None]):
            command = step["run"] if shard is None else step["run"].replace(SHARD, str(shard))
            proc = subprocess.run(["bash", "-e", "-c", command], cwd=project, env=runner,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
            ran.append(command)
    assert any(c.startswith("npm ci") for c in ran) and any("install" in c and "CONVEX_SIM" in c for c in ran)
    where = subprocess.run(["python", "-c", "import convex_sim; print(convex_sim.__file__)"], cwd=project,
                           env=runner, capture_output=True, text=True, check=True).stdout
    assert "/python/lib/" in where, where   # the installed wheel, not this checkout
    junits = sorted(project.glob("junit-*.xml"))
    assert [p.name for p in junits] == [f"junit-{s}.xml" for s in shards]
    cases = sum(p.read_text().count("<testcase ") for p in junits)
    assert cases == (project / "conformance.toml").read_text().count("[[scenario]]")
    assert "# convex-sim check" in Path(runner["GITHUB_STEP_SUMMARY"]).read_text()
