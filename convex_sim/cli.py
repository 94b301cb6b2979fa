"""The ``convex-sim`` command."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from . import __name__ as _package
from .checker import check_history, load_history
from .checker.jsonl import DEFAULT_MAX_BYTES
from .clock import iso_ms
from .envvars import add_env_options, env_from_options
from .errors import ConvexError, ConvexSimError
from .explore import Flow, Op
from .jsonlines import DEFAULT_MAX_LINE_BYTES
from .sim import ConvexSim


def _print(text: str = "") -> None:
    print(text)


def demo_chat() -> None:
    from scenarios.chat.schema import schema

    _print("== chat: channels, auth-gated messages, pagination, an action")
    sim = ConvexSim(schema, modules="scenarios.chat", seed=0)
    ada = sim.with_identity(subject="ada", name="Ada")
    bob = sim.with_identity(subject="bob", name="Bob")
    channel = ada.mutation("channels:create", {"name": "general"})
    for i, who in enumerate([ada, bob, ada, ada, bob]):
        who.mutation("messages:send", {"channel": channel, "body": f"message {i}"})
    try:
        sim.mutation("messages:send", {"channel": channel, "body": "anonymous"})
    except Exception as exc:  # the app's own ConvexError
        _print(f"  anonymous send refused: {exc}")
    cursor, pages = None, []
    while True:
        page = sim.query("messages:list", {"channel": channel,
                                           "pagination_opts": {"num_items": 2, "cursor": cursor}})
        pages.append([m["body"] for m in page["page"]])
        if page["is_done"]:
            break
        cursor = page["continue_cursor"]
    _print(f"  pages, newest first: {pages}")
    _print(f"  summarize action: {sim.action('messages:summarize', {'channel': channel})!r}")
    _print(f"  {sim.calls.total} calls, {sim.db.latest_ts} commits, virtual clock {iso_ms(sim.clock)}")


def _bank(schema: Any) -> ConvexSim:
    sim = ConvexSim(schema, modules="scenarios.bank", seed=0)
    sim.mutation("bank:open_account", {"owner": "ada", "balance": 100})
    sim.mutation("bank:open_account", {"owner": "bob", "balance": 0})
    return sim


#: What the two figures after every exploration count.
_LEGEND = (
    "  conflicts: commits the OCC committer rejected because a concurrent commit changed what "
    "they read (each was retried), over all schedules",
    "  sleep_blocked: branches not explored because they only reorder independent steps of a "
    "schedule already run (partial-order reduction)",
)


def _print_race(label: str, result: Any, fix: str) -> None:
    """A failing exploration's first counterexample, shrunk, and the fix its correct twin uses."""
    failure = next((f for f in result.failures if f.kind == "invariant"), result.failures[0])
    _print()
    _print(f"{label}, shrunk to its shortest schedule:")
    _print(str(failure))
    _print(f"fix: {fix}")


def demo_explore() -> None:
    from scenarios.bank.bank import no_overdraft
    from scenarios.bank.schema import schema as bank_schema
    from scenarios.races import counter, orders, signup
    from scenarios.races.schema import schema as races_schema

    _print("== explore: every interleaving of concurrent calls, checked")
    sim = _bank(bank_schema)
    races = ConvexSim(races_schema, modules="scenarios.races", seed=0)
    transfer = {"src": "ada", "dst": "bob", "amount": 60}
    # (label, simulator, ops, explore options, the fix the correct twin uses; None: it is the twin)
    checks: list[tuple[str, ConvexSim, list, dict, str | None]] = [
        ("bank:transfer x3 (one mutation each)", sim, [Op("bank:transfer", transfer)] * 3,
         {"invariant": no_overdraft}, None),
        ("bank:transfer_via_action x2", sim, [Op("bank:transfer_via_action", transfer)] * 2,
         {"invariant": no_overdraft}, "bank:transfer checks the balance and moves the money in "
         "one mutation, so a concurrent debit conflicts and is retried."),
        ("counter: read then write (client flow) x2", races, [Flow(counter.read_then_write)] * 2, {},
         "counter:increment reads and writes in one mutation (increment_flow), so no update is lost."),
        ("counter: increment (client flow) x2", races, [Flow(counter.increment_flow)] * 2, {}, None),
        ("signup: register_via_action x2", races,
         [Op("signup:register_via_action", {"name": "ada"})] * 2, {"invariant": signup.unique_names},
         "signup:register checks that the name is free and inserts it in one mutation."),
        ("orders: place + cancel, racing the job", races,
         [Op("orders:place", {"customer": "c1"}), Op("orders:cancel", {"customer": "c1"})],
         {"invariant": orders.never_charge_a_canceled_order, "check_serializable": False},
         "orders:process_safely charges through orders:charge_if_placed, which re-checks the "
         "status in the charging mutation."),
    ]
    failed = []
    for label, target, ops, options, fix in checks:
        result = target.explore(ops, **options)
        _print(f"  {label:<41} {result}")
        if result.failures and fix is not None:
            failed.append((label, result, fix))
    for line in _LEGEND:
        _print(line)
    for label, result, fix in failed:
        _print_race(label, result, fix)


