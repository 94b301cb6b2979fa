"""TypeScript apps: a Convex project's own ``convex/`` folder, run on convex-sim's engine.

Three parts, each its own module: :mod:`~convex_sim.js.bundler` (the project's
esbuild), :mod:`~convex_sim.js.engine` (the embedded QuickJS engine) and
:mod:`~convex_sim.js.abi` (the syscalls the ``convex`` npm package makes).
:mod:`~convex_sim.js.project` registers the functions into the same registry
and runtime Python functions use. Use it through
:meth:`convex_sim.ConvexSim.from_project`.
"""

from .bundler import BundleError, node_tools_missing
from .engine import JsError, JsStuckError
from .project import JsFunction, Project, load_project

__all__ = ["BundleError", "JsError", "JsFunction", "JsStuckError", "Project", "load_project",
           "node_tools_missing"]
