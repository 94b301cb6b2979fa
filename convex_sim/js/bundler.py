"""Bundling a Convex project's ``convex/`` folder with the project's own esbuild.

Every Convex project has the ``convex`` npm package installed, and it depends
on ``esbuild`` (the bundler the Convex CLI itself uses), so
``node_modules/.bin/esbuild`` is there wherever ``npm install`` ran. One
bundle holds the schema, every function module (including ``http.ts`` and
``crons.ts``) and ``auth.config.ts``; it sets ``globalThis.__convexApp``.

Bundles are cached by the content hash of their inputs, on disk under
``node_modules/.cache/convex-sim/`` and in memory per process: a test suite
bundles once, and a changed file rebundles.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConvexSimError

#: What the Convex CLI treats as a function module (``convex/`` entry points).
MODULE_SUFFIXES = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")
#: Bump when the bundle's shape changes, so old cached bundles are not reused.
BUNDLE_FORMAT = "2"
ESBUILD_FLAGS = (
    "--bundle", "--format=iife", "--platform=neutral", "--target=es2020",
    "--main-fields=module,main", "--conditions=convex,import", "--sourcemap=external",
    "--sources-content=false", "--log-level=error", "--charset=utf8",
)


class BundleError(ConvexSimError):
    """The project could not be bundled: no esbuild, a syntax error, a missing import."""


@dataclass(frozen=True)
class Bundle:
    """A bundled project: the JavaScript, its source map, and the module paths it holds."""

    project: Path
    code: str
    source_map: dict
    modules: tuple[str, ...]       # Convex module paths: "bank", "dir/file"
    digest: str


def find_esbuild(project: Path) -> Path:
    """The project's ``node_modules/.bin/esbuild``; a clear error naming what to install."""
    candidate = project / "node_modules" / ".bin" / "esbuild"
    if candidate.exists():
        return candidate
    raise BundleError(
        f"No esbuild in {project / 'node_modules'}: run `npm install` in {project} (the `convex` "
        "package brings esbuild). convex-sim needs Node.js and npm for TypeScript apps.")


def module_paths(convex_dir: Path) -> list[str]:
    """The function modules of ``convex/``, as the Convex CLI picks its entry points:
    no ``_generated``, no dotfiles, not the schema, no file with more than one dot
    (``auth.config.ts``, ``x.test.ts``, ``.d.ts``), no spaces."""
    found = []
    for path in sorted(convex_dir.rglob("*")):
        rel = path.relative_to(convex_dir)
        parts = rel.parts
        if not path.is_file() or parts[0] in ("_generated", "node_modules", "_deps"):
            continue
        if any(p.startswith((".", "#")) for p in parts) or " " in str(rel):
            continue
        name = parts[-1]
        if name.count(".") != 1 or not name.endswith(MODULE_SUFFIXES):
            continue
        module = rel.with_suffix("").as_posix()
        if module == "schema":
            continue
        found.append(module)
    return found


def _inputs(project: Path, convex_dir: Path) -> tuple[list[str], list[str]]:
    """Every input file of the bundle, and the folders holding them (to notice new files)."""
    files, folders = [], [str(convex_dir)]
    for path in sorted(convex_dir.rglob("*")):
        if "node_modules" in path.relative_to(convex_dir).parts:
            continue
        (files if path.is_file() else folders).append(str(path))
    for extra in ("package.json", "tsconfig.json", "node_modules/convex/package.json"):
        if (project / extra).exists():
            files.append(str(project / extra))
    return files, folders