def _typescript_sim(project: Any) -> ConvexSim | None:
    """A simulator of a bundled TypeScript scenario (node_modules installed from its lock
    file), or None after saying why it is skipped (no Node.js, or it does not bundle)."""
    from .js import BundleError, node_tools_missing
    from .js.bundler import install_node_modules

    missing = node_tools_missing()
    if missing and not (project / "node_modules").is_dir():
        _print(f"  skipped: {missing}")
        return None
    try:
        install_node_modules(project)
        return ConvexSim.from_project(project, seed=0)
    except BundleError as exc:
        _print(f"  skipped: {exc}")
        return None


def demo_typescript() -> None:
    from scenarios.ts_bank import PROJECT, no_overdraft, open_accounts

    _print("== typescript: scenarios/ts_bank/convex, the app's own .ts files, run unchanged")
    sim = _typescript_sim(PROJECT)
    if sim is None:
        return
    open_accounts(sim, ada=100, bob=0)
    transfer = {"src": "ada", "dst": "bob", "amount": 60}
    correct = sim.explore([Op("bank:transfer", transfer)] * 3, invariant=no_overdraft)
    _print(f"  bank:transfer x3 (one mutation each)      {correct}")
    racy = sim.explore([Op("bank:transferViaAction", transfer)] * 2, invariant=no_overdraft)
    _print(f"  bank:transferViaAction x2                 {racy}")
    _print_race("bank:transferViaAction x2 (TypeScript)", racy, "bank:transfer checks the "
                "balance and moves the money in one mutation.")


