"""The convex-sim pytest plugin: the ``convex`` fixture, its options and its reports.

Configure the app once, in ``pyproject.toml``::

    [tool.pytest.ini_options]
    convex_sim_app = "myapp"                    # package whose modules hold the functions
    convex_sim_schema = "myapp.schema:schema"   # default: <app>.schema:schema

and write tests that take ``convex``, a fresh :class:`~convex_sim.ConvexSim`
per test. ``@pytest.mark.convex_app("otherapp", schema="otherapp.schema:schema")``
overrides the app for one test or module. For a Convex TypeScript project, set
``convex_sim_project = "path/to/app"`` (or mark a test
``@pytest.mark.convex_project("path")``): the fixture then runs that project's
own ``convex/`` folder. ``--convex-seed N`` sets the seed
(default 0); ``--convex-seed random`` picks one and prints it. When a test
fails, its report gets a "convex-sim" section with the seed and every call
the test made through the fixture, and the timeline and replay line of each
failing exploration. ``--convex-explore-budget N`` caps every ``sim.explore``
that does not set ``max_schedules`` itself; ``--convex-seed`` seeds them too.
``--convex-shard i/n`` runs only shard i of n of every ``sim.explore`` that does not set
``shard`` itself: n CI jobs, one per shard, together run every exploration's schedules.
``--convex-check-history`` records every transaction each ``convex`` sim commits and
fails a test whose history has a dependency cycle (docs/checking.md).
``--convex-record DIR`` writes each test's traffic through the fixture as a trace,
``DIR/<test id>.jsonl``, for ``convex-sim replay``.
"""

from __future__ import annotations

import importlib
import random
import re
from pathlib import Path
from typing import Any

import pytest

from convex_sim import ConvexSim, explore
from convex_sim.envvars import env_from_assignments, env_from_mapping
from convex_sim.errors import ConvexSimError

DEFAULT_SEED = 0
_SIMS = pytest.StashKey[list]()
_SEED = pytest.StashKey[int]()
_SAVED_DEFAULTS = pytest.StashKey[dict]()
_RECORDERS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convex-sim")
    group.addoption(
        "--convex-seed", dest="convex_seed", default=None, metavar="N|random",
        help=f"seed for every ConvexSim the convex fixture creates (default {DEFAULT_SEED}; "
             "'random' picks one and prints it).")
    group.addoption(
        "--convex-explore-budget", dest="convex_explore_budget", type=int, default=None, metavar="N",
        help="default max_schedules of every sim.explore() in the run (a test's explicit value wins)")
    group.addoption(
        "--convex-shard", dest="convex_shard", default=None, metavar="i/n",
        help="default shard of every sim.explore() in the run: only shard i of n (0 <= i < n) of "
             "its schedules runs; the n shards together run exactly the unsharded schedules")
    group.addoption(
        "--convex-check-history", dest="convex_check_history", action="store_true", default=False,
        help="record the transactions of every convex fixture's sim and fail a test whose history "
             "is not serializable (a dependency cycle: G0..G2)")
    group.addoption(
        "--convex-record", dest="convex_record", default=None, metavar="DIR",
        help="record each test's convex fixture traffic as a trace, DIR/<test id>.jsonl "
             "(replay with `convex-sim replay`)")
    group.addoption(
        "--convex-allow-network", dest="convex_allow_network", action="store_true", default=False,
        help="let actions make real outbound HTTP requests that no mock (respx) answers; by "
             "default the convex fixture refuses them")
    group.addoption(
        "--convex-coverage", dest="convex_coverage", action="append", nargs="?", const="",
        default=None, metavar="PKG[,PKG]",
        help="report which app functions the run reached, and which branches of Python ones "
             "(apps: these packages, convex_sim_app, and every app the convex fixture loads)")
    parser.addini("convex_sim_app", "package holding the app's Convex functions (e.g. myapp)")
    parser.addini("convex_sim_schema",
                  "the app's schema object, 'module:attribute' (default: <app>.schema:schema)")
    parser.addini("convex_sim_project",
                  "a Convex TypeScript project (folder with convex/ and node_modules/), relative "
                  "to the rootdir; the convex fixture then runs it")
    parser.addini("convex_sim_env", "the deployment's environment variables the app reads as "
                  "process.env, one NAME=VALUE a line", type="linelist")


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    """``--convex-coverage`` takes its packages only after ``=``: a bare ``--convex-coverage``
    followed by a path (``pytest --convex-coverage tests/x.py``) leaves the path to pytest,
    where argparse's optional value would swallow it."""
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--convex-coverage":
            args[index] = "--convex-coverage="


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "convex_app(package, schema=None): the app the convex fixture loads for this test")
    config.addinivalue_line(
        "markers",
        "convex_project(path, env=None): the Convex TypeScript project the convex fixture loads "
        "for this test, with env (a dict) added to convex_sim_env")
    config.addinivalue_line(
        "markers", "convex_allow_network: actions of this test may reach the real network")
    config.stash[_SEED] = seed = _parse_seed(config.getoption("convex_seed"))
    budget = config.getoption("convex_explore_budget")
    if budget is not None and budget < 1:
        raise pytest.UsageError(f"--convex-explore-budget expects an integer >= 1, got {budget}")
    shard = _parse_shard(config.getoption("convex_shard"))
    config.stash[_SAVED_DEFAULTS] = dict(explore.DEFAULTS)
    explore.DEFAULTS["seed"] = seed
    if budget is not None:
        explore.DEFAULTS["max_schedules"] = budget
    if shard is not None:
        explore.DEFAULTS["shard"] = shard
    wanted = config.getoption("convex_coverage")
    if wanted is not None:
        from convex_sim.coverage import apps_of

        from . import coverage

        coverage.configure(config, apps_of([*wanted, config.getini("convex_sim_app") or ""]))