def _fingerprint(paths: list[str]) -> tuple:
    """Cheap change detection (sizes and mtimes); a missing file is a change too."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return ()
        out.append((st.st_size, st.st_mtime_ns))
    return tuple(out)


def _digest(project: Path, files: list[str]) -> str:
    h = hashlib.sha256(BUNDLE_FORMAT.encode())
    h.update(" ".join(ESBUILD_FLAGS).encode())
    for f in files:
        h.update(str(Path(f).relative_to(project)).encode() + b"\0")
        h.update(Path(f).read_bytes() + b"\0")
    return h.hexdigest()[:32]


def _entry_source(convex_dir: Path, modules: list[str]) -> str:
    lines, names = [], []
    for i, module in enumerate(modules):
        target = next(convex_dir / f"{module}{s}" for s in MODULE_SUFFIXES
                      if (convex_dir / f"{module}{s}").exists())
        lines.append(f"import * as m{i} from {json.dumps(str(target))};")
        names.append(f"{json.dumps(module)}: m{i}")
    optional = []
    for name, stem in (("schema", "schema"), ("authConfig", "auth.config"), ("config", "convex.config")):
        for suffix in MODULE_SUFFIXES:
            path = convex_dir / f"{stem}{suffix}"
            if path.exists():
                lines.append(f"import {name} from {json.dumps(str(path))};")
                optional.append(name)
                break
    fields = [f"modules: {{{', '.join(names)}}}", *optional]
    lines.append(f"globalThis.__convexApp = {{{', '.join(fields)}}};")
    return "\n".join(lines) + "\n"


class _Cached:
    """A bundle and what it was built from: the input files and folders, and their stats."""

    def __init__(self, files: list[str], folders: list[str], bundle: Bundle) -> None:
        self.paths, self.bundle = files + folders, bundle
        self.fingerprint = _fingerprint(self.paths)


_MEMORY: dict[str, _Cached] = {}


def bundle_project(project: str | os.PathLike[str], source: str | os.PathLike[str] = "convex") -> Bundle:
    """Bundle ``project`` (a folder with ``convex/`` and ``node_modules/``), from cache when
    nothing changed: a file edited, added or removed rebundles.

    ``source`` is the folder of functions (relative to ``project``, or absolute): ``convex``
    for the app, a component's own folder (in ``node_modules``, say) for a component."""
    key = f"{os.fspath(project)}\0{os.fspath(source)}"
    cached = _MEMORY.get(key)
    if cached is not None and _fingerprint(cached.paths) == cached.fingerprint:
        return cached.bundle
    root = Path(project).resolve()
    convex_dir = root / source
    if not convex_dir.is_dir():
        raise BundleError(f"ConvexSim.from_project({str(project)!r}): no {source}/ folder in {root}.")
    files, folders = _inputs(root, convex_dir)
    esbuild = find_esbuild(root)
    digest = _digest(root, files)
    modules = module_paths(convex_dir)
    cache_dir = root / "node_modules" / ".cache" / "convex-sim"
    out = cache_dir / f"bundle-{digest}.js"
    if not out.exists():
        _build(root, esbuild, cache_dir, out, _entry_source(convex_dir, modules))
    bundle = Bundle(root, out.read_text("utf-8"), json.loads(Path(f"{out}.map").read_text("utf-8")),
                    tuple(modules), digest)
    _MEMORY[key] = _Cached(files, folders, bundle)
    return bundle


def _build(root: Path, esbuild: Path, cache_dir: Path, out: Path, entry_source: str) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    entry = cache_dir / f"entry-{out.stem}.js"
    entry.write_text(entry_source, "utf-8")
    tmp = cache_dir / f"tmp-{os.getpid()}-{out.name}"
    proc = subprocess.run(
        [str(esbuild), str(entry), *ESBUILD_FLAGS, f"--outfile={tmp}"],
        cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BundleError(f"Bundling {root / 'convex'} failed:\n{_relative_errors(proc.stderr, root)}")
    # atomically: a concurrent test process never reads half a bundle
    os.replace(f"{tmp}.map", f"{out}.map")
    os.replace(tmp, out)
    entry.unlink(missing_ok=True)


def _relative_errors(stderr: str, root: Path) -> str:
    """esbuild's messages, with paths shown relative to the project (``convex/bank.ts:12:4``)."""
    text = stderr.strip() or "esbuild failed without a message"
    return re.sub(re.escape(str(root)) + r"/", "", text)


def node_tools_missing() -> str | None:
    """None if ``node`` and ``npm`` are on PATH, else what to install (TypeScript tests skip)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if not missing:
        return None
    return (f"{' and '.join(missing)} not found: install Node.js 18 or newer with npm "
            "(https://nodejs.org, or your package manager's nodejs and npm) to run TypeScript apps.")


def install_node_modules(project: str | os.PathLike[str]) -> None:
    """``npm ci`` in ``project`` when its ``node_modules`` is missing or older than its lock file
    (how ``make test`` prepares the bundled TypeScript scenarios)."""
    root = Path(project)
    lock = root / "package-lock.json"
    marker = root / "node_modules" / ".package-lock.json"
    if marker.exists() and (not lock.exists() or marker.stat().st_mtime_ns >= lock.stat().st_mtime_ns):
        return
    missing = node_tools_missing()
    if missing:
        raise BundleError(missing)
    command = ["npm", "ci" if lock.exists() else "install", "--no-audit", "--no-fund", "--loglevel=error"]
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BundleError(f"`{' '.join(command)}` failed in {root}:\n{proc.stderr.strip()}")
