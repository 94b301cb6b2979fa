"""``convex-sim check``: an app's declared concurrency scenarios, explored in CI.

A ``conformance.toml`` names the app and its scenarios::

    [app]
    modules = "myapp"               # a Python app (schema: myapp.schema:schema) ...
    # project = "path/to/app"       # ... or a TypeScript project (relative to this file)
    # env = { STRIPE_KEY = "sk_test" }  # the deployment's environment variables (process.env)

    [[scenario]]
    name = "three transfers"
    setup = [{ mutation = "bank:open", args = { owner = "ada", amount = 100 }, as = "ada" }]
    ops = [{ op = "bank:transfer", args = { src = "ada", dst = "bob", amount = 60 }, times = 3 }]
    # an op may act as a user: { op = "...", args = {...}, identity = { subject = "ada" } }
    # and use a named setup result: args = { account = { "$setup" = "ada" } }
    invariant = "myapp.checks:no_overdraft"   # module:function(ctx), or a query of the app, optional
    budget = 500                               # max schedules, optional
    strategy = "exhaustive"                    # or "random", "pct"
    expect = "ok"                              # or "fail": a known race kept as documentation
    # expect_failure = "invariant"             # with "fail": the kind of the first failure
    # serializable = false                     # no serial-order check
    # env = { FEATURE = "on" }                 # over [app] env

Each scenario starts from a fresh simulator (seeded, with its env), runs its setup
calls, then explores its ops with every check on (invariant, serializability unless
``serializable = false``, subscriptions, the history checker). ``--shard i/n`` takes
every n-th scenario from the i-th (0-based); ``--junit FILE`` writes JUnit XML (each
test case with its wall time) and ``--summary FILE`` a Markdown summary with each
counterexample's timeline (both written atomically). Exit codes: 0 every scenario as expected, 1 a
violation, 2 bad input. Every key is checked against the schema in
``conformance_schema`` (docs/ci.md lists them): an unknown key or a wrong type is a
CheckConfigError naming the key, its table and line, and the nearest known key.
"""

from __future__ import annotations

import os
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from . import conformance_schema
from .conformance_schema import CALL_KINDS, SETUP_REFERENCE, ScenarioTable, is_reference
from .envvars import EnvError, env_from_mapping
from .errors import ConvexError, ConvexSimError
from .explore import Op, write_atomically
from .loading import LoadError, import_roots, load_object
from .sim import ConvexSim

__all__ = ["CALL_KINDS", "CheckConfigError", "Scenario", "ScenarioOutcome", "SetupCall", "config_keys",
           "junit_xml", "load_config", "main", "markdown_summary", "mismatch", "resolve", "run_scenario",
           "shard"]


class CheckConfigError(ConvexSimError):
    """A conformance file that cannot be run as written (exit code 2)."""


@dataclass
class SetupCall:
    """A call run before exploring; ``name`` (``as``) keeps its result for ``$setup``."""

    kind: str
    path: str
    args: dict
    name: str | None = None


@dataclass
class Scenario:
    """One declared exploration. Its ops' args may hold ``{ "$setup" = "name" }`` references,
    resolved once the setup calls have run."""

    name: str
    ops: list[Any]   # Op, and Frontend for a scenario's frontends
    setup: list[SetupCall] = field(default_factory=list)
    #: A Python ``module:function(ctx)``, or the path of a query of the app (resolved when
    #: the scenario runs, against its simulator).
    invariant: Callable[[Any], Any] | str | None = None
    budget: int | None = None
    strategy: str = "exhaustive"
    expect: str = "ok"
    where: str = ""   # the file and table that declared it, for errors
    expect_failure: str | None = None   # with expect "fail": the kind the first failure must have
    serializable: bool = True
    env: dict[str, str] | None = None   # the deployment's variables; None: the app's


@dataclass
class ScenarioOutcome:
    """How a scenario went: as expected or not, with the exploration's summary and failures;
    ``problem`` says how it differs from what was declared, ``seconds`` is its wall time."""

    scenario: Scenario
    passed: bool
    summary: str
    timelines: list[str]
    problem: str = ""
    seconds: float = 0.0


# --- reading the file ------------------------------------------------------------------------

#: The largest conformance file read (it is read whole).
MAX_CONFIG_BYTES = 1024 * 1024


def _read_toml(path: Path, max_bytes: int = MAX_CONFIG_BYTES) -> tuple[dict[str, Any], str]:
    """The file's TOML data and text; CheckConfigError for anything unreadable. At most
    ``max_bytes`` are read: a larger file (or an endless one) is refused, not read whole."""
    try:
        with path.open("rb") as file:
            raw = file.read(max_bytes + 1)
    except OSError as exc:
        raise CheckConfigError(f"{path}: cannot read the conformance file: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise CheckConfigError(f"{path}: more than a conformance file's {max_bytes}-byte limit "
                               "(load_config(..., max_bytes=N) raises it)")
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


