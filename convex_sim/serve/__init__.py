"""``convex-sim serve``: a simulator on loopback, over Convex's own HTTP API and WebSocket sync
protocol (docs/serve.md)."""

from __future__ import annotations

from .app import make_app
from .frontend import Frontend
from .process import ServerProcess
from .server import ServeError, Server, load_sim, serve_project

__all__ = ["Frontend", "ServeError", "Server", "ServerProcess", "load_sim", "make_app", "serve_project"]
