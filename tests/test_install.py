"""docs/index.md's "Install into your project", run as printed: a wheel of convex-sim installed
into a fresh environment, a TypeScript project configured with the docs' TOML, and the docs'
first test run by that environment's pytest."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from convex_sim.js.bundler import node_tools_missing

ROOT = Path(__file__).resolve().parent.parent
COUNTER = """
import { mutation, query } from "./_generated/server";

export const increment = mutation({
  args: {},
  handler: async (ctx) => {
    const row = await ctx.db.query("counters").first();
    if (row === null) await ctx.db.insert("counters", { value: 1 });
    else await ctx.db.patch(row._id, { value: row.value + 1 });
  },
});

export const get = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("counters").first())?.value ?? 0,
});
"""
SCHEMA = """
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({ counters: defineTable({ value: v.number() }) });
"""


def _section_blocks(doc: Path, heading: str) -> dict[str, str]:
    """The fenced code blocks of one section of ``doc``, by language."""
    text = doc.read_text("utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return {lang: body for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, re.S)}


@pytest.mark.skipif(node_tools_missing() is not None, reason=f"needs {node_tools_missing()}")
def test_the_documented_install_runs_the_first_typescript_test(tmp_path, make_project):
    blocks = _section_blocks(ROOT / "docs" / "index.md", "## Install into your project")
    readme = _section_blocks(ROOT / "README.md", "## Install into your project")
    assert blocks == readme, "README.md and docs/index.md show different install steps"
    assert len(blocks["python"].strip().splitlines()) < 10

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # each environment's own paths only
    wheels = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(wheels), str(ROOT)], check=True, capture_output=True, env=env)
    wheel = next(wheels.glob("convex_sim-*.whl"))
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, env=env)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True, env=env).stdout.strip())
    # The wheel itself, without its dependencies: those come from this environment's
    # site-packages as a plain path (its .pth files, convex-sim's editable install among them,
    # are not read), so the fresh environment imports convex-sim from the wheel only.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", str(wheel)], check=True, capture_output=True, env=env)

    project = make_project({"convex/counter.ts": COUNTER, "convex/schema.ts": SCHEMA})
    (project / "pyproject.toml").write_text(blocks["toml"])
    (project / "tests").mkdir()
    (project / "tests" / "test_counter.py").write_text(blocks["python"])
    where = subprocess.run([python, "-c", "import convex_sim; print(convex_sim.__file__)"],
                           cwd=project, check=True, capture_output=True, text=True, env=env).stdout
    assert where.startswith(str(site)), where
    run = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
