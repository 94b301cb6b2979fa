"""``convex-sim replay``: replay a trace against a Python app or a TypeScript project.

Exit codes: 0 the replay matched the trace (and, with ``--explore``, every window of
overlapping calls explored clean), 1 a divergence or a failing interleaving, 2 bad input (a trace or
snapshot that cannot be read, an app that cannot be loaded, unknown function paths).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..envvars import add_env_options, env_from_options
from ..errors import ConvexSimError
from .overlaps import explore_overlaps
from .replay import replay, sim_for_trace

OK, DIVERGED, BAD_INPUT = 0, 1, 2


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
    add_env_options(parser)


def _load(spec: str) -> Any:
    """``"pkg.module:attr"`` → the object."""
    import importlib

    module, _, attr = spec.partition(":")
    if not attr:
        raise ImportError(f"expected 'module:attribute', got {spec!r}")
    return getattr(importlib.import_module(module), attr)


def run(options: argparse.Namespace) -> int:
    """Run ``convex-sim replay``; return its exit code."""
    try:
        schema = _load(options.schema) if options.schema else None
        sim = sim_for_trace(options.trace, app=options.app, project=options.project, schema=schema,
                            snapshot=options.snapshot, env=env_from_options(options))
        if options.explore:
            invariant = _load(options.invariant) if options.invariant else None
            report = explore_overlaps(sim, options.trace, invariant=invariant,
                                      keep_going=options.keep_going, max_schedules=options.budget)
        else:
            report = replay(sim, options.trace, keep_going=options.keep_going)
    except (ConvexSimError, OSError, ImportError, AttributeError) as exc:
        print(f"convex-sim replay: {exc}", file=sys.stderr)
        return BAD_INPUT
    print(report)
    return OK if report.ok else DIVERGED