def _invariant(sim: ConvexSim, spec: Callable[[Any], Any] | str | None,
               where: str) -> Callable[[Any], Any] | str | None:
    """A scenario's invariant: a query of the app by its path (``"checks:noOversell"``,
    which the explorer runs), else a Python ``module:function``."""
    if spec is None or callable(spec):
        return spec
    try:
        sim.runtime.registry.resolve(spec)
        return spec
    except ConvexSimError:
        pass
    try:
        return load_object(spec, "invariant")
    except LoadError as exc:
        raise CheckConfigError(f"{where}: invariant {spec!r} is not a function of the app, and {exc}") from None


def _env(values: Mapping[str, Any], where: str) -> dict[str, str]:
    try:
        return env_from_mapping(values, where)
    except EnvError as exc:
        raise CheckConfigError(str(exc)) from None


def _scenario(table: ScenarioTable, index: int, where: str, app_env: dict[str, str],
              cli_env: Mapping[str, str]) -> Scenario:
    ops: list[Any] = [Op(entry.op, dict(entry.args), **({"identity": dict(entry.identity)} if entry.identity else {}))
                      for entry in table.ops for _ in range(entry.times)]
    if table.frontends:
        from .serve.frontend import Frontend

        ops += [Frontend(entry.script, entry.name, entry.drops) for entry in table.frontends]
    return Scenario(
        name=table.name or f"scenario {index + 1}", ops=ops,
        setup=[SetupCall(*entry.call, dict(entry.args), entry.as_) for entry in table.setup],
        invariant=table.invariant,
        budget=table.budget, strategy=table.strategy, expect=table.expect, where=where,
        expect_failure=table.expect_failure, serializable=table.serializable,
        env={**app_env, **_env(table.env, f"{where} env"), **cli_env})


def _python_sim(schema: Any, modules: str, seed: int, env: dict[str, str]) -> ConvexSim:
    sim = ConvexSim(schema, modules=modules, seed=seed)
    sim.runtime.env = dict(env)
    return sim


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None,
                max_bytes: int = MAX_CONFIG_BYTES) -> tuple[Callable[[int], ConvexSim], list[Scenario]]:
    """The simulator factory (``make(seed)``, or ``make(seed, env)`` for a scenario's own
    variables) and the scenarios a conformance file declares; ``env`` (from the command line)
    overrides the file's ``[app] env`` and each scenario's ``env``. Anything the file gets
    wrong (an unknown key, a wrong type, a reference to no setup result, an invariant that
    cannot be imported) is a CheckConfigError naming the file, the key and, when it can be
    found, the line."""
    path = Path(path)
    data, text = _read_toml(path, max_bytes)
    try:
        config = conformance_schema.parse(data, text)
    except conformance_schema.SchemaProblem as exc:
        raise CheckConfigError(f"{path}{f', line {exc.line}' if exc.line else ''}: {exc}") from None
    app = config.app
    app_env, cli_env = _env(app.env, f"{path}: [app] env"), dict(env or {})
    variables = {**app_env, **cli_env}
    if app.project is not None:
        project = (path.parent / app.project).resolve()
        make = lambda seed, env=variables: ConvexSim.from_project(project, seed=seed, env=env)  # noqa: E731
    else:
        modules = app.modules
        schema = _load_callable(app.schema_spec or f"{modules}.schema:schema", f"{path}: [app]", "schema")
        make = lambda seed, env=variables: _python_sim(schema, modules, seed, env)  # noqa: E731
    scenarios = [_scenario(table, index, f"{path}, [[scenario]] {index + 1}", app_env, cli_env)
                 for index, table in enumerate(config.scenario)]
    if not scenarios:
        raise CheckConfigError(f"{path}: no [[scenario]] declared")
    return make, scenarios


def config_keys() -> dict[str, list[str]]:
    """Every key each table of a conformance file accepts (docs/ci.md lists them)."""
    return conformance_schema.config_keys()


# --- running -------------------------------------------------------------------------------------


def resolve(value: Any, results: Mapping[str, Any]) -> Any:
    """``value`` with each ``{ "$setup" = "name" }`` replaced by that setup call's result
    (the schema has checked every name)."""
    if is_reference(value):
        return results[value[SETUP_REFERENCE]]
    if isinstance(value, dict):
        return {key: resolve(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, results) for item in value]
    return value


