"""Components: sandboxed, transactional building blocks installed into an app.

A component is a small Convex backend of its own (its schema, its functions)
that an app installs, possibly several times under different names::

    limiter = define_component("ratelimiter", schema=schema, modules="pkg.ratelimiter")
    app = define_app()
    app.use(limiter, name="limiter_a")
    sim = ConvexSim(schema, modules="myapp", app=app)

App code reaches an installed component only through its public functions,
by the :data:`components` reference tree (``components.limiter_a.lib.check``),
and those calls share the caller's transaction. See docs/components.md.
"""

from __future__ import annotations

from .definition import (
    AppDefinition,
    ComponentDefinition,
    ComponentReference,
    components,
    define_app,
    define_component,
)
from .scope import ComponentError, ComponentInstance, ComponentTree, install

__all__ = [
    "AppDefinition",
    "ComponentDefinition",
    "ComponentError",
    "ComponentInstance",
    "ComponentReference",
    "ComponentTree",
    "components",
    "define_app",
    "define_component",
    "install",
]
