"""Running the app: on a background thread for tests (``Server``), in the foreground for
``convex-sim serve`` (``serve_project``)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from ..errors import ConvexSimError
from ..sim import ConvexSim
from .app import HTTP_ACTIONS_PREFIX, make_app

#: The port of Convex's local backend, the default of ``convex-sim serve``.
DEFAULT_PORT = 3210


class ServeError(ConvexSimError):
    """A server that cannot start (a bad port, an address in use)."""


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), bound before the server
    starts so a busy port is refused at once, in a plain sentence."""
    if not 0 <= port <= 65535:
        raise ServeError(f"--port must be between 0 and 65535, got {port}.")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    sock.listen(128)
    return sock


def _uvicorn(sim: ConvexSim) -> uvicorn.Server:
    """A uvicorn server of ``sim``'s app (quiet: requests are not logged)."""
    return uvicorn.Server(uvicorn.Config(make_app(sim), log_level="warning", lifespan="off"))


class Server:
    """``sim`` served on ``host`` at a free port, on a background thread, until ``stop()``
    (or the end of a ``with`` block). ``url`` is the deployment URL for Convex's clients;
    ``site_url`` is where the project's HTTP actions answer."""

    def __init__(self, sim: ConvexSim, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self._socket = _bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.site_url = self.url + HTTP_ACTIONS_PREFIX
        self._server = _uvicorn(sim)
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float = 10.0) -> Server:
        """Start serving; return once the server accepts requests."""
        self._server.install_signal_handlers = lambda: None   # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"convex-sim serve {self.url}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServeError(f"the server at {self.url} did not start.")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_project(project: str | os.PathLike[str], *, host: str = "127.0.0.1",
                  port: int = DEFAULT_PORT, seed: int = 0,
                  out: Callable[[str], None] = print) -> int:
    """Serve a TypeScript project in the foreground until Ctrl-C; return exit code 0.
    A project that cannot be loaded or a port that cannot be used raises (exit code 2)."""
    sock = _bind(host, port)
    try:
        sim = ConvexSim.from_project(project, seed=seed)
        server = _uvicorn(sim)
        url = f"http://{host}:{sock.getsockname()[1]}"
        out(f"serving {project} (seed {seed}) at {url}; HTTP actions at {url}{HTTP_ACTIONS_PREFIX}/")
        out("Ctrl-C stops it.")
        with contextlib.suppress(KeyboardInterrupt):   # uvicorn returns after Ctrl-C itself
            server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
