"""Components of a TypeScript project: ``convex/convex.config.ts`` and each component's bundle.

The app's bundle imports ``convex.config.ts``; the prelude gives every component
definition a ``componentDefinitionPath`` (its name), so ``app.use(...)`` runs as under
the Convex CLI, and the manifest lists the app's ``[name, definition name]`` pairs. A
definition's folder is where its ``convex.config.js`` (``defineComponent("name")``) is:
one of the bundle's sources. That folder is bundled like ``convex/`` (its function
modules, its schema, its own ``convex.config``), so a component from npm runs unchanged,
with its own engine, and registers as a :class:`~convex_sim.component.ComponentDefinition`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..component import AppDefinition, ComponentDefinition, define_app
from ..errors import ConvexSimError

if TYPE_CHECKING:
    from .bundler import Bundle
    from .project import Project

_DEFINE = re.compile(r"""defineComponent\(\s*["'`]([^"'`]+)["'`]""")
_CONFIG_NAMES = {f"convex.config{suffix}" for suffix in (".js", ".mjs", ".ts", ".cjs")}


def definition_folders(bundle: Bundle) -> dict[str, Path]:
    """The folder of each component definition ``bundle`` imports, by definition name."""
    base = bundle.cache_dir
    found: dict[str, Path] = {}
    for source in bundle.source_map.get("sources", []):
        path = (base / source).resolve()
        if path.name not in _CONFIG_NAMES or not path.is_file():
            continue
        match = _DEFINE.search(path.read_text("utf-8"))
        if match:
            found.setdefault(match.group(1), path.parent)
    return found


def _uses(project: Project, bundle: Bundle, owner: AppDefinition | ComponentDefinition,
          loaded: dict[Path, tuple[ComponentDefinition, Bundle]]) -> None:
    """Install into ``owner`` the components its ``convex.config`` uses (loading each once)."""
    folders = definition_folders(bundle) if project.engine.manifest.get("components") else {}
    for name, definition_name in project.engine.manifest.get("components", []):
        folder = folders.get(definition_name)
        if folder is None:
            raise ConvexSimError(
                f"{bundle.project}: convex.config uses component {definition_name!r}, but no "
                f"convex.config.js with defineComponent({definition_name!r}) is among its imports.")
        owner.use(load_component(bundle.project, folder, definition_name, loaded), name=name)


def load_component(root: Path, folder: Path, name: str,
                   loaded: dict[Path, tuple[ComponentDefinition, Bundle]]) -> ComponentDefinition:
    """The component whose functions are in ``folder`` (bundled from ``root``'s node_modules);
    ``loaded`` records each folder's definition and the bundle it came from."""
    if folder in loaded:
        return loaded[folder][0]
    from .bundler import bundle_project
    from .project import load_project

    project = load_project(root, source=folder)
    bundle = bundle_project(root, folder)
    definition = ComponentDefinition(name, project.schema, project.registry)
    loaded[folder] = (definition, bundle)
    _uses(project, bundle, definition, loaded)
    return definition


def app_definition(project: Project, bundle: Bundle) -> AppDefinition | None:
    """The app's components (``convex/convex.config.ts``), or None if it installs none. The
    project remembers the bundle of each component folder (see :func:`components_changed`)."""
    project.component_bundles = {}
    if not project.engine.manifest.get("components"):
        return None
    app = define_app()
    loaded: dict[Path, tuple[ComponentDefinition, Bundle]] = {}
    _uses(project, bundle, app, loaded)
    project.component_bundles = {folder: used for folder, (_definition, used) in loaded.items()}
    return app


def components_changed(project: Project) -> bool:
    """Whether a component folder of ``project`` changed since its components were loaded
    (a local component's own files are not among the app bundle's inputs)."""
    from .bundler import bundle_project

    return any(bundle_project(project.path, folder) is not used
               for folder, used in project.component_bundles.items())
