"""Bundling a Convex project as the Convex CLI of its own ``convex`` package does.

Every Convex project has the ``convex`` npm package installed, and it depends on
``esbuild``, the bundler the CLI itself uses. ``esbuild_driver.cjs`` runs that
esbuild in Node.js with the CLI's options (platform ``browser``, conditions
``["convex", "module"]``, ``NODE_ENV`` "production", its plugins; see that file).
The entry points and ``convex.json`` are read by :mod:`~convex_sim.js.layout`.

Two bundles come out of a project: one script for the embedded engine holding
the schema, ``auth.config.ts``, ``convex.config.ts`` and every Convex-runtime
module (it sets ``globalThis.__convexApp``), and, when some modules say
``"use node"``, a CommonJS file for Node.js (platform ``node``, convex.json's
``node.externalPackages`` left external) exporting ``{modules}``.

Bundles are cached by the content hash of their inputs, on disk beside the
``convex`` package (``node_modules/.cache/convex-sim/``) and in memory per
process: a test suite bundles once; editing, adding or removing a file
rebundles, including files outside the functions folder that a module imports.
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
from .codegen import missing_generated_hint
from .layout import EntryPoints, entry_points, module_file, optional_file, read_config

#: Bump when the bundle's shape changes, so old cached bundles are not reused.
BUNDLE_FORMAT = "3"
#: The language level the embedded engine parses: esbuild lowers newer syntax to it.
ENGINE_TARGET = "es2022"
#: The Node.js version "use node" bundles target (Convex's Node.js runtime is 18 or newer).
NODE_TARGET = "node18"
_DRIVER = Path(__file__).with_name("esbuild_driver.cjs")
#: Longest a bundling run may take before it is reported as stuck.
BUILD_TIMEOUT_S = 600


class BundleError(ConvexSimError):
    """The project could not be bundled: no esbuild, a syntax error, a missing import."""


@dataclass(frozen=True)
class Bundle:
    """A bundled project: the engine's script and source map, the Node.js bundle if any
    module says ``"use node"``, and the module paths each holds."""

    project: Path
    code: str
    source_map: dict
    modules: tuple[str, ...]       # Convex module paths: "bank", "dir/file"
    digest: str
    #: Where the bundles live; source-map ``sources`` are relative to it.
    cache_dir: Path
    #: The functions folder the bundle was made from (``convex/``, convex.json's, a component's).
    functions_dir: Path
    node_modules: tuple[str, ...] = ()
    #: A CommonJS file exporting ``{modules: {path: namespace}}``, or None.
    node_file: Path | None = None
    node_source_map: dict | None = None


def find_convex_package(start: Path, *fallbacks: Path) -> Path:
    """The ``node_modules/convex`` folder Node.js resolution finds from ``start`` (the project's
    own, or a workspace root's), else from each of ``fallbacks``; a clear error naming what to
    install."""
    for origin in (start, *fallbacks):
        for folder in (origin, *origin.parents):
            candidate = folder / "node_modules" / "convex"
            if (candidate / "package.json").is_file():
                return candidate
    raise BundleError(
        f"No node_modules/convex for {start}: run `npm install` in the project (the `convex` "
        "package brings esbuild). convex-sim needs Node.js and npm for TypeScript apps.")


def find_esbuild(project: Path) -> Path:
    """The esbuild package the project's ``convex`` package depends on."""
    convex = find_convex_package(project)
    for folder in (convex / "node_modules", *(p / "node_modules" for p in convex.parents)):
        if (folder / "esbuild" / "package.json").is_file():
            return folder / "esbuild"
    raise BundleError(f"No esbuild next to {convex}: run `npm install` in the project.")


def module_paths(convex_dir: Path) -> list[str]:
    """Every function module of ``convex_dir`` as the Convex CLI picks its entry points
    (both runtimes; see :func:`~convex_sim.js.layout.entry_points`)."""
    found = entry_points(Path(convex_dir))
    return sorted(found.isolate + found.node)


def _inputs(root: Path, functions_dir: Path, convex_package: Path) -> tuple[list[str], list[str]]:
    """The input files known before bundling, and the folders holding them (to notice new
    files)."""
    files, folders = [], [str(functions_dir)]
    for path in sorted(functions_dir.rglob("*")):
        if "node_modules" in path.relative_to(functions_dir).parts:
            continue
        (files if path.is_file() else folders).append(str(path))
    for extra in (root / "package.json", root / "tsconfig.json", root / "convex.json",
                  convex_package / "package.json"):
        if extra.exists():
            files.append(str(extra))
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


def _digest(root: Path, files: list[str], found: EntryPoints, external: tuple[str, ...]) -> str:
    # the project's own location too: the source map names its files relative to the cache
    h = hashlib.sha256(f"{BUNDLE_FORMAT} {ENGINE_TARGET} {NODE_TARGET} {root}".encode())
    h.update(json.dumps([found.isolate, found.node, external]).encode())
    for f in files:
        h.update(os.path.relpath(f, root).encode() + b"\0")
        h.update(Path(f).read_bytes() + b"\0")
    return h.hexdigest()[:32]


def _import_lines(modules: tuple[str, ...], functions_dir: Path) -> tuple[list[str], list[str]]:
    lines, names = [], []
    for i, module in enumerate(modules):
        lines.append(f"import * as m{i} from {json.dumps(str(module_file(functions_dir, module)))};")
        names.append(f"{json.dumps(module)}: m{i}")
    return lines, names


def _engine_entry(functions_dir: Path, modules: tuple[str, ...]) -> str:
    lines, names = _import_lines(modules, functions_dir)
    optional = []
    for name, stem in (("schema", "schema"), ("authConfig", "auth.config"), ("config", "convex.config")):
        path = optional_file(functions_dir, stem)
        if path is not None:
            lines.append(f"import {name} from {json.dumps(str(path))};")
            optional.append(name)
    fields = [f"modules: {{{', '.join(names)}}}", *optional]
    lines.append(f"globalThis.__convexApp = {{{', '.join(fields)}}};")
    return "\n".join(lines) + "\n"


def _node_entry(functions_dir: Path, modules: tuple[str, ...]) -> str:
    lines, names = _import_lines(modules, functions_dir)
    lines.append(f"export const modules = {{{', '.join(names)}}};")
    return "\n".join(lines) + "\n"


class _Cached:
    """A bundle and what it was built from: the input files and folders, and their stats."""

    def __init__(self, paths: list[str], bundle: Bundle) -> None:
        self.paths, self.bundle = paths, bundle
        self.fingerprint = _fingerprint(self.paths)


_MEMORY: dict[str, _Cached] = {}


def bundle_project(project: str | os.PathLike[str],
                   source: str | os.PathLike[str] | None = None) -> Bundle:
    """Bundle ``project`` (a folder with ``package.json``, its functions folder and
    ``node_modules/``), from cache when nothing changed.

    ``source`` is the folder of functions (relative to ``project``, or absolute); by default
    convex.json's ``functions`` (``convex``). A component's own folder (in ``node_modules``,
    say) is bundled the same way."""
    key = f"{os.fspath(project)}\0{os.fspath(source or '')}"
    cached = _MEMORY.get(key)
    if cached is not None and _fingerprint(cached.paths) == cached.fingerprint:
        return cached.bundle
    root = Path(project).resolve()
    config = read_config(root)
    functions_dir = (root / source).resolve() if source is not None else config.functions_dir
    if not functions_dir.is_dir():
        where = os.path.relpath(functions_dir, root)
        hint = "" if source is not None else (
            " (convex.json's \"functions\")" if (root / "convex.json").exists() else "")
        raise BundleError(f"ConvexSim.from_project({str(project)!r}): no {where}/ folder{hint} "
                          f"in {root}.")
    convex_package = find_convex_package(functions_dir, root)
    found = entry_points(functions_dir)
    files, folders = _inputs(root, functions_dir, convex_package)
    digest = _digest(root, files, found, config.external_packages)
    cache_dir = convex_package.parent.resolve() / ".cache" / "convex-sim"  # esbuild's real path
    out = cache_dir / f"bundle-{digest}.js"
    node_out = cache_dir / f"node-{digest}.cjs" if found.node else None
    extra = _fresh_extra_inputs(out)
    if extra is None or (node_out is not None and not node_out.exists()):
        extra = _build(root, functions_dir, convex_package, cache_dir, digest, found,
                       config.external_packages)
    # the bundle's identity covers the imported files outside the functions folder too
    identity = hashlib.sha256(f"{digest}{json.dumps(extra, sort_keys=True)}".encode()).hexdigest()[:32]
    bundle = Bundle(
        root, out.read_text("utf-8"), json.loads(Path(f"{out}.map").read_text("utf-8")),
        found.isolate, identity, cache_dir, functions_dir, found.node, node_out,
        json.loads(Path(f"{node_out}.map").read_text("utf-8")) if node_out else None)
    _MEMORY[key] = _Cached(files + folders + sorted(extra), bundle)
    return bundle


def _fresh_extra_inputs(out: Path) -> dict[str, str] | None:
    """The files outside the functions folder (and outside node_modules) a cached bundle
    was made from, with their hashes, if the bundle exists and they are unchanged; None to
    rebuild."""
    record = Path(f"{out}.inputs.json")
    if not out.exists() or not record.exists():
        return None
    recorded = json.loads(record.read_text("utf-8"))
    for path, digest in recorded.items():
        try:
            if hashlib.sha256(Path(path).read_bytes()).hexdigest() != digest:
                return None
        except OSError:
            return None
    return recorded


def _build(root: Path, functions_dir: Path, convex_package: Path, cache_dir: Path, digest: str,
           found: EntryPoints, external: tuple[str, ...]) -> dict[str, str]:
    """Run the driver for the engine bundle (and the Node.js one); write them atomically, and
    record the inputs outside the functions folder. Returns those inputs."""
    if shutil.which("node") is None:
        raise BundleError(node_tools_missing() or "node not found")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tag = f"tmp-{os.getpid()}-{digest}"
    builds = [{"entrySource": _engine_entry(functions_dir, found.isolate),
               "resolveDir": str(functions_dir), "outfile": str(cache_dir / f"{tag}.js"),
               "platform": "browser", "format": "iife", "target": ENGINE_TARGET,
               "externalPackages": []}]
    if found.node:
        builds.append({"entrySource": _node_entry(functions_dir, found.node),
                       "resolveDir": str(functions_dir), "outfile": str(cache_dir / f"{tag}.cjs"),
                       "platform": "node", "format": "cjs", "target": NODE_TARGET,
                       "externalPackages": list(external)})
    results = run_esbuild(root, convex_package, builds, functions_dir)
    errors = [e for r in results for e in r["errors"]]
    if errors:
        text = "\n".join(errors)
        hint = missing_generated_hint(root, text)
        raise BundleError(f"Bundling {functions_dir} failed:\n{relative_errors(text, root)}"
                          f"{_use_node_hint(errors, found)}{chr(10) + hint if hint else ''}")
    inputs = {p for r in results for p in r["inputs"]}
    extra = {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in sorted(inputs)
             if "node_modules" not in Path(p).parts and not Path(p).is_relative_to(functions_dir)
             and Path(p).is_file()}
    # atomically: a concurrent test process never reads half a bundle
    final = cache_dir / f"bundle-{digest}.js"
    if found.node:
        os.replace(cache_dir / f"{tag}.cjs.map", cache_dir / f"node-{digest}.cjs.map")
        os.replace(cache_dir / f"{tag}.cjs", cache_dir / f"node-{digest}.cjs")
    os.replace(cache_dir / f"{tag}.js.map", f"{final}.map")
    os.replace(cache_dir / f"{tag}.js", final)
    record = cache_dir / f"{tag}.inputs.json"
    record.write_text(json.dumps(extra, sort_keys=True), "utf-8")
    os.replace(record, f"{final}.inputs.json")
    return extra


def run_esbuild(root: Path, convex_package: Path, builds: list[dict], what: Path) -> list[dict]:
    """Run the project's esbuild (``esbuild_driver.cjs``) on ``builds``; one result each
    (``ok``, ``errors``, ``warnings``, ``inputs``). ``what`` names the input in errors."""
    request = json.dumps({"convexPackage": str(convex_package), "builds": builds})
    try:
        proc = subprocess.run(["node", str(_DRIVER)], input=request, cwd=root, capture_output=True,
                              text=True, check=False, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BundleError(f"Bundling {what} took over {BUILD_TIMEOUT_S} s.") from None
    if proc.returncode != 0:
        raise BundleError(f"Bundling {what} failed: esbuild could not run:\n"
                          f"{proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout)["results"]


def _use_node_hint(errors: list[str], found: EntryPoints) -> str:
    """The CLI's advice when a Convex-runtime module imports Node.js built-ins."""
    if not any("Are you trying to bundle for node?" in e or "platform=node" in e for e in errors):
        return ""
    return ("\nIt looks like a file without the \"use node\" directive uses Node.js APIs: as "
            "under the Convex CLI, actions that use them belong in a file that starts with "
            "\"use node\" (https://docs.convex.dev/functions/runtimes#nodejs-runtime).")


def relative_errors(stderr: str, root: Path) -> str:
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
