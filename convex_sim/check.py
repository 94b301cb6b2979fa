"""``convex-sim check``: an app's declared concurrency scenarios, explored in CI.

A ``conformance.toml`` names the app and its scenarios::

    [app]
    modules = "myapp"               # a Python app (schema: myapp.schema:schema) ...
    # project = "path/to/app"       # ... or a TypeScript project (relative to this file)
    # env = { STRIPE_KEY = "sk_test" }  # the deployment's environment variables (process.env)

    [[scenario]]
    name = "three transfers"
    setup = [{ mutation = "bank:open", args = { owner = "ada", amount = 100 } }]
    ops = [{ op = "bank:transfer", args = { src = "ada", dst = "bob", amount = 60 }, times = 3 }]
    invariant = "myapp.checks:no_overdraft"   # module:function(ctx), optional
    budget = 500                               # max schedules, optional
    strategy = "exhaustive"                    # or "random", "pct"
    expect = "ok"                              # or "fail": a known race kept as documentation

Each scenario starts from a fresh simulator (seeded), runs its setup calls, then
explores its ops with every check on (invariant, serializability, subscriptions, the
history checker). ``--shard i/n`` takes every n-th scenario from the i-th (0-based); ``--junit FILE`` writes
JUnit XML and ``--summary FILE`` a Markdown summary with each counterexample's
timeline (both written atomically). Exit codes: 0 every scenario as expected, 1 a
violation, 2 bad input.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .envvars import EnvError, env_from_mapping
from .errors import ConvexSimError
from .explore import Op
from .sim import ConvexSim

CALL_KINDS = ("query", "mutation", "action")


class CheckConfigError(ConvexSimError):
    """A conformance file that cannot be run as written (exit code 2)."""


@dataclass
class Scenario:
    """One declared exploration."""

    name: str
    ops: list[Op]
    setup: list[tuple[str, str, dict]] = field(default_factory=list)
    invariant: Callable[[Any], Any] | None = None
    budget: int | None = None
    strategy: str = "exhaustive"
    expect: str = "ok"


@dataclass
class ScenarioOutcome:
    """How a scenario went: as expected or not, with the exploration's summary and failures."""

    scenario: Scenario
    passed: bool
    summary: str
    timelines: list[str]


# --- reading the file ------------------------------------------------------------------------


def _where(path: Path, index: int | None = None) -> str:
    return f"{path}" + (f", scenario {index + 1}" if index is not None else "")