def pytest_unconfigure(config: pytest.Config) -> None:
    from . import coverage

    coverage.unconfigure(config)
    saved = config.stash.get(_SAVED_DEFAULTS, None)
    if saved is not None:
        explore.DEFAULTS.update(saved)


def _parse_seed(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_SEED
    if raw == "random":
        return random.SystemRandom().randrange(2**32)
    try:
        return int(raw)
    except ValueError:
        raise pytest.UsageError(f"--convex-seed expects an integer or 'random', got {raw!r}") from None


def _parse_shard(raw: str | None) -> tuple[int, int] | None:
    if raw is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", raw)
    if match is None or not int(match[1]) < int(match[2]):
        raise pytest.UsageError(f"--convex-shard expects i/n with 0 <= i < n (e.g. 0/4), got {raw!r}")
    return int(match[1]), int(match[2])


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.stash[_SEED]
    header = f"convex-sim: seed {seed} (reproduce with --convex-seed {seed})"
    shard = _parse_shard(config.getoption("convex_shard"))
    if shard is not None:
        header += f"; explorations: shard {shard[0]}/{shard[1]}"
    return header


def load_object(spec: str, what: str) -> Any:
    """``"pkg.mod:attr"`` (or ``"pkg.mod.attr"``) → the object."""
    module_name, _, attr = spec.partition(":") if ":" in spec else spec.rpartition(".")
    if not module_name or not attr:
        raise pytest.UsageError(f"{what}: expected 'module:attribute', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise pytest.UsageError(f"{what}: cannot import {module_name!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise pytest.UsageError(f"{what}: module {module_name!r} has no attribute {attr!r}") from None


def _app_config(request: pytest.FixtureRequest) -> tuple[str | None, Any]:
    marker = request.node.get_closest_marker("convex_app")
    if marker is not None:
        if not marker.args:
            raise pytest.UsageError("@pytest.mark.convex_app needs the app package: convex_app('myapp')")
        app = marker.args[0]
        schema_spec = marker.kwargs.get("schema")
    else:
        app = request.config.getini("convex_sim_app") or None
        schema_spec = request.config.getini("convex_sim_schema") or None
    if schema_spec:
        return app, load_object(schema_spec, "convex_sim_schema")
    if app:
        try:
            module = importlib.import_module(f"{app}.schema")
        except ModuleNotFoundError:
            return app, None
        return app, getattr(module, "schema", None)
    return None, None


def _project_config(request: pytest.FixtureRequest) -> Path | None:
    """The TypeScript project of this test: the ``convex_project`` marker, else the ini option
    (an ``convex_app`` marker on the test wins over the ini option)."""
    marker = request.node.get_closest_marker("convex_project")
    if marker is not None:
        if not marker.args:
            raise pytest.UsageError("@pytest.mark.convex_project needs the project folder: convex_project('app')")
        raw = marker.args[0]
    elif request.node.get_closest_marker("convex_app") is None:
        raw = request.config.getini("convex_sim_project") or None
    else:
        raw = None
    if raw is None:
        return None
    path = Path(raw)
    return path if path.is_absolute() else Path(request.config.rootpath) / path


def _env_config(request: pytest.FixtureRequest) -> dict[str, str]:
    """The ini option ``convex_sim_env``, then the ``convex_project`` marker's ``env=``."""
    env = env_from_assignments(request.config.getini("convex_sim_env"), "ini option convex_sim_env")
    marker = request.node.get_closest_marker("convex_project")
    if marker is not None and "env" in marker.kwargs:
        env.update(env_from_mapping(marker.kwargs["env"], "@pytest.mark.convex_project(env=...)"))
    return env


@pytest.fixture
def convex(request: pytest.FixtureRequest) -> ConvexSim:
    """A fresh simulator of the configured app, seeded with ``--convex-seed``."""
    seed = request.config.stash[_SEED]
    project = _project_config(request)
    try:
        if project is not None:
            if not (project / "node_modules").is_dir():
                from convex_sim.js import node_tools_missing

                missing = node_tools_missing()
                if missing:
                    pytest.skip(f"convex_project {project}: {missing}")
            sim = ConvexSim.from_project(project, seed=seed, env=_env_config(request))
        else:
            app, schema = _app_config(request)
            sim = ConvexSim(schema, modules=app, seed=seed)
            sim.runtime.env = _env_config(request)
    except ConvexSimError as exc:
        raise pytest.UsageError(f"convex fixture: {exc}") from exc
    sim.allow_network = request.config.getoption("convex_allow_network") or \
        request.node.get_closest_marker("convex_allow_network") is not None
    request.node.stash.setdefault(_SIMS, []).append(sim)
    if request.config.getoption("convex_check_history"):
        from convex_sim.checker import HistoryRecorder

        request.node.stash.setdefault(_RECORDERS, []).append(HistoryRecorder(sim.db))
    record_dir = request.config.getoption("convex_record")
    if record_dir:
        _record(sim, request, Path(record_dir))
    from . import coverage

    coverage.note_sim(request.config, sim)
    return sim


@pytest.fixture
def convex_server(convex: ConvexSim) -> Any:
    """The ``convex`` fixture's simulator served on a free loopback port for Convex's own
    HTTP clients (``.url``; HTTP actions at ``.site_url``), stopped after the test."""
    from convex_sim.serve import Server

    with Server(convex) as server:
        yield server


def _record(sim: ConvexSim, request: pytest.FixtureRequest, directory: Path) -> None:
    """Record this test's traffic to ``directory/<test id>.jsonl`` until the test ends."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
    recorder = sim.record(directory / f"{name}.jsonl")
    recorder.__enter__()
    request.addfinalizer(lambda: recorder.__exit__(None, None, None))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """With --convex-check-history: after the test body, check each sim's recorded history."""
    result = yield
    for recorder in item.stash.get(_RECORDERS, []):
        recorder.stop()
        report = recorder.check()
        if not report.ok:
            raise AssertionError(f"--convex-check-history: {report}")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    sims = item.stash.get(_SIMS, None)
    if report.failed and sims:
        report.sections.append(("convex-sim", describe(sims, item, report.longreprtext)))
    return report


def describe(sims: list[ConvexSim], item: pytest.Item, shown: str = "") -> str:
    """The failure section: seed, every call (path, args, result or error), a replay line.
    A counterexample whose timeline the failure already shows (``shown``) gets one line."""
    lines = []
    for sim in sims:
        dropped = sim.calls.dropped
        kept = f" (the first {dropped} not kept)" if dropped else ""
        lines.append(f"seed {sim.seed}, {sim.calls.total} call(s){kept}, virtual clock {sim.clock:.0f} ms")
        for number, record in enumerate(sim.calls, start=dropped + 1):
            lines.append(f"  {number:>3}. {record}")
        for result in sim.explorations:
            lines.append(f"explore: {result}")
            for example in result.failures:
                timeline = str(example)
                lines.append(timeline if timeline.splitlines()[0] not in shown else
                             f"  schedule {example.schedule!r}: its timeline is in the failure above")
    lines.append(f"reproduce: pytest '{item.nodeid}' --convex-seed {sims[0].seed}")
    return "\n".join(lines)
