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
    # an op may act as a user: { op = "...", args = {...}, identity = { subject = "ada" } }
    invariant = "myapp.checks:no_overdraft"   # module:function(ctx), optional
    budget = 500                               # max schedules, optional
    strategy = "exhaustive"                    # or "random", "pct"
    expect = "ok"                              # or "fail": a known race kept as documentation

Each scenario starts from a fresh simulator (seeded), runs its setup calls, then
explores its ops with every check on (invariant, serializability, subscriptions, the
history checker). ``--shard i/n`` takes every n-th scenario from the i-th (0-based); ``--junit FILE`` writes
JUnit XML and ``--summary FILE`` a Markdown summary with each counterexample's
timeline (both written atomically). Exit codes: 0 every scenario as expected, 1 a
violation, 2 bad input. Every key is checked against the schema in
``conformance_schema`` (docs/ci.md lists them): an unknown key or a wrong type is a
CheckConfigError naming the key, its table and line, and the nearest known key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from . import conformance_schema
from .conformance_schema import CALL_KINDS, ScenarioTable
from .envvars import EnvError, env_from_mapping
from .errors import ConvexError, ConvexSimError
from .explore import Op, write_atomically
from .loading import LoadError, load_object
from .sim import ConvexSim

__all__ = ["CALL_KINDS", "CheckConfigError", "Scenario", "ScenarioOutcome", "config_keys", "junit_xml",
           "load_config", "main", "markdown_summary", "run_scenario", "shard"]


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
    where: str = ""   # the file and table that declared it, for errors


@dataclass
class ScenarioOutcome:
    """How a scenario went: as expected or not, with the exploration's summary and failures."""

    scenario: Scenario
    passed: bool
    summary: str
    timelines: list[str]


# --- reading the file ------------------------------------------------------------------------

#: The largest conformance file read (it is read whole).
MAX_CONFIG_BYTES = 1024 * 1024


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """The file's TOML data and text; CheckConfigError for anything unreadable."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CheckConfigError(f"{path}: cannot read the conformance file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise CheckConfigError(f"{path}: {len(raw)} bytes, more than a conformance file's "
                               f"{MAX_CONFIG_BYTES}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise CheckConfigError(f"{path}: not UTF-8 text (byte {raw[exc.start]:#04x} on line {line})") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise CheckConfigError(f"{path}: cannot read the conformance file: {exc}") from None
    except RecursionError:
        raise CheckConfigError(f"{path}: nested deeper than the TOML reader allows") from None


def _load_callable(spec: str, where: str, what: str) -> Callable[[Any], Any]:
    try:
        return load_object(spec, what)
    except LoadError as exc:
        raise CheckConfigError(f"{where}: {exc}") from None


def _scenario(table: ScenarioTable, index: int, where: str) -> Scenario:
    ops = [Op(entry.op, dict(entry.args), **({"identity": dict(entry.identity)} if entry.identity else {}))
           for entry in table.ops for _ in range(entry.times)]
    return Scenario(
        name=table.name or f"scenario {index + 1}", ops=ops,
        setup=[(*entry.call, dict(entry.args)) for entry in table.setup],
        invariant=_load_callable(table.invariant, where, "invariant") if table.invariant else None,
        budget=table.budget, strategy=table.strategy, expect=table.expect, where=where)


def _python_sim(schema: Any, modules: str, seed: int, env: dict[str, str]) -> ConvexSim:
    sim = ConvexSim(schema, modules=modules, seed=seed)
    sim.runtime.env = dict(env)
    return sim


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None,
                ) -> tuple[Callable[[int], ConvexSim], list[Scenario]]:
    """The simulator factory (by seed) and the scenarios a conformance file declares; ``env``
    (from the command line) overrides the file's ``[app] env``. Anything the file gets
    wrong (an unknown key, a wrong type, an invariant that cannot be imported) is a
    CheckConfigError naming the file, the key and, when it can be found, the line."""
    path = Path(path)
    data, text = _read_toml(path)
    try:
        config = conformance_schema.parse(data, text)
    except conformance_schema.SchemaProblem as exc:
        raise CheckConfigError(f"{path}{f', line {exc.line}' if exc.line else ''}: {exc}") from None
    app = config.app
    try:
        variables = {**env_from_mapping(app.env, f"{path}: [app] env"), **(env or {})}
    except EnvError as exc:
        raise CheckConfigError(str(exc)) from None
    if app.project is not None:
        project = (path.parent / app.project).resolve()
        make = lambda seed: ConvexSim.from_project(project, seed=seed, env=variables)  # noqa: E731
    else:
        modules = app.modules
        schema = _load_callable(app.schema_spec or f"{modules}.schema:schema", f"{path}: [app]", "schema")
        make = lambda seed: _python_sim(schema, modules, seed, variables)  # noqa: E731
    scenarios = [_scenario(table, index, f"{path}, [[scenario]] {index + 1}")
                 for index, table in enumerate(config.scenario)]
    if not scenarios:
        raise CheckConfigError(f"{path}: no [[scenario]] declared")
    return make, scenarios


def config_keys() -> dict[str, list[str]]:
    """Every key each table of a conformance file accepts (docs/ci.md lists them)."""
    return conformance_schema.config_keys()


# --- running -------------------------------------------------------------------------------------


def run_scenario(make: Callable[[int], ConvexSim], scenario: Scenario, seed: int = 0) -> ScenarioOutcome:
    """Set up a fresh simulator and explore the scenario with every check on. A scenario
    that cannot run as written (a setup call that fails, an unknown function) raises
    CheckConfigError naming where it was declared."""
    where = scenario.where or scenario.name
    try:
        sim = make(seed)
    except (ConvexSimError, ImportError, OSError) as exc:
        raise CheckConfigError(f"{where}: cannot load the app: {exc}") from None
    for number, (kind, path, args) in enumerate(scenario.setup, start=1):
        try:
            getattr(sim, kind)(path, args)
        except (ConvexSimError, ConvexError) as exc:
            raise CheckConfigError(f"{where}: setup call {number} ({kind} {path}) failed: {exc}") from None
    try:
        result = sim.explore(scenario.ops, invariant=scenario.invariant, strategy=scenario.strategy,
                             max_schedules=scenario.budget, seed=seed)
    except ConvexSimError as exc:
        raise CheckConfigError(f"{where}: cannot explore its ops: {exc}") from None
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


def _write_report(path: str, text: str) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)
    except OSError as exc:
        raise CheckConfigError(f"{path}: cannot write the report: {exc.strerror or exc}") from None


def main(config: str, *, shard_spec: str | None = None, junit: str | None = None,
         summary: str | None = None, seed: int = 0, out: Callable[[str], None] = print,
         env: Mapping[str, str] | None = None) -> int:
    """Run a conformance file; return the exit code: 0 as expected, 1 a violation. Bad
    input raises CheckConfigError (the ``convex-sim`` command makes that exit code 2)."""
    make, scenarios = load_config(config, env)
    outcomes = [run_scenario(make, s, seed) for s in shard(scenarios, shard_spec)]
    for o in outcomes:
        out(f"{'ok  ' if o.passed else 'FAIL'} {o.scenario.name}: {o.summary}")
    if junit:
        _write_report(junit, junit_xml(outcomes))
    text = markdown_summary(outcomes)
    if summary:
        _write_report(summary, text)
    elif not all(o.passed for o in outcomes):
        out(text)
    return 0 if all(o.passed for o in outcomes) else 1
