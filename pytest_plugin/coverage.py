"""``--convex-coverage``: report which app functions (and Python branches) the run reached."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from convex_sim.coverage import AppCoverage
from convex_sim.errors import ConvexSimError

#: The run's coverage, when ``--convex-coverage`` is on (the convex fixture adds its sims).
COVERAGE = pytest.StashKey[AppCoverage]()


class CoveragePlugin:
    """Measures from configure to the end of the session; one dynamic context per test."""

    def __init__(self, coverage: AppCoverage) -> None:
        self.coverage = coverage

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self.coverage.switch_context(item.nodeid)
        try:
            return (yield)
        finally:
            self.coverage.switch_context("")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        self.coverage.stop()
        terminalreporter.write_sep("-", "convex-sim coverage")
        terminalreporter.write_line(self.coverage.report())


def configure(config: pytest.Config, apps: list[str]) -> None:
    """Start measuring the app functions of ``apps`` (and of every sim the fixture makes)."""
    if hasattr(config, "workerinput"):
        return                          # a pytest-xdist worker: the controller refused already
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--convex-coverage does not combine pytest-xdist workers' data "
                                "yet; run it without -n")
    try:
        coverage = AppCoverage(apps)
    except ConvexSimError as exc:
        raise pytest.UsageError(f"--convex-coverage: {exc}") from None
    coverage.start()
    config.stash[COVERAGE] = coverage
    config.pluginmanager.register(CoveragePlugin(coverage), "convex-sim-coverage")


def unconfigure(config: pytest.Config) -> None:
    coverage = config.stash.get(COVERAGE, None)
    if coverage is not None:
        coverage.stop()


def note_sim(config: pytest.Config, sim: Any) -> None:
    """Add a sim's app (Python package or TypeScript project) to the report."""
    coverage = config.stash.get(COVERAGE, None)
    if coverage is not None:
        coverage.add_sim(sim)
