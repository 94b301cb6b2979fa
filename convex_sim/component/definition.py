"""Defining components and apps, and the ``components`` reference tree."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import ConvexSimError
from ..functions import Registry, discover
from ..schema import SchemaDefinition

#: Component names, as Convex accepts them in ``defineComponent``/``app.use``.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConvexSimError(
            f"{where}: a component name is an identifier (letters, digits, '_', starting with a "
            f"letter), got {name!r}")
    return name


class _Uses:
    """What an app and a component have in common: the components they install."""

    def __init__(self) -> None:
        self.uses: dict[str, ComponentDefinition] = {}

    def use(self, component: ComponentDefinition, *, name: str | None = None) -> ComponentDefinition:
        """Install ``component`` under ``name`` (default: its own name); returns it."""
        where = f"{self._label()}.use"
        if not isinstance(component, ComponentDefinition):
            raise TypeError(f"{where}: expects a define_component(...) result, got {component!r}")
        local = _check_name(name if name is not None else component.name, where)
        if local in self.uses:
            raise ConvexSimError(f"{where}: a component is already installed as {local!r}.")
        if component is self or self._reaches(component):
            raise ConvexSimError(f"{where}: component {component.name!r} would install itself.")
        self.uses[local] = component
        return component

    def _reaches(self, component: ComponentDefinition) -> bool:
        """Whether ``component`` (transitively) uses ``self`` (a cycle)."""
        return any(c is self or c._reaches(self) for c in component.uses.values()) \
            if isinstance(self, ComponentDefinition) else False

    def _label(self) -> str:
        return "app"


class ComponentDefinition(_Uses):
    """A component: a name, a schema, a package of functions, and the components it uses."""

    def __init__(self, name: str, schema: SchemaDefinition | None, modules: str | Registry | None) -> None:
        super().__init__()
        self.name = _check_name(name, "define_component")
        if schema is not None and not isinstance(schema, SchemaDefinition):
            raise TypeError(f"define_component({name!r}): schema must come from define_schema(...), got {schema!r}")
        self.schema = schema
        self._modules = modules

    @property
    def registry(self) -> Registry:
        """The component's functions by local path (``"lib:check"``), discovered on first use."""
        if isinstance(self._modules, Registry):
            return self._modules
        if self._modules is None:
            return Registry()
        return discover(self._modules)

    def _label(self) -> str:
        return f"component {self.name!r}"

    def __repr__(self) -> str:
        return f"<component {self.name} uses={list(self.uses)}>"


class AppDefinition(_Uses):
    """An app's component configuration (Convex's ``convex.config.ts``)."""

    def __repr__(self) -> str:
        return f"<app uses={list(self.uses)}>"


def define_component(name: str, *, schema: SchemaDefinition | None = None,
                     modules: str | Registry | None = None) -> ComponentDefinition:
    """Define a component called ``name`` with its own ``schema`` and functions (``modules``: a
    package discovered as ``ConvexSim(modules=...)`` discovers an app's, or a Registry)."""
    return ComponentDefinition(name, schema, modules)


def define_app() -> AppDefinition:
    """An app configuration to install components into: ``app.use(component, name=...)``."""
    return AppDefinition()


# --- References ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentReference:
    """``components.<name>.<module...>.<function>``: a function of an installed component,
    resolved against the components the *calling* app or component installed."""

    component: str
    parts: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> ComponentReference:
        if name.startswith("__"):
            raise AttributeError(name)
        return ComponentReference(self.component, (*self.parts, name))

    @property
    def path(self) -> str:
        """The function's path inside the component (``"lib:check"``)."""
        if len(self.parts) < 2:
            raise ConvexSimError(
                f"components.{'.'.join((self.component, *self.parts))} is not a function reference: "
                "write components.<name>.<module>.<function>.")
        return f"{'/'.join(self.parts[:-1])}:{self.parts[-1]}"

    def __str__(self) -> str:
        return f"{self.component}/{self.path}"


class _ComponentsRoot:
    """The ``components`` object: ``components.limiter_a`` is a reference namespace."""

    def __getattr__(self, name: str) -> ComponentReference:
        if name.startswith("__"):
            raise AttributeError(name)
        return ComponentReference(name)

    def __repr__(self) -> str:
        return "<components>"


#: References to the functions of installed components (Convex's generated ``components``).
components = _ComponentsRoot()
