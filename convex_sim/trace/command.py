"""``convex-sim replay``: replay a trace against a Python app or a TypeScript project.

Exit codes: 0 the replay matched the trace, 1 it diverged, 2 bad input (a trace or
snapshot that cannot be read, an app that cannot be loaded, unknown function paths).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ConvexSimError
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


def run(options: argparse.Namespace) -> int:
    """Run ``convex-sim replay``; return its exit code."""
    try:
        schema = None
        if options.schema:
            import importlib

            module, _, attr = options.schema.partition(":")
            schema = getattr(importlib.import_module(module), attr or "schema")
        sim = sim_for_trace(options.trace, app=options.app, project=options.project, schema=schema,
                            snapshot=options.snapshot)
        report = replay(sim, options.trace, keep_going=options.keep_going)
    except (ConvexSimError, OSError, ImportError, AttributeError) as exc:
        print(f"convex-sim replay: {exc}", file=sys.stderr)
        return BAD_INPUT
    print(report)
    return OK if report.ok else DIVERGED
