"""``convex-sim serve`` in a child process, for tests whose client cannot share a process with
the server: the Python ``convex.ConvexClient`` (a Rust client) holds the GIL while it waits for
an answer, so a server on a thread of the same interpreter never gets to answer it."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from typing import IO, Any

from .app import HTTP_ACTIONS_PREFIX
from .server import ServeError

#: The line ``convex-sim serve`` prints once it listens.
_SERVING = re.compile(r" at (http://\S+); HTTP actions at ")


class ServerProcess:
    """``convex-sim serve`` of a TypeScript ``project`` or a Python ``app`` package on a free
    loopback port, in a child process, until :meth:`stop` (or the end of a ``with`` block).

    ``url`` is the deployment URL; ``record`` a trace file the child writes the session to
    when it stops. The child runs in ``cwd`` (default: the current folder), where ``app``
    and ``schema`` are imported from. :meth:`stop` interrupts it as Ctrl-C does and returns
    its exit code (0 for a clean stop)."""

    def __init__(self, project: str | os.PathLike[str] | None = None, *, app: str | None = None,
                 schema: str | None = None, seed: int = 0, record: str | os.PathLike[str] | None = None,
                 cwd: str | os.PathLike[str] | None = None, timeout_s: float = 60.0) -> None:
        if (project is None) == (app is None):
            raise ServeError("ServerProcess needs a TypeScript project folder or app=PKG, exactly one.")
        self.command = [sys.executable, "-m", "convex_sim", "serve", "--port", "0", "--seed", str(seed)]
        self.command += [os.fspath(project)] if project is not None else ["--app", str(app)]
        self.command += ["--schema", schema] if schema else []
        self.command += ["--record", os.fspath(record)] if record is not None else []
        self.cwd, self.timeout_s = cwd, timeout_s
        self.url = self.site_url = ""
        #: What the child printed (its "serving ..." line aside), and its exit code, once stopped.
        self.stdout = ""
        self.returncode = 0
        self.process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._stderr_text = ""

    def start(self) -> ServerProcess:
        """Start the child; return once it listens (ServeError, with its stderr, if it fails)."""
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(self.command, cwd=self.cwd, stdout=subprocess.PIPE,
                                        stderr=self._stderr, stdin=subprocess.DEVNULL, text=True)
        line = self._first_line()
        found = _SERVING.search(line)
        if found is None:
            self.stop()
            raise ServeError(f"{' '.join(self.command)} did not start: expected 'serving ... at "
                             f"URL; ...' on stdout, got {line.strip()!r}; stderr: {self.stderr().strip()}")
        self.url = found.group(1)
        self.site_url = self.url + HTTP_ACTIONS_PREFIX
        return self

    def _first_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(self.timeout_s):
                return f"nothing within {self.timeout_s} s"
        return self.process.stdout.readline()

    def stderr(self) -> str:
        """What the child wrote to stderr so far."""
        if self._stderr is None:
            return self._stderr_text
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self, how: signal.Signals = signal.SIGINT) -> int:
        """Stop the child with the signal ``how`` (SIGINT, as Ctrl-C; or SIGTERM) and wait for
        it; its exit code."""
        process, self.process = self.process, None
        if process is None:   # not started, or stopped already
            return self.returncode
        if process.poll() is None:
            process.send_signal(how)
            deadline = time.monotonic() + self.timeout_s
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if process.poll() is None:
                process.kill()
        code = self.returncode = process.wait()
        if process.stdout is not None:
            self.stdout = process.stdout.read()
            process.stdout.close()
        if self._stderr is not None:
            self._stderr_text = self.stderr()
            self._stderr.close()
            self._stderr = None
        return code

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