def check_history_file(path: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                       max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> int:
    """Print the checker's report on a history file; 0 if serializable, 1 if not. An
    unreadable file raises (HistoryError, OSError): ``main`` makes that exit code 2."""
    report = check_history(load_history(path, max_bytes=max_bytes, max_line_bytes=max_line_bytes))
    _print(str(report))
    return OK if report.ok else FAILED


def _order_three(sim: ConvexSim, place: str, limiter: str) -> None:
    """ada orders three times; her token bucket (2 a minute) refuses the third."""
    ada = sim.with_identity(subject="ada")
    for item in ("tea", "cake", "jam"):
        try:
            ada.mutation(place, {"item": item})
        except ConvexError as exc:
            _print(f"  third order refused by components.{limiter}: {exc}")


def _counters(sim: ConvexSim, sharded_ref: str, naive_ref: str, sharded_label: str) -> None:
    """The explorer on three concurrent increments of a sharded and of a naive counter."""
    sharded = sim.explore([Op(sharded_ref, {})] * 3)
    naive = sim.explore([Op(naive_ref, {})] * 3)
    _print(f"  {sharded_label:<41} {sharded}")
    _print(f"  {'naive single-document counter x3':<41} {naive}")


def demo_components() -> None:
    from scenarios.components_demo.app.schema import schema

    _print("== components: a shop on a rate limiter (x2), a sharded counter and an audit log")
    sim = ConvexSim(schema, modules="scenarios.components_demo.app", seed=0)
    _order_three(sim, "shop:place_order", "limiter_a")
    with contextlib.suppress(ConvexError):   # fails on purpose, after its component calls
        sim.mutation("shop:place_order", {"item": "pie", "fail": True})
    _print(f"  after a failed order, app + components rolled back as one: {sim.query('shop:stats')}")
    _counters(sim, "counters:incr_sharded", "counters:incr_naive", "sharded counter component x3")


def demo_typescript_components() -> None:
    from pathlib import Path

    project = Path(__file__).resolve().parent.parent / "scenarios" / "ts_components"
    _print("== typescript components: @convex-dev/sharded-counter, rate-limiter, workpool and "
           "aggregate from npm, run unchanged")
    sim = _typescript_sim(project)
    if sim is None:
        return
    _print(f"  installed: {', '.join(sorted(sim.components.by_path))}")
    _order_three(sim, "shop:placeOrder", "rateLimiter")
    _print(f"  shop:stats {sim.query('shop:stats')}")
    for n in (3, 5, 7):
        sim.mutation("scores:add", {"n": n})
    sim.mutation("jobs:enqueue", {"count": 3})
    ran = sim.finish_all_scheduled_functions(max_iterations=500)
    _print(f"  aggregate of 3, 5, 7: {sim.query('scores:summary')}; workpool ran {sim.query('jobs:done')} "
           f"({ran} scheduled runs)")
    _counters(sim, "shop:incrementSharded", "shop:incrementNaive", "@convex-dev/sharded-counter add x3")


def codegen_project(project: str) -> int:
    """Write the project's ``convex/_generated/`` with its own Convex code generator; 0 when
    written (or already up to date). A project it cannot generate for raises CodegenError:
    ``main`` makes that exit code 2 (docs/typescript.md)."""
    from .js.codegen import run

    result = run(project)
    for verb, paths in (("wrote", result.written), ("removed", result.removed)):
        for path in paths:
            _print(f"{verb} {path.relative_to(result.project).as_posix()}")
    if not result.written and not result.removed:
        _print("up to date")
    for note in result.notes:
        _print(f"note: {note}")
    return 0


#: The exit codes of every ``convex-sim`` command (docs/reference.md).
OK, FAILED, BAD_INPUT, INTERRUPTED = 0, 1, 2, 130
EXIT_CODES = {OK: "ok", FAILED: "a divergence, an anomaly or a failed check",
              BAD_INPUT: "bad input: a file, flag, app or project that cannot be used as given",
              INTERRUPTED: "interrupted (Ctrl-C)"}
#: What bad input raises: convex-sim's own errors (a TraceError, HistoryError,
#: CheckConfigError, CodegenError, ...), a file that cannot be opened, an app that cannot be
#: imported.
BAD_INPUT_ERRORS = (ConvexSimError, OSError, ImportError)


def one_line(exc: BaseException) -> str:
    """An error's message on one line (a multi-line message's lines joined by spaces)."""
    return " ".join(part.strip() for part in str(exc).splitlines() if part.strip()) or type(exc).__name__


def _parser() -> argparse.ArgumentParser:
    from .trace import command as trace_command

    parser = argparse.ArgumentParser(
        prog="convex-sim", description="A deterministic Convex simulator.",
        epilog="Exit codes of every command: 0 ok, 1 a divergence, an anomaly or a failed check, "
               "2 bad input (one line on stderr names the file and what is wrong), 130 interrupted.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the bundled scenarios end to end and print what happened")
    commands.add_parser("version", help="print the version")
    checker = commands.add_parser("check-history", help="check a JSON Lines history file for "
                                                        "dependency cycles (docs/checking.md); exit 0 "
                                                        "serializable, 1 anomalies, 2 bad input")
    checker.add_argument("history", help="the .jsonl history file")
    checker.add_argument("--max-bytes", type=trace_command.positive_int, default=DEFAULT_MAX_BYTES, metavar="N",
                         help="refuse a history file larger than N bytes (default: 1 GiB)")
    checker.add_argument("--max-line-bytes", type=trace_command.positive_int, default=DEFAULT_MAX_LINE_BYTES,
                         metavar="N",
                         help="refuse a line longer than N bytes (default: 64 MiB)")
    check = commands.add_parser("check", help="explore an app's declared scenarios (conformance.toml); "
                                              "exit 0 as expected, 1 a violation, 2 bad input")
    check.add_argument("config", nargs="?", default="conformance.toml", help="the conformance file")
    check.add_argument("--shard", default=None, metavar="I/N", help="run every N-th scenario from the I-th (0-based)")
    check.add_argument("--junit", default=None, metavar="FILE", help="write JUnit XML here")
    check.add_argument("--summary", default=None, metavar="FILE", help="write a Markdown summary here")
    check.add_argument("--seed", type=int, default=0, help="seed of every simulator and exploration")
    add_env_options(check)
    codegen = commands.add_parser("codegen", help="write a TypeScript project's convex/_generated/ "
                                                  "with its own convex package, no deployment; "
                                                  "exit 0 done, 2 a project it cannot generate for")
    codegen.add_argument("project", help="the folder holding convex/ and node_modules/")
    serve = commands.add_parser("serve", help="serve a TypeScript project (or a Python app) on loopback "
                                              "over Convex's HTTP API and sync protocol, for Convex's "
                                              "own clients (docs/serve.md); exit 0 after Ctrl-C, 2 a "
                                              "project, port or host it cannot use")
    serve.add_argument("project", nargs="?", default=None,
                       help="the folder holding convex/ and node_modules/")
    serve.add_argument("--app", metavar="PKG", help="serve this Python app package instead of a project")
    serve.add_argument("--schema", metavar="MODULE:ATTR", help="with --app: its schema "
                                                               "(default: PKG.schema:schema)")
    serve.add_argument("--port", type=int, default=3210, help="the port (default 3210; 0: a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="the address (default 127.0.0.1; a "
                                                           "non-loopback one needs --allow-non-loopback)")
    serve.add_argument("--allow-non-loopback", action="store_true",
                       help="serve on a --host other machines can reach (no access control!)")
    serve.add_argument("--seed", type=int, default=0, help="the simulator's seed")
    serve.add_argument("--record", metavar="FILE", help="write the session's calls to this trace "
                                                        "when the server stops (for convex-sim replay)")
    add_env_options(serve)
    trace_command.add_parser(commands)
    return parser


def _run(options: argparse.Namespace) -> int:
    """Run the parsed command; bad input raises (``main`` turns it into exit code 2)."""
    if options.command == "check-history":
        return check_history_file(options.history, max_bytes=options.max_bytes,
                                  max_line_bytes=options.max_line_bytes)
    if options.command == "check":
        from .check import main as check_main

        return check_main(options.config, shard_spec=options.shard, junit=options.junit,
                          summary=options.summary, seed=options.seed, out=_print,
                          env=env_from_options(options))
    if options.command == "codegen":
        return codegen_project(options.project)
    if options.command == "serve":
        from pathlib import Path

        from .loading import import_roots
        from .serve import serve_project

        with import_roots([Path.cwd()]):
            return serve_project(options.project, app=options.app, schema=options.schema,
                                 host=options.host, port=options.port, seed=options.seed,
                                 record=options.record, allow_non_loopback=options.allow_non_loopback,
                                 env=env_from_options(options), out=_print)
    if options.command == "replay":
        from .trace import command as trace_command

        return trace_command.run(options)
    if options.command == "version":
        from importlib.metadata import version

        _print(f"{_package} {version('convex-sim')}")
        return OK
    demo_chat()
    _print()
    demo_explore()
    _print()
    demo_components()
    _print()
    demo_typescript()
    _print()
    demo_typescript_components()
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``convex-sim`` with ``argv``; return its exit code (``EXIT_CODES``). Bad input is
    one line on stderr naming the file and the problem, never a traceback; a usage error
    exits 2 through argparse."""
    options = _parser().parse_args(argv)
    try:
        return _run(options)
    except BAD_INPUT_ERRORS as exc:
        print(f"convex-sim {options.command}: {one_line(exc)}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print(f"convex-sim {options.command}: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
