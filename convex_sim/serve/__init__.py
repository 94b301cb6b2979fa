"""``convex-sim serve``: a simulator on loopback, over Convex's own HTTP API (docs/serve.md)."""

from __future__ import annotations

from .app import make_app
from .server import Server, serve_project

__all__ = ["Server", "make_app", "serve_project"]
