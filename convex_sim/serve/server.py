"""Running the app: on a background thread for tests (``Server``), in the foreground for
``convex-sim serve`` (``serve_project``)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from ..errors import ConvexSimError
from ..sim import ConvexSim
from .app import HTTP_ACTIONS_PREFIX, make_app
from .sync import HEARTBEAT_S

#: The port of Convex's local backend, the default of ``convex-sim serve``.
DEFAULT_PORT = 3210


class ServeError(ConvexSimError):
    """A server that cannot start (a bad port, an address in use, a non-loopback host)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) means this machine only: every address it
    resolves to is a loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback
                               for info in found)


def check_host(host: str, allow_non_loopback: bool) -> None:
    """Refuse a non-loopback ``host`` unless ``allow_non_loopback``: the server answers anyone
    who reaches it, as any user, and runs the app's actions."""
    if not allow_non_loopback and not is_loopback(host):
        raise ServeError(f"--host {host} is not a loopback address (127.0.0.1, ::1, localhost): "
                         "the server answers anyone who can reach it, with no access control; "
                         "pass --allow-non-loopback to serve there anyway.")


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), bound before the server
    starts so a busy port is refused at once, in a plain sentence."""
    if not 0 <= port <= 65535:
        raise ServeError(f"--port must be between 0 and 65535, got {port}.")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    sock.listen(128)
    return sock


def _url(host: str, port: int) -> str:
    host = host.strip("[]")
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _uvicorn(app: Any) -> uvicorn.Server:
    """A uvicorn server of the ASGI ``app`` (quiet: requests are not logged)."""
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))


class Server:
    """``sim`` served on ``host`` at a free port, on a background thread, until ``stop()``
    (or the end of a ``with`` block). ``url`` is the deployment URL for Convex's clients;
    ``site_url`` is where the project's HTTP actions answer.

    ``record``: a trace file the session's calls are written to (as ``sim.record``), complete
    once the server stops. ``heartbeat_s``: seconds without a message before a sync client
    gets a ``Ping`` (None: never). A ``host`` that is not loopback is refused unless
    ``allow_non_loopback``.

    The Python ``convex.ConvexClient`` holds the GIL while it waits for an answer, so it
    cannot talk to a server on a thread of its own process: serve it from another process
    (:class:`~convex_sim.serve.ServerProcess`, or ``convex-sim serve``)."""

    def __init__(self, sim: ConvexSim, *, host: str = "127.0.0.1", port: int = 0,
                 record: str | os.PathLike[str] | None = None,
                 heartbeat_s: float | None = HEARTBEAT_S, allow_non_loopback: bool = False) -> None:
        check_host(host, allow_non_loopback)
        self.sim = sim
        self.record = record
        self._socket = _bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        self.url = _url(host, self.port)
        self.site_url = self.url + HTTP_ACTIONS_PREFIX
        self._app = make_app(sim, heartbeat_s=heartbeat_s)
        self._server = _uvicorn(self._app)
        self._thread: threading.Thread | None = None
        self._recorder: Any = None

    def start(self, timeout_s: float = 10.0) -> Server:
        """Start serving (and recording); return once the server accepts requests."""
        if self.record is not None:
            self._recorder = self.sim.record(self.record).__enter__()
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
        """Stop serving, close the socket, and finish the recording."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
        self._app.state.sync_hub.close()
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.__exit__(None, None, None)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def load_sim(project: str | os.PathLike[str] | None = None, *, app: str | None = None,
             schema: str | None = None, seed: int = 0,
             env: dict[str, str] | None = None) -> ConvexSim:
    """The simulator ``convex-sim serve`` serves: a TypeScript ``project`` folder, or the
    Python app package ``app`` with ``schema`` (``module:attr``; default ``<app>.schema:schema``
    when that module exists). Exactly one of ``project`` and ``app``."""
    from ..loading import load_object

    if (project is None) == (app is None):
        raise ServeError("convex-sim serve needs a TypeScript project folder or --app PKG "
                         "(a Python app package), exactly one of them.")
    if project is not None:
        if schema is not None:
            raise ServeError("--schema goes with --app: a TypeScript project's schema is its "
                             "convex/schema.ts.")
        return ConvexSim.from_project(project, seed=seed, env=env)
    if schema is None:
        import importlib.util

        with contextlib.suppress(ImportError, ValueError):
            if importlib.util.find_spec(f"{app}.schema") is not None:
                schema = f"{app}.schema:schema"
    try:
        sim = ConvexSim(load_object(schema, "schema") if schema else None, modules=app, seed=seed)
    except (ConvexSimError, ImportError):
        raise
    except Exception as exc:   # the app's own modules may raise anything while imported
        raise ServeError(f"cannot load the app {app!r}: {type(exc).__name__}: {exc}") from None
    if env:
        sim.runtime.env = {**sim.runtime.env, **env}
    return sim


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM stops the server as Ctrl-C does, so the recording is finished either way
    (uvicorn raises the signal again once it has stopped: by default SIGTERM would kill the
    process there, before the trace is written). Only on the main thread, where signals go."""
    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:   # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_project(project: str | os.PathLike[str] | None = None, *, app: str | None = None,
                  schema: str | None = None, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                  seed: int = 0, record: str | os.PathLike[str] | None = None,
                  allow_non_loopback: bool = False, env: dict[str, str] | None = None,
                  out: Callable[[str], None] = print) -> int:
    """Serve a TypeScript project (or the Python app package ``app``) in the foreground until
    Ctrl-C or SIGTERM; return exit code 0. With ``record``, the session's calls are written to that
    trace file when the server stops (for ``convex-sim replay``). A project that cannot be
    loaded, a port that cannot be used or a non-loopback host raises (exit code 2)."""
    check_host(host, allow_non_loopback)
    sock = _bind(host, port)
    try:
        sim = load_sim(project, app=app, schema=schema, seed=seed, env=env)
        app = make_app(sim, heartbeat_s=HEARTBEAT_S)
        server = _uvicorn(app)
        url = _url(host, sock.getsockname()[1])
        out(f"serving {project if project is not None else app} (seed {seed}) at {url}; "
            f"HTTP actions at {url}{HTTP_ACTIONS_PREFIX}/")
        recorder = sim.record(record) if record is not None else contextlib.nullcontext()
        with recorder, _sigterm_as_ctrl_c():
            out("Ctrl-C stops it." + (f" The session is recorded to {record} when it stops."
                                      if record is not None else ""))
            with contextlib.suppress(KeyboardInterrupt):   # uvicorn returns after Ctrl-C itself
                server.run(sockets=[sock])
            app.state.sync_hub.close()
        if record is not None:
            count = recorder.writer.events
            out(f"recorded {count} event{'' if count == 1 else 's'} to {Path(record)}")
    finally:
        sock.close()
    return 0
