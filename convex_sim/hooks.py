"""Extension hooks (pluggy): the seams where plugins add strategies, checks and importers.

A plugin is a module or object with functions marked ``@hookimpl``; it is found through
the ``convex_sim`` entry-point group of an installed distribution::

    # pyproject.toml of the plugin
    [project.entry-points.convex_sim]
    money = "convex_money.plugin"

    # convex_money/plugin.py
    from convex_sim.hooks import hookimpl

    @hookimpl
    def convex_sim_register_checker(sim):
        return no_negative_balances      # checked after every commit of every schedule

The built-in strategies are registered through the same hook (module
``convex_sim.hypothesis._builtin``, answering last), so a plugin overrides a built-in by
answering first.
Entry points load in sorted (name, value) order, so the set and order of plugins is
the same on every run. The hook specifications are the class :class:`HookSpecs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import Any

import pluggy

#: The project name pluggy uses to match markers, and the entry-point group of plugins.
PROJECT = "convex_sim"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: A check: ``check(ctx)`` gets a read-only query context; raise or return False to fail.
Checker = Callable[[Any], Any]


class HookSpecs:
    """The hooks convex-sim calls. Every argument is passed by keyword; a plugin may
    accept any subset of them."""

    @hookspec(firstresult=True)
    def convex_sim_register_strategy(self, validator: Any, path: tuple, context: Any) -> Any:
        """A Hypothesis strategy for values of ``validator`` at field ``path`` (a tuple of
        field names and indices), or None to let the next plugin (finally the built-ins)
        answer. ``context`` is a :class:`convex_sim.hypothesis.StrategyContext`: the sim (for
        IDs of existing documents) and ``context.strategy(validator, path)`` for children."""

    @hookspec
    def convex_sim_register_checker(self, sim: Any) -> Checker | Iterable[Checker] | None:
        """Extra checks for every explored schedule of ``sim``: each runs, like an invariant,
        after every commit of every schedule (``sim.explore``, ``sim.run_schedule``,
        ``sim.replay_schedule``). Return a checker, several, or None."""

    @hookspec(firstresult=True)
    def convex_sim_trace_importer(self, path: str) -> Any:
        """An iterable of trace events read from ``path`` (a file in a foreign format: a
        Convex log export, an HTTP archive, ...), or None if this plugin cannot read it."""

    @hookspec
    def convex_sim_on_commit(self, sim: Any, commit: Any) -> None:
        """Called after every commit of ``sim``'s database (``commit.ts``, ``commit.writes``),
        including those of explored schedules. Observe only: do not write from here."""


_manager: pluggy.PluginManager | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager: the built-ins plus every ``convex_sim`` entry point."""
    global _manager
    if _manager is None:
        _manager = _new_manager()
    return _manager


def use(manager: pluggy.PluginManager | None) -> pluggy.PluginManager | None:
    """Install ``manager`` (None: rebuild from entry points on next use); return the old one."""
    global _manager
    previous, _manager = _manager, manager
    return previous


class _BuiltinStrategies:
    """The built-in strategies (``convex_sim.hypothesis._builtin``), imported on first use
    so that making a sim does not import Hypothesis."""

    @hookimpl(trylast=True)
    def convex_sim_register_strategy(self, validator: Any, path: tuple, context: Any) -> Any:
        from .hypothesis._builtin import builtin_strategy

        return builtin_strategy(validator, path, context)


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    manager.register(_BuiltinStrategies(), name="convex_sim.builtin_strategies")
    points = sorted(metadata.entry_points(group=PROJECT), key=lambda p: (p.name, p.value))
    for point in points:
        if manager.get_plugin(point.name) is not None or manager.is_blocked(point.name):
            continue
        try:
            plugin = point.load()
        except Exception as exc:
            raise ImportError(f"convex-sim plugin {point.name!r} ({point.value}) failed to load: "
                              f"{exc}") from exc
        manager.register(plugin, name=point.name)
    return manager


def hook() -> Any:
    """The hook caller: ``hook().convex_sim_register_checker(sim=sim)``."""
    return plugin_manager().hook


def checkers(sim: Any) -> list[Checker]:
    """Every checker the plugins register for ``sim``, in plugin order."""
    found: list[Checker] = []
    for answer in hook().convex_sim_register_checker(sim=sim):
        if answer is None:
            continue
        items = [answer] if callable(answer) else list(answer)
        for item in items:
            if not callable(item):
                raise TypeError(f"convex_sim_register_checker returned {item!r}, not a callable check")
            found.append(item)
    return found


def with_checkers(sim: Any, invariant: Checker | None) -> Checker | None:
    """``invariant`` combined with the plugins' checkers (None if there are none at all)."""
    if getattr(invariant, "with_checkers", False):
        return invariant                   # already combined (a remembered exploration's)
    extra = checkers(sim)
    if not extra:
        return invariant
    every = ([invariant] if invariant is not None else []) + extra

    def combined(ctx: Any) -> Any:
        for check in every:
            if check(ctx) is False:
                name = getattr(check, "__name__", repr(check))
                raise AssertionError(f"{name} returned False")
        return None

    combined.__name__ = getattr(invariant, "__name__", "checkers")
    combined.with_checkers = True  # type: ignore[attr-defined]
    return combined


def import_trace(path: str) -> Any:
    """Events of a foreign trace file through the ``convex_sim_trace_importer`` hook."""
    events = hook().convex_sim_trace_importer(path=str(path))
    if events is None:
        raise ValueError(f"no convex-sim plugin can import the trace {path!r}")
    return events


def commit_listener(sim: Any) -> Callable[[Any], None] | None:
    """A database commit listener calling ``convex_sim_on_commit``, or None when no plugin
    implements it (so commits cost nothing extra)."""
    caller = hook().convex_sim_on_commit
    if not caller.get_hookimpls():
        return None

    def listener(commit: Any) -> None:
        caller(sim=sim, commit=commit)

    return listener


def options_with_checkers(sim: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Explorer keyword options with ``invariant`` combined with the plugins' checkers."""
    out = dict(options)
    out["invariant"] = with_checkers(sim, out.get("invariant"))
    return out