def _load_callable(spec: str, where: str) -> Callable[[Any], Any]:
    module, _, name = spec.partition(":")
    if not module or not name:
        raise CheckConfigError(f"{where}: invariant must be 'module:function', got {spec!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise CheckConfigError(f"{where}: cannot load invariant {spec!r}: {exc}") from None


def _table(value: Any, what: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CheckConfigError(f"{where}: {what} must be a table, got {value!r}")
    return value


def _ops(raw: Any, where: str) -> list[Op]:
    if not isinstance(raw, list) or not raw:
        raise CheckConfigError(f"{where}: ops must be a non-empty list of {{op = 'module:fn', args = {{...}}}}")
    ops = []
    for entry in raw:
        entry = _table(entry, "each op", where)
        if not isinstance(entry.get("op"), str):
            raise CheckConfigError(f"{where}: each op needs op = 'module:function', got {dict(entry)!r}")
        times = entry.get("times", 1)
        if not isinstance(times, int) or times < 1:
            raise CheckConfigError(f"{where}: times must be an int >= 1, got {times!r}")
        identity = entry.get("identity")
        ops.extend([Op(entry["op"], dict(entry.get("args", {})),
                       **({"identity": identity} if identity else {}))] * times)
    return ops


def _setup(raw: Any, where: str) -> list[tuple[str, str, dict]]:
    calls = []
    for entry in raw or []:
        entry = _table(entry, "each setup call", where)
        kinds = [k for k in CALL_KINDS if k in entry]
        if len(kinds) != 1:
            raise CheckConfigError(f"{where}: a setup call names one of {CALL_KINDS}, got {dict(entry)!r}")
        calls.append((kinds[0], entry[kinds[0]], dict(entry.get("args", {}))))
    return calls


def _python_sim(schema: Any, modules: str, seed: int, env: dict[str, str]) -> ConvexSim:
    sim = ConvexSim(schema, modules=modules, seed=seed)
    sim.runtime.env = dict(env)
    return sim


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None,
                ) -> tuple[Callable[[int], ConvexSim], list[Scenario]]:
    """The simulator factory (by seed) and the scenarios a conformance file declares; ``env``
    (from the command line) overrides the file's ``[app] env``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CheckConfigError(f"{path}: cannot read the conformance file: {exc}") from None
    app = _table(data.get("app"), "[app]", _where(path))
    try:
        variables = {**env_from_mapping(app.get("env", {}), f"{path}: [app] env"), **(env or {})}
    except EnvError as exc:
        raise CheckConfigError(str(exc)) from None
    if "project" in app:
        project = (path.parent / app["project"]).resolve()
        make = lambda seed: ConvexSim.from_project(project, seed=seed, env=variables)  # noqa: E731
    elif "modules" in app:
        modules = app["modules"]
        schema = _load_callable(app.get("schema", f"{modules}.schema:schema"), _where(path))
        make = lambda seed: _python_sim(schema, modules, seed, variables)  # noqa: E731
    else:
        raise CheckConfigError(f"{path}: [app] needs modules = 'package' or project = 'folder'")
    scenarios = []
    for index, raw in enumerate(data.get("scenario", [])):
        where = _where(path, index)
        raw = _table(raw, "[[scenario]]", where)
        strategy, expect = raw.get("strategy", "exhaustive"), raw.get("expect", "ok")
        if strategy not in ("exhaustive", "random", "pct"):
            raise CheckConfigError(f"{where}: strategy must be exhaustive, random or pct, got {strategy!r}")
        if expect not in ("ok", "fail"):
            raise CheckConfigError(f"{where}: expect must be 'ok' or 'fail', got {expect!r}")
        scenarios.append(Scenario(
            name=str(raw.get("name") or f"scenario {index + 1}"), ops=_ops(raw.get("ops"), where),
            setup=_setup(raw.get("setup"), where),
            invariant=_load_callable(raw["invariant"], where) if raw.get("invariant") else None,
            budget=raw.get("budget"), strategy=strategy, expect=expect))
    if not scenarios:
        raise CheckConfigError(f"{path}: no [[scenario]] declared")
    return make, scenarios


# --- running -------------------------------------------------------------------------------------


def run_scenario(make: Callable[[int], ConvexSim], scenario: Scenario, seed: int = 0) -> ScenarioOutcome:
    """Set up a fresh simulator and explore the scenario with every check on."""
    sim = make(seed)
    for kind, path, args in scenario.setup:
        getattr(sim, kind)(path, args)
    result = sim.explore(scenario.ops, invariant=scenario.invariant, strategy=scenario.strategy,
                         max_schedules=scenario.budget, seed=seed)
    failed = not result.ok
    return ScenarioOutcome(scenario, failed == (scenario.expect == "fail"), str(result),
                           [str(f) for f in result.failures])


def shard(items: list[Any], spec: str | None) -> list[Any]:
    """Every n-th item from the i-th (``"i/n"``, 0-based, as ``--convex-shard`` counts)."""
    if not spec:
        return items
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise CheckConfigError(f"--shard expects i/n (like 2/4), got {spec!r}") from None
    if not 0 <= i < n:
        raise CheckConfigError(f"--shard {spec}: i must be between 0 and n-1")
    return items[i::n]


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def junit_xml(outcomes: list[ScenarioOutcome]) -> str:
    """JUnit XML: one testcase per scenario, a failure with the timelines when not as expected."""
    failures = sum(not o.passed for o in outcomes)
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<testsuite name="convex-sim check" tests="{len(outcomes)}" failures="{failures}">']
    for o in outcomes:
        lines.append(f'  <testcase classname="convex-sim" name={quoteattr(o.scenario.name)}>')
        if not o.passed:
            what = "expected a failure, found none" if o.scenario.expect == "fail" else o.summary
            body = escape("\n\n".join([o.summary, *o.timelines]))
            lines.append(f"    <failure message={quoteattr(what)}>{body}</failure>")
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


def markdown_summary(outcomes: list[ScenarioOutcome]) -> str:
    """A Markdown table of scenarios, then each failing scenario's counterexamples."""
    lines = ["# convex-sim check", "", "| scenario | expected | result | |", "|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| {o.scenario.name} | {o.scenario.expect} | {o.summary} | "
                     f"{'as expected' if o.passed else '**VIOLATION**'} |")
    for o in outcomes:
        if o.timelines and not o.passed:
            lines += ["", f"## {o.scenario.name}", ""]
            for timeline in o.timelines:
                lines += ["```", timeline, "```", ""]
    return "\n".join(lines) + "\n"


def main(config: str, *, shard_spec: str | None = None, junit: str | None = None,
         summary: str | None = None, seed: int = 0, out: Callable[[str], None] = print,
         env: Mapping[str, str] | None = None) -> int:
    """Run a conformance file; the exit code: 0 as expected, 1 a violation, 2 bad input."""
    try:
        make, scenarios = load_config(config, env)
        chosen = shard(scenarios, shard_spec)
        outcomes = [run_scenario(make, s, seed) for s in chosen]
    except ConvexSimError as exc:
        print(f"convex-sim check: {exc}", file=sys.stderr)
        return 2
    for o in outcomes:
        out(f"{'ok  ' if o.passed else 'FAIL'} {o.scenario.name}: {o.summary}")
    if junit:
        _write_atomically(Path(junit), junit_xml(outcomes))
    text = markdown_summary(outcomes)
    if summary:
        _write_atomically(Path(summary), text)
    elif not all(o.passed for o in outcomes):
        out(text)
    return 0 if all(o.passed for o in outcomes) else 1
