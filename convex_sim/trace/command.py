"""``convex-sim replay``: replay a trace against a Python app or a TypeScript project.

Exit codes: 0 the replay matched the trace (and, with ``--explore``, every window of
overlapping calls explored clean), 1 a divergence or a failing interleaving, 2 bad input (a trace or
snapshot that cannot be read, an app that cannot be loaded, unknown function paths).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..envvars import add_env_options, env_from_options
from ..jsonlines import DEFAULT_MAX_LINE_BYTES
from ..loading import import_roots, load_object
from .overlaps import explore_overlaps
from .replay import replay, sim_for_trace

OK, DIVERGED = 0, 1


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (a size cap)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``replay`` on the ``convex-sim`` command's subcommands."""
    parser = commands.add_parser(
        "replay", help="replay a recorded trace against an app and report the first divergence",
        description="Replay a JSON Lines trace (docs/trace-format.md) against an app: exit 0 if "
                    "every call matched, 1 on a divergence, 2 on bad input.")
    parser.add_argument("trace", help="the trace file (.jsonl)")
    app = parser.add_mutually_exclusive_group(required=True)
    app.add_argument("--app", metavar="PKG", help="Python package holding the app's functions")
    app.add_argument("--project", metavar="DIR", help="Convex TypeScript project (convex/ + node_modules/)")
    parser.add_argument("--schema", metavar="MODULE:ATTR", help="the app's schema (default: PKG.schema:schema)")
    parser.add_argument("--snapshot", metavar="ZIP", help="load this `npx convex export` ZIP first")
    parser.add_argument("--keep-going", action="store_true", help="report every divergence, not just the first")
    parser.add_argument("--explore", action="store_true",
                        help="explore every interleaving of the calls whose recorded times overlapped")
    parser.add_argument("--invariant", metavar="MODULE:FN", help="with --explore: checked after every commit")
    parser.add_argument("--budget", type=int, default=None, metavar="N",
                        help="with --explore: at most N schedules per window of overlapping calls")
    parser.add_argument("--max-line-bytes", type=positive_int, default=DEFAULT_MAX_LINE_BYTES, metavar="N",
                        help="refuse a trace line longer than N bytes (default: 64 MiB)")
    add_env_options(parser)


def run(options: argparse.Namespace) -> int:
    """Run ``convex-sim replay``; return its exit code. Bad input raises (a TraceError, an
    app that cannot be loaded, ...): the ``convex-sim`` command makes that exit code 2.
    ``--app``, ``--schema`` and ``--invariant`` are imported from the current directory, then
    ``--project``'s folder; never from the trace's folder (a trace is data, often downloaded)."""
    roots = [Path.cwd(), *([options.project] if options.project else [])]
    with import_roots(roots):
        return _replay(options)


def _replay(options: argparse.Namespace) -> int:
    schema = load_object(options.schema, "schema") if options.schema else None
    invariant = load_object(options.invariant, "invariant") if options.invariant else None
    sim = sim_for_trace(options.trace, app=options.app, project=options.project, schema=schema,
                        snapshot=options.snapshot, env=env_from_options(options),
                        max_line_bytes=options.max_line_bytes)
    if options.explore:
        report = explore_overlaps(sim, options.trace, invariant=invariant, keep_going=options.keep_going,
                                  max_schedules=options.budget, max_line_bytes=options.max_line_bytes)
        notes = report.replay.notes
    else:
        report = replay(sim, options.trace, keep_going=options.keep_going,
                        max_line_bytes=options.max_line_bytes)
        notes = report.notes
    for note in notes:
        print(f"convex-sim replay: note: {note}", file=sys.stderr)
    print(report)
    return OK if report.ok else DIVERGED
