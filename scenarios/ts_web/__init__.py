"""A TypeScript app whose HTTP routes are a Hono app (``convex-helpers``' ``HttpRouterWithHono``)
and whose functions use the web APIs of Convex's runtime: run unchanged by
``ConvexSim.from_project``."""

from pathlib import Path

#: The project folder (``convex/``, ``package.json``, ``package-lock.json``).
PROJECT = Path(__file__).resolve().parent
