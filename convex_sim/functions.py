"""Registering app functions: decorators, references and module discovery.

A registered function is data: its kind, its visibility, its validators and
an ``invoke(ctx, args)``. Nothing else about it is Python-specific, so other
runtimes (a JavaScript engine, say) can register functions the same way.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConvexSimError, hide_simulator_frames
from .validators import Validator, as_object_validator

QUERY, MUTATION, ACTION, HTTP_ACTION = "query", "mutation", "action", "http_action"
PUBLIC, INTERNAL = "public", "internal"
#: The export name a path without one means (convex-backend crates/convex/sync_types/src/
#: udf_path.rs: ``UdfPath::canonicalize`` adds it, ``CanonicalizedUdfPath::strip`` drops it).
DEFAULT_EXPORT = "default"


def display_name(path: str) -> str:
    """A function path as Convex shows it (``getFunctionMetadata().name``): ``"module"`` for
    ``"module:default"`` (``CanonicalizedUdfPath::strip``)."""
    module, _, name = path.rpartition(":")
    return module if module and name == DEFAULT_EXPORT else path


__tracebackhide__ = hide_simulator_frames  # pytest reports the app's frames, not ours


class FunctionNotFoundError(ConvexSimError, LookupError):
    """A function path or reference that names no registered function."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConvexFunction:
    """A function registered with ``@query``, ``@mutation``, ``@action``, ...

    Call it through the simulator (``sim.mutation("bank:deposit", ...)``) or a
    context (``ctx.run_mutation(...)``), never directly: a direct call would
    skip validation and transactions.
    """

    #: The installed component instance this copy of the function belongs to (None: the
    #: app); see convex_sim.component.
    component: Any = None

    def __init__(self, kind: str, visibility: str, handler: Callable[..., Any],
                 args: Validator | None, returns: Validator | None) -> None:
        self.kind, self.visibility, self.handler = kind, visibility, handler
        self.args, self.returns = args, returns
        self.is_async = inspect.iscoroutinefunction(handler)
        self.path: str | None = None
        self.__doc__ = handler.__doc__
        self.__name__ = getattr(handler, "__name__", "function")
        self.__module__ = getattr(handler, "__module__", "")

    def invoke(self, ctx: Any, args: dict) -> Any:
        """Run the handler: a value for sync handlers, a coroutine for async ones."""
        return self.handler(ctx, args)

    @property
    def is_public(self) -> bool:
        return self.visibility == PUBLIC

    def describe(self) -> str:
        prefix = "internal " if self.visibility == INTERNAL else ""
        return f"{prefix}{self.kind.replace('_', ' ')} {self.path or self.__name__}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"{self.describe()} is a registered Convex function and cannot be called directly. "
            f"Call it through the simulator (sim.{self.kind}(...)) or a ctx (ctx.run_{self.kind}(...)).")

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


def _decorator(kind: str, visibility: str) -> Callable[..., Any]:
    def register(handler: Callable[..., Any] | None = None, *, args: Any = None,
                 returns: Any = None) -> Any:
        name = f"{'internal_' if visibility == INTERNAL else ''}{kind}"
        args_v = as_object_validator(args, f"@{name}(args=...)") if args is not None else None
        returns_v = as_object_validator(returns, f"@{name}(returns=...)") if returns is not None else None

        def wrap(fn: Callable[..., Any]) -> ConvexFunction:
            if not callable(fn):
                raise TypeError(f"@{name} decorates a function, got {fn!r}")
            if kind in (ACTION, HTTP_ACTION) and not inspect.iscoroutinefunction(fn):
                raise TypeError(
                    f"@{name} {fn.__qualname__}: actions must be 'async def' (every awaited "
                    "ctx call is a point where other work can interleave).")
            return ConvexFunction(kind, visibility, fn, args_v, returns_v)

        return wrap(handler) if handler is not None else wrap

    register.__name__ = f"{'internal_' if visibility == INTERNAL else ''}{kind}"
    register.__doc__ = f"Register a {visibility} {kind}: ``@{register.__name__}(args=..., returns=...)``."
    return register


query = _decorator(QUERY, PUBLIC)
mutation = _decorator(MUTATION, PUBLIC)
action = _decorator(ACTION, PUBLIC)
internal_query = _decorator(QUERY, INTERNAL)
internal_mutation = _decorator(MUTATION, INTERNAL)
internal_action = _decorator(ACTION, INTERNAL)
http_action = _decorator(HTTP_ACTION, PUBLIC)


# --- References --------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionReference:
    """A reference to ``path`` ("module:name"), as ``api.module.name`` gives."""

    path: str
    visibility: str = PUBLIC

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class FunctionHandle:
    """A function handle (``"function://<path>"`` in Convex): names one function of the
    deployment by its full path (``"counter/lib:add"`` inside a component), callable from
    anywhere it is handed, app or component."""

    path: str

    def __str__(self) -> str:
        return f"function://{self.path}"


