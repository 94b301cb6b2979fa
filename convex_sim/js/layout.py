"""What the Convex CLI would deploy from a project: its ``convex.json`` and its entry points.

The rules are those of the CLI in the ``convex`` npm package
(``dist/cjs/bundler/index.js``: ``entryPoints``, ``entryPointsByEnvironment``,
``mustBeIsolate``; ``dist/cjs/cli/lib/config.js`` for ``convex.json``), stated
in docs/typescript.md with their source. A function module is a file of the
functions folder with a JavaScript or TypeScript extension, outside
``_generated/``, not a dotfile, an editor temp file (``#...``), the schema, a
file with more than one dot (``auth.config.ts``, ``x.test.ts``) or a path with
a space; a ``.ts``/``.tsx`` file with no ``import``/``export`` is no module. A
sub-folder holding ``convex.config.ts`` is a component definition, not part of
the app. A module whose directive prologue holds ``"use node"`` runs in
Node.js; every other one in the Convex JavaScript runtime.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConvexSimError

#: The extensions the CLI takes as entry points (esbuild's js, ts and jsx loaders).
ENTRY_POINT_EXTENSIONS = (".js", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".jsx")
#: Modules that must run in the Convex runtime, never in Node.js.
ISOLATE_ONLY = ("http", "crons", "schema", "auth.config")
_TS_MODULE = re.compile(r"^\s{0,100}(import|export)", re.MULTILINE)


class LayoutError(ConvexSimError):
    """The project's layout breaks a rule of the Convex CLI (``convex.json``, a misplaced file)."""


@dataclass(frozen=True)
class ProjectConfig:
    """A project's ``convex.json`` (defaults when there is none)."""

    root: Path
    #: The functions folder, relative to ``root`` (``"functions"``; default ``convex``).
    functions: str = "convex"
    #: ``node.externalPackages``: packages left out of Node.js bundles (``"*"``: all of them).
    external_packages: tuple[str, ...] = ()

    @property
    def functions_dir(self) -> Path:
        return (self.root / self.functions).resolve()


def read_config(root: Path) -> ProjectConfig:
    """``root/convex.json`` as a :class:`ProjectConfig`; a clear error for a malformed file."""
    path = root / "convex.json"
    if not path.is_file():
        return ProjectConfig(root)
    text = path.read_text("utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LayoutError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}.") from None
    if not isinstance(data, dict):
        raise LayoutError(f"{path}: expected a JSON object, got {_kind(data)}.")
    functions = data.get("functions", "convex")
    if not isinstance(functions, str) or not functions.strip():
        raise LayoutError(f"{path}: .functions: expected a folder path (a string), got {functions!r}.")
    node = data.get("node", {})
    if not isinstance(node, dict):
        raise LayoutError(f"{path}: .node: expected an object, got {_kind(node)}.")
    external = node.get("externalPackages", [])
    if not isinstance(external, list) or not all(isinstance(p, str) for p in external):
        raise LayoutError(f"{path}: .node.externalPackages: expected a list of package names, "
                          f"got {external!r}.")
    return ProjectConfig(root, functions.rstrip("/") or ".", tuple(external))


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


@dataclass(frozen=True)
class EntryPoints:
    """A functions folder's modules, as Convex module paths (``"dir/file"``), by runtime."""

    isolate: tuple[str, ...]
    node: tuple[str, ...]


def _is_component_folder(folder: Path) -> bool:
    return (folder / "convex.config.ts").exists()


def _walk(folder: Path) -> list[Path]:
    """Every file under ``folder`` in the CLI's order, skipping nested component folders."""
    found: list[Path] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.is_dir():
            if not _is_component_folder(path):
                found.extend(_walk(path))
        elif entry.is_file():
            found.append(path)
    return found


def entry_points(functions_dir: Path) -> EntryPoints:
    """The function modules of ``functions_dir`` and the runtime of each, as the CLI picks
    them; a clear error where the CLI refuses the layout."""
    isolate: list[str] = []
    node: list[str] = []
    for path in _walk(functions_dir):
        rel = path.relative_to(functions_dir).as_posix()
        base = path.name
        if rel.startswith("_deps/"):
            raise LayoutError(f'{path}: the "_deps" folder is reserved for dependencies; '
                              "move this file to another folder.")
        if (not rel.endswith(ENTRY_POINT_EXTENSIONS) or rel.startswith("_generated/")
                or base.startswith((".", "#")) or base in ("schema.ts", "schema.js")
                or base.count(".") > 1 or " " in rel):
            continue
        if rel.endswith((".ts", ".tsx")) and not _TS_MODULE.search(path.read_text("utf-8")):
            continue  # no import or export: not a valid TypeScript module
        module = rel.rsplit(".", 1)[0]
        if has_use_node_directive(path):
            if module in ISOLATE_ONLY:
                raise LayoutError(f'{path}: the "use node" directive is not allowed in {rel}.')
            node.append(module)
        elif rel.startswith("actions/"):
            raise LayoutError(
                f'{path}: files in the actions/ folder need the "use node" directive (the '
                "Convex CLI refuses this file without it).")
        else:
            isolate.append(module)
    return EntryPoints(tuple(isolate), tuple(node))


def has_use_node_directive(path: Path) -> bool:
    """Whether the file's directive prologue (its leading string statements, after comments)
    holds ``"use node"``, as the CLI's parse of the file decides."""
    source = path.read_text("utf-8")
    if "use node" not in source:
        return False
    return "use node" in directive_prologue(source)


_PROLOGUE_SKIP = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/|#![^\n]*)*", re.DOTALL)
_STRING = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'""")
_DIRECTIVE_END = re.compile(r"[ \t]*(?:;|(?=\r?\n|$|//|/\*))")


def directive_prologue(source: str) -> list[str]:
    """The directives at the top of a JavaScript/TypeScript module (``["use node"]``): string
    statements before any other, after comments and a hashbang."""
    directives: list[str] = []
    position = _PROLOGUE_SKIP.match(source).end()
    while (literal := _STRING.match(source, position)) is not None:
        end = _DIRECTIVE_END.match(source, literal.end())
        if end is None:
            break  # a string that starts an expression (`"a" + b`), not a directive
        directives.append(literal.group(0)[1:-1])
        position = _PROLOGUE_SKIP.match(source, end.end()).end()
    return directives


def module_file(functions_dir: Path, module: str) -> Path:
    """The file of a module path (``"dir/file"`` → ``dir/file.ts``)."""
    for suffix in ENTRY_POINT_EXTENSIONS:
        candidate = functions_dir / f"{module}{suffix}"
        if candidate.exists():
            return candidate
    raise LayoutError(f"{functions_dir}: no file for module {module!r}.")


def optional_file(functions_dir: Path, stem: str) -> Path | None:
    """``schema.ts``, ``auth.config.ts``, ``convex.config.ts`` (any extension), if present."""
    for suffix in ENTRY_POINT_EXTENSIONS:
        candidate = functions_dir / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    return None