def _set_up(sim: ConvexSim, scenario: Scenario, where: str) -> dict[str, Any]:
    """Run the setup calls in order; return the named results."""
    results: dict[str, Any] = {}
    for number, call in enumerate(scenario.setup, start=1):
        try:
            result = getattr(sim, call.kind)(call.path, resolve(call.args, results))
        except (ConvexSimError, ConvexError) as exc:
            raise CheckConfigError(f"{where}: setup call {number} ({call.kind} {call.path}) failed: {exc}") from None
        if call.name is not None:
            results[call.name] = result
    return results


def _an(kind: str) -> str:
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def mismatch(scenario: Scenario, result: Any) -> str:
    """How an exploration's result differs from what the scenario declares ("" when it is as
    declared): ``expect = "fail"`` wants a failure, and with ``expect_failure`` the first
    failure (``result.failures`` come invariant first) to be of that kind."""
    if scenario.expect != "fail":
        return "" if result.ok else str(result)
    wanted = scenario.expect_failure
    if wanted is None:
        return "expected a failure, found none" if result.ok else ""
    if not result.failures:
        return f"expected {_an(wanted)} failure, found none"
    first = result.failures[0].kind
    return "" if first == wanted else f"expected {_an(wanted)} failure first, the first was {first}"


def run_scenario(make: Callable[..., ConvexSim], scenario: Scenario, seed: int = 0) -> ScenarioOutcome:
    """Set up a fresh simulator (with the scenario's env) and explore the scenario with
    every check on (serializability unless the scenario turns it off). A scenario that
    cannot run as written (a setup call that fails, an unknown function) raises
    CheckConfigError naming where it was declared. The outcome's ``seconds`` is wall time,
    for reports only."""
    started = time.perf_counter()
    where = scenario.where or scenario.name
    try:
        sim = make(seed) if scenario.env is None else make(seed, scenario.env)
    except (ConvexSimError, ImportError, OSError) as exc:
        raise CheckConfigError(f"{where}: cannot load the app: {exc}") from None
    results = _set_up(sim, scenario, where)
    ops = [replace(op, args=resolve(op.args, results)) if isinstance(op, Op) else op for op in scenario.ops]
    invariant = _invariant(sim, scenario.invariant, where)
    try:
        result = sim.explore(ops, invariant=invariant, strategy=scenario.strategy,
                             max_schedules=scenario.budget, seed=seed,
                             check_serializable=scenario.serializable)
    except ConvexSimError as exc:
        raise CheckConfigError(f"{where}: cannot explore its ops: {exc}") from None
    problem = mismatch(scenario, result)
    return ScenarioOutcome(scenario, not problem, str(result), [str(f) for f in result.failures],
                           problem, time.perf_counter() - started)


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
    seconds = sum(o.seconds for o in outcomes)
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<testsuite name="convex-sim check" tests="{len(outcomes)}" failures="{failures}" '
             f'time="{seconds:.3f}">']
    for o in outcomes:
        lines.append(f'  <testcase classname="convex-sim" name={quoteattr(o.scenario.name)} '
                     f'time="{o.seconds:.3f}">')
        if not o.passed:
            body = escape("\n\n".join([o.summary, *o.timelines]))
            lines.append(f"    <failure message={quoteattr(o.problem or o.summary)}>{body}</failure>")
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


def _unless_summary(outcome: ScenarioOutcome) -> str:
    """``": <problem>"`` when the problem is not the summary itself."""
    return "" if outcome.problem in ("", outcome.summary) else f": {outcome.problem}"


def markdown_summary(outcomes: list[ScenarioOutcome]) -> str:
    """A Markdown table of scenarios, then each failing scenario's counterexamples."""
    lines = ["# convex-sim check", "", "| scenario | expected | result | |", "|---|---|---|---|"]
    for o in outcomes:
        expected = o.scenario.expect + (f" ({o.scenario.expect_failure})" if o.scenario.expect_failure else "")
        lines.append(f"| {o.scenario.name} | {expected} | {o.summary} | "
                     f"{'as expected' if o.passed else '**VIOLATION**' + _unless_summary(o)} |")
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
    input raises CheckConfigError (the ``convex-sim`` command makes that exit code 2). The
    Python modules the file names are imported from its folder, then the current directory."""
    with import_roots([Path(config).parent, Path.cwd()]):
        make, scenarios = load_config(config, env)
        outcomes = [run_scenario(make, s, seed) for s in shard(scenarios, shard_spec)]
    for o in outcomes:
        verdict = f"{o.problem} ({o.summary})" if _unless_summary(o) else o.summary
        out(f"{'ok  ' if o.passed else 'FAIL'} {o.scenario.name}: {verdict}")
    if junit:
        _write_report(junit, junit_xml(outcomes))
    text = markdown_summary(outcomes)
    if summary:
        _write_report(summary, text)
    elif not all(o.passed for o in outcomes):
        out(text)
    return 0 if all(o.passed for o in outcomes) else 1