class _Namespace:
    """``api.bank.transfer`` → ``FunctionReference("bank:transfer")``."""

    def __init__(self, registry: Registry, visibility: str, prefix: str = "") -> None:
        self._registry, self._visibility, self._prefix = registry, visibility, prefix

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._prefix and self._registry.has_module(self._prefix):
            path = f"{self._prefix}:{name}"
            fn = self._registry.functions.get(path)
            if fn is not None:
                if fn.visibility != self._visibility:
                    other = "internal" if fn.visibility == INTERNAL else "api"
                    raise FunctionNotFoundError(
                        f"{path} is {fn.visibility}; reference it as sim.{other}."
                        f"{path.replace(':', '.').replace('/', '.')}")
                return FunctionReference(path, fn.visibility)
        prefix = f"{self._prefix}/{name}" if self._prefix else name
        if self._registry.has_module_prefix(prefix):
            return _Namespace(self._registry, self._visibility, prefix)
        where = f"module {self._prefix!r}" if self._prefix else "the app"
        raise FunctionNotFoundError(f"No function or module {name!r} in {where}.")

    def __repr__(self) -> str:
        return f"<{'api' if self._visibility == PUBLIC else 'internal'} {self._prefix or '(root)'}>"


# --- The registry and module discovery ---------------------------------------------------


class Registry:
    """Every function of an app, by path."""

    def __init__(self, functions: Mapping[str, ConvexFunction] | None = None,
                 modules: Mapping[str, Any] | None = None) -> None:
        self.functions: dict[str, ConvexFunction] = dict(functions or {})
        self.modules: dict[str, Any] = dict(modules or {})  # module path -> Python module
        self._module_paths = {p.split(":")[0] for p in self.functions}

    def register(self, path: str, fn: ConvexFunction) -> None:
        if path in self.functions and self.functions[path] is not fn:
            raise ConvexSimError(f"Two functions are registered as {path!r}.")
        if fn.path is None:
            fn.path = path
        self.functions[path] = fn
        self._module_paths.add(path.split(":")[0])

    def has_module(self, module: str) -> bool:
        return module in self._module_paths

    def has_module_prefix(self, prefix: str) -> bool:
        return any(m == prefix or m.startswith(prefix + "/") for m in self._module_paths)

    def resolve(self, ref: Any, *, caller: str = "") -> ConvexFunction:
        """The function that ``ref`` (a path, reference or ConvexFunction) names."""
        if isinstance(ref, str):   # the commonest: a path
            path = ref
        elif isinstance(ref, ConvexFunction):
            if ref.path is None:
                raise FunctionNotFoundError(
                    f"{ref!r} is not registered with this app: pass modules= to ConvexSim, or "
                    "refer to it by its path.")
            path = ref.path
        elif isinstance(ref, FunctionReference):
            path = ref.path
        else:
            raise FunctionNotFoundError(
                f"{caller or 'A call'} expects a function path like 'module:name' or a reference "
                f"like sim.api.module.name, got {ref!r}")
        fn = self.functions.get(path)
        if fn is None and ":" not in path:   # "module" names its default export (UdfPath::canonicalize)
            fn = self.functions.get(f"{path}:{DEFAULT_EXPORT}")
        if fn is None:
            raise FunctionNotFoundError(self._not_found(path))
        return fn

    def _not_found(self, path: str) -> str:
        if ":" not in path:
            return (f"Could not find function for {path!r}: function paths are 'module:name' "
                    f"(for example 'messages:send').")
        module = path.split(":", 1)[0]
        if not self.has_module(module):
            if not self._module_paths and not self.functions:
                return (f"Could not find function for {path!r}: no app is loaded. Pass "
                        "ConvexSim(schema, modules='myapp'); with the pytest `convex` fixture set "
                        "convex_sim_app = \"myapp\" under [tool.pytest.ini_options] or mark the "
                        "test @pytest.mark.convex_app(\"myapp\") (a TypeScript project: "
                        "convex_sim_project / @pytest.mark.convex_project).")
            known = ", ".join(sorted(self._module_paths)) or "none"
            return f"Could not find function for {path!r}: no module {module!r} (modules: {known})."
        names = sorted(p.split(":", 1)[1] for p in self.functions if p.startswith(module + ":"))
        return f"Could not find function for {path!r}: module {module!r} has {names}."


_DISCOVERED: dict[str, Registry] = {}


def discover(package: str) -> Registry:
    """Import ``package`` and its submodules; register each decorated function.

    ``pkg/bank.py``'s ``transfer`` becomes ``"bank:transfer"``,
    ``pkg/sub/mod.py``'s ``f`` becomes ``"sub/mod:f"``. The result is cached per
    package, so creating a simulator per test stays cheap.
    """
    cached = _DISCOVERED.get(package)
    if cached is not None:
        return cached
    registry = Registry()
    for module_path, module in _walk(package):
        registry.modules[module_path] = module
        for name, obj in sorted(vars(module).items()):
            if isinstance(obj, ConvexFunction) and obj.__module__ == module.__name__:
                registry.register(f"{module_path}:{name}", obj)
    _DISCOVERED[package] = registry
    return registry


def _walk(package: str) -> Iterator[tuple[str, Any]]:
    try:
        root = importlib.import_module(package)
    except ImportError as exc:
        raise ConvexSimError(f"ConvexSim(modules={package!r}): cannot import the app package: {exc}") from exc
    search = getattr(root, "__path__", None)
    if search is None:
        raise ConvexSimError(f"ConvexSim(modules={package!r}): {package!r} is a module, not a package.")
    infos = sorted(pkgutil.walk_packages(search, prefix=package + "."), key=lambda i: i.name)
    for info in infos:
        module = importlib.import_module(info.name)
        if not info.ispkg:
            yield info.name[len(package) + 1:].replace(".", "/"), module
