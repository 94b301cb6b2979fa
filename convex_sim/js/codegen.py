"""``convex-sim codegen``: a project's ``convex/_generated/`` as its own Convex CLI writes it.

``npx convex codegen`` wants a deployment; the files it writes come from templates shipped in
the project's ``convex`` package. ``codegen.cjs`` runs those templates (and the package's own
module list and component discovery) under Node.js and reports the files; this module writes
them: atomically, and only where the contents differ.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConvexSimError

SCRIPT = Path(__file__).with_name("codegen.cjs")
#: esbuild's message for an import of a missing ``_generated`` file.
_UNRESOLVED_GENERATED = re.compile(r'Could not resolve "(?:\.\.?/)+(?:[^"]*/)?_generated(?:/[^"]*)?"')


class CodegenError(ConvexSimError):
    """The project cannot be generated: no functions folder, no ``node_modules/convex``, no Node.js."""


@dataclass
class Codegen:
    """What one run did: files written and removed (stale ``_generated`` entries), and notes."""

    project: Path
    version: str
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def functions_dir(project: Path) -> Path:
    """The project's functions folder: ``convex.json``'s ``functions``, else ``convex/``."""
    config = project / "convex.json"
    if config.is_file():
        try:
            functions = json.loads(config.read_text(encoding="utf-8")).get("functions")
        except (ValueError, AttributeError) as exc:
            raise CodegenError(f"{config} is not a JSON object: {exc}") from exc
        if isinstance(functions, str):
            return project / functions
    return project / "convex"


def _check(project: Path) -> None:
    if not project.is_dir():
        raise CodegenError(f"No project at {project}: give the folder holding convex/ and "
                           "package.json.")
    if not functions_dir(project).is_dir():
        raise CodegenError(f"No Convex functions folder {functions_dir(project)}: is {project} a "
                           "Convex project?")
    if not (project / "node_modules" / "convex" / "package.json").is_file():
        raise CodegenError(f"No node_modules/convex in {project}: run `npm install` there first "
                           "(the code generator is the project's own `convex` package).")
    if shutil.which("node") is None:
        raise CodegenError("node not found: install Node.js 18 or newer (https://nodejs.org, or "
                           "your package manager's nodejs) to generate convex/_generated/.")


def _compute(project: Path) -> dict:
    """Run ``codegen.cjs``: the files the project's Convex CLI would write, as JSON."""
    with tempfile.TemporaryDirectory(prefix="convex-sim-codegen-") as scratch:
        out = Path(scratch) / "codegen.json"
        proc = subprocess.run(["node", str(SCRIPT), str(project), str(out)], cwd=project,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            raise CodegenError(f"code generation failed in {project}:\n{proc.stderr.strip()}")
        return json.loads(out.read_text(encoding="utf-8"))


def _write_if_changed(path: Path, contents: str) -> bool:
    """Write ``contents`` to ``path`` through a temporary file and ``os.replace``, unless the
    file already holds exactly them; whether it wrote."""
    data = contents.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def run(project_path: str | os.PathLike[str]) -> Codegen:
    """Generate the project's ``_generated/`` folders; what was written, removed and noted."""
    project = Path(project_path).resolve()
    _check(project)
    report = _compute(project)
    result = Codegen(project, report["version"], notes=list(report["notes"]))
    for name, contents in report["files"].items():
        if _write_if_changed(Path(name), contents):
            result.written.append(Path(name))
    for name in report["remove"]:
        stale = Path(name)
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale)
        else:
            stale.unlink(missing_ok=True)
        result.removed.append(stale)
    return result


def generate(project_path: str | os.PathLike[str]) -> list[Path]:
    """Write ``convex/_generated/`` (and local components' ``_generated/``) as the project's own
    ``convex`` package generates it, with no deployment; the files written (unchanged ones are
    left alone)."""
    return run(project_path).written


def missing_generated_hint(project_root: Path, esbuild_stderr: str) -> str | None:
    """The sentence to add to a bundling error caused by a missing ``_generated/`` file (esbuild:
    ``Could not resolve "./_generated/api"``), else None."""
    if not _UNRESOLVED_GENERATED.search(esbuild_stderr):
        return None
    return (f"convex/_generated/ is missing or incomplete: run `convex-sim codegen {project_root}` "
            "to generate it with the project's own Convex code generator (no deployment needed).")
