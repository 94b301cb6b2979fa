"""App-function coverage: which of the app's functions a test run reached, and which branches.

::

    cov = AppCoverage(packages=["myapp"])
    cov.start()
    cov.switch_context("test_transfer")       # the pytest plugin does this per test
    ...                                       # tests, explorations, fuzzing
    cov.stop()
    print(cov.report())

Every app function (Python or TypeScript) counts as reached when the runtime executes
it (:data:`convex_sim.runtime.INVOKE_OBSERVERS`), whether called directly, nested, by
the scheduler or inside an explored schedule, and the context (test) that reached it
is recorded. For Python functions, coverage.py (branch mode, dynamic contexts) also
tells which branches of the handler ran. TypeScript functions run in an embedded
engine Python cannot trace, so they get function-level coverage only.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import runtime
from .functions import ConvexFunction, Registry, discover


@dataclass(frozen=True)
class FunctionCoverage:
    """One app function: whether it ran, which tests reached it, its branches (Python)."""

    app: str
    path: str
    kind: str
    language: str
    contexts: tuple[str, ...]
    branches: int | None = None
    branches_taken: int | None = None
    missing: tuple[str, ...] = field(default=())

    @property
    def ran(self) -> bool:
        return bool(self.contexts)

    def __str__(self) -> str:
        if not self.ran:
            return f"{self.app} {self.path}: not reached"
        tests = f"{len(self.contexts)} test{'s' if len(self.contexts) != 1 else ''}"
        if self.branches is None:
            detail = "function-level only" if self.language != "python" else "no branch data"
        elif self.branches == 0:
            detail = "no branches"
        else:
            detail = f"branches {self.branches_taken}/{self.branches}"
            if self.missing:
                detail += f" (missing {', '.join(self.missing)})"
        return f"{self.app} {self.path}: ran in {tests}; {detail}"


def _code_lines(code: Any) -> set[int]:
    """Lines of a code object's own instructions and of the functions nested in it."""
    lines = {line for _, _, line in code.co_lines() if line is not None}
    lines.discard(code.co_firstlineno)          # the def (or first decorator) line
    for const in code.co_consts:
        if hasattr(const, "co_lines"):
            lines |= _code_lines(const) | {const.co_firstlineno}
    return lines


class AppCoverage:
    """Coverage of the app functions of ``packages`` and of registries added later."""

    def __init__(self, packages: Sequence[str] = ()) -> None:
        self._apps: dict[str, Registry] = {}
        for package in packages:
            self.add_registry(package, discover(package))
        self._reached: dict[int, tuple[ConvexFunction, set[str]]] = {}
        self._context = ""
        self._cov: Any = None
        self._data: Any = None

    def add_registry(self, app: str, registry: Registry) -> None:
        """Report every function of ``registry`` under the name ``app``."""
        self._apps.setdefault(app, registry)

    def add_sim(self, sim: Any) -> None:
        """Report the functions ``sim`` runs (a TypeScript project's, or a Python app's)."""
        project = getattr(sim, "project", None)
        if project is not None:
            root = str(getattr(project, "path", project)).rstrip("/\\")
            self.add_registry(f"{os.path.basename(root)} (TypeScript)", sim.registry)
            return
        modules = sorted({fn.__module__.rpartition(".")[0] or fn.__module__
                          for fn in sim.registry.functions.values()})
        for app in modules:
            if app not in self._apps:
                self.add_registry(app, discover(app))

    # -- measuring -------------------------------------------------------------------------
    def start(self) -> None:
        """Start recording (coverage.py for Python handlers, the runtime's observer for all)."""
        import coverage

        roots = sorted({os.path.dirname(importlib.import_module(app).__file__ or "") + os.sep + "*"
                        for app, registry in self._apps.items() if _is_python(registry)})
        self._cov = coverage.Coverage(branch=True, data_file=None, config_file=False,
                                      include=roots or None)
        self._cov.start()
        self._cov.switch_context(self._context)
        runtime.INVOKE_OBSERVERS.append(self._observe)

    def switch_context(self, context: str) -> None:
        """Attribute what runs from now on to ``context`` (a test's node id)."""
        self._context = context
        if self._cov is not None:
            self._cov.switch_context(context)

    def stop(self) -> None:
        """Stop recording; the results stay readable."""
        if self._observe in runtime.INVOKE_OBSERVERS:
            runtime.INVOKE_OBSERVERS.remove(self._observe)
        if self._cov is not None:
            self._cov.stop()
            self._data = self._cov.get_data()

    def _observe(self, fn: ConvexFunction) -> None:
        entry = self._reached.get(id(fn))
        if entry is None:
            entry = self._reached[id(fn)] = (fn, set())
        entry[1].add(self._context or "(no test)")

    # -- results ---------------------------------------------------------------------------
    def results(self) -> list[FunctionCoverage]:
        """Every function of every app, sorted by app and path."""
        out = []
        for app in sorted(self._apps):
            registry = self._apps[app]
            for path in sorted(registry.functions):
                out.append(self._function(app, path, registry.functions[path]))
        return out

    def _function(self, app: str, path: str, fn: ConvexFunction) -> FunctionCoverage:
        contexts = tuple(sorted(self._reached.get(id(fn), (fn, set()))[1]))
        code = getattr(fn.handler, "__code__", None)
        language = "python" if code is not None and not _is_js(fn) else "typescript"
        if language != "python" or self._data is None or not contexts:
            return FunctionCoverage(app, path, fn.kind, language, contexts)
        branches, taken, missing = self._branches(code)
        return FunctionCoverage(app, path, fn.kind, language, contexts, branches, taken, missing)

    def _branches(self, code: Any) -> tuple[int | None, int | None, tuple[str, ...]]:
        from coverage.parser import PythonParser

        filename = os.path.abspath(code.co_filename)
        executed = set(self._data.arcs(filename) or ())
        try:
            parser = PythonParser(filename=filename)
            parser.parse_source()
        except Exception:           # source gone or unparsable: line-level is all we have
            return None, None, ()
        lines = _code_lines(code)
        possible: dict[int, list[int]] = {}
        for start, end in sorted(parser.arcs()):
            if start in lines:
                possible.setdefault(start, []).append(end)
        total = taken = 0
        missing = []
        for start, ends in sorted(possible.items()):
            if len(ends) < 2:
                continue
            for end in ends:
                total += 1
                if (start, end) in executed:
                    taken += 1
                else:
                    missing.append(f"{start}->{end if end > 0 else 'exit'}")
        return total, taken, tuple(missing)

    def report(self) -> str:
        """The text report: one line per function, then the functions nothing reached."""
        results = self.results()
        lines = [f"convex-sim app coverage: {sum(r.ran for r in results)} of {len(results)} "
                 "app functions reached"]
        lines += [f"  {r}" for r in results if r.ran]
        unreached = [r for r in results if not r.ran]
        if unreached:
            lines.append("not reached by any test:")
            lines += [f"  {r.app} {r.path} ({r.kind})" for r in unreached]
        return "\n".join(lines)


def _is_js(fn: ConvexFunction) -> bool:
    return type(fn).__module__.startswith("convex_sim.js")


def _is_python(registry: Registry) -> bool:
    return not any(_is_js(fn) for fn in registry.functions.values())


def apps_of(specs: Iterable[str]) -> list[str]:
    """Package names from ``--convex-coverage`` values (comma-separated, blanks dropped)."""
    return sorted({part.strip() for spec in specs for part in spec.split(",") if part.strip()})
