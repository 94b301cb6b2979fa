"""Installed components: instances, their namespaces, and resolving calls across them.

Every installed instance has a path (``"limiter_a"``, ``"outer/inner"`` for a
component that ``outer`` installed). Its tables live in the one database under
``"<path>/<table>"``, so a transaction that spans the app and its components
has one read set and one write set, and OCC, subscriptions and the explorer
see both. Each instance has its own copies of its component's functions
(``fn.component`` is the instance, ``fn.path`` is ``"<path>/<module>:<name>"``),
so a context knows whose tables it may touch from the function it runs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import ConvexSimError
from ..files import STORAGE, STORAGE_TABLE
from ..functions import ConvexFunction, FunctionNotFoundError, Registry
from .definition import AppDefinition, ComponentDefinition, ComponentReference

if TYPE_CHECKING:
    from ..database import Database


class ComponentError(ConvexSimError):
    """A call across a component boundary that Convex refuses (an internal function, an
    unknown component, a component's function called from outside its parent)."""


class ComponentInstance:
    """One installed copy of a component: its namespace, functions and children."""

    def __init__(self, definition: ComponentDefinition, path: str, parent: ComponentInstance | None) -> None:
        self.definition, self.path, self.parent = definition, path, parent
        self.name = path.rpartition("/")[2]
        self.registry = Registry()
        for local, fn in sorted(definition.registry.functions.items()):
            clone = copy.copy(fn)
            clone.path = f"{path}/{local}"
            clone.local_path = local  # type: ignore[attr-defined]
            clone.component = self  # type: ignore[attr-defined]
            self.registry.register(local, clone)
        self.children = {name: ComponentInstance(d, f"{path}/{name}", self)
                         for name, d in definition.uses.items()}

    def walk(self) -> Iterator[ComponentInstance]:
        """This instance and every instance below it, parents first."""
        yield self
        for child in self.children.values():
            yield from child.walk()

    def __repr__(self) -> str:
        return f"<component instance {self.path} ({self.definition.name})>"


def scope_of(fn: ConvexFunction | None) -> ComponentInstance | None:
    """The component instance ``fn`` belongs to (None: the app)."""
    return getattr(fn, "component", None)


def namespace_of_scope(scope: ComponentInstance | None) -> str:
    return scope.path if scope is not None else ""


def describe_scope(scope: ComponentInstance | None) -> str:
    return f"component {scope.path!r}" if scope is not None else "the app"


class ComponentTree:
    """The instances one simulator installed, and call resolution across them."""

    def __init__(self, app: AppDefinition, registry: Registry) -> None:
        self.app_registry = registry
        #: Who scheduled each job (its ID → the scheduling namespace, ``""`` for the app): a job
        #: is its scheduler's, even when it runs another component's function (a handle).
        self.job_owners: dict[str, str] = {}
        self.children = {name: ComponentInstance(d, name, None) for name, d in app.uses.items()}
        self.by_path = {inst.path: inst for child in self.children.values() for inst in child.walk()}
        folders = {path.partition(":")[0].rpartition("/")[0] for path in registry.functions}
        for name in self.children:
            if any(folder == name or folder.startswith(name + "/") for folder in folders):
                raise ConvexSimError(
                    f"app.use(name={name!r}): the app has a module folder {name!r}; installed "
                    "component names and module folders must differ (function paths would clash).")

    def instance(self, path: str) -> ComponentInstance:
        """The instance installed at ``path`` (``"limiter_a"``, ``"outer/inner"``)."""
        inst = self.by_path.get(path)
        if inst is None:
            raise ComponentError(f"No component is installed at {path!r} (installed: {sorted(self.by_path)}).")
        return inst

    def declare_tables(self, db: Database) -> None:
        """Declare every instance's tables in ``db`` under its namespace."""
        for inst in self.by_path.values():
            schema = inst.definition.schema
            for table, definition in (schema.tables.items() if schema is not None else ()):
                db.declare_table(f"{inst.path}/{table}", definition)
            db.declare_table(f"{inst.path}/{STORAGE}", STORAGE_TABLE)   # its files are its own

    def owner(self, path: str) -> str:
        """The namespace (component path, ``""`` for the app) of the function at full ``path``."""
        try:
            return namespace_of_scope(scope_of(self.resolve(path)))
        except FunctionNotFoundError:
            return ""

    def job_owner(self, job: dict) -> str:
        """The namespace whose ``_scheduled_functions`` holds ``job`` (a row): the code that
        scheduled it (convex-backend async_syscall.rs ``schedule`` writes the job with the
        scheduling component's model), else, for a row from elsewhere, its function's owner."""
        owner = self.job_owners.get(job["_id"])
        return owner if owner is not None else self.owner(job["name"])

    def resolve(self, ref: Any, *, caller: str = "", scope: ComponentInstance | None = None,
                from_code: bool = False) -> ConvexFunction:
        """The function ``ref`` names, seen from ``scope`` (None: the app).

        From app or component code (``from_code``), a function of another component must
        be a public function of a component ``scope`` installed. The test handle may
        reach every function, by reference or by full path (``"limiter_a/lib:check"``).
        """
        children = scope.children if scope is not None else self.children
        registry = scope.registry if scope is not None else self.app_registry
        if isinstance(ref, ConvexFunction) and ref.component is not None:
            ref = ref.path   # an installed copy: its full path says where it lives
        if isinstance(ref, ComponentReference):
            child = children.get(ref.component)
            if child is None:
                raise ComponentError(
                    f"{caller or 'A call'}: {describe_scope(scope)} installs no component "
                    f"{ref.component!r} (installed: {sorted(children)}).")
            fn = self._in(child, ref.path, caller)
        elif isinstance(ref, str) and ref not in registry.functions and (found := self._by_full_path(ref, caller)):
            if from_code:
                raise ComponentError(
                    f"{caller}: {ref!r} is a function of {describe_scope(scope_of(found))}; code reaches "
                    "a component's public functions through components.<name>.<module>.<function>.")
            fn = found
        elif scope is not None:
            fn = self._in(scope, ref, caller)
        else:
            fn = self._app_function(registry, ref, caller)
        target = scope_of(fn)
        if from_code and target is not scope:
            if target is None or target.parent is not scope:
                raise ComponentError(
                    f"{caller}: {fn.path} belongs to {describe_scope(target)}; {describe_scope(scope)} "
                    "can call only its own functions and those of the components it installed.")
            if not fn.is_public:
                raise ComponentError(
                    f"{caller}: {fn.local_path} of component {target.path!r} is internal; only a "  # type: ignore[attr-defined]
                    "component's public functions are callable from its parent.")
        return fn

    @staticmethod
    def _app_function(registry: Registry, ref: Any, caller: str) -> ConvexFunction:
        """``ref`` in the app's registry; a function object must be the app's own."""
        if not isinstance(ref, ConvexFunction):
            return registry.resolve(ref, caller=caller)
        if registry.functions.get(ref.path or "") is not ref:
            raise ComponentError(
                f"{caller or 'A call'}: {ref!r} is not a function of the app; call a component's "
                "functions through components.<name>.<module>.<function>.")
        return ref

    def _in(self, inst: ComponentInstance, path: Any, caller: str) -> ConvexFunction:
        try:
            return inst.registry.resolve(path, caller=caller)
        except FunctionNotFoundError as exc:
            raise FunctionNotFoundError(f"In component {inst.path!r}: {exc}") from None

    def _by_full_path(self, path: str, caller: str) -> ConvexFunction | None:
        module = path.partition(":")[0]
        parts = module.split("/")
        for cut in range(len(parts) - 1, 0, -1):
            inst = self.by_path.get("/".join(parts[:cut]))
            if inst is not None:
                return self._in(inst, path[len(inst.path) + 1:], caller)
        return None


class ComponentRegistry(Registry):
    """An app's registry with its installed components: resolves ``components.x.fn``
    references and full paths (``"x/lib:fn"``, as scheduled jobs store them) at the app."""

    def __init__(self, app_registry: Registry) -> None:
        super().__init__(app_registry.functions, app_registry.modules)
        self.tree: ComponentTree | None = None

    def resolve(self, ref: Any, *, caller: str = "") -> ConvexFunction:
        if self.tree is None:
            return super().resolve(ref, caller=caller)
        return self.tree.resolve(ref, caller=caller)


def install(app: AppDefinition, registry: Registry, db: Database) -> tuple[ComponentRegistry, ComponentTree]:
    """Install ``app``'s components: a registry for the simulator and the instance tree."""
    if not isinstance(app, AppDefinition):
        raise TypeError(f"ConvexSim(app=...): expects define_app() with app.use(...), got {app!r}")
    wrapped = ComponentRegistry(registry)
    tree = ComponentTree(app, Registry(registry.functions, registry.modules))
    tree.declare_tables(db)
    wrapped.tree = tree
    return wrapped, tree
