"""``convex-sim serve`` and a React page on the official ``ConvexReactClient``, in a real
headless Chromium (Debian's ``chromium`` package): the page subscribes to a query, runs a
mutation with an optimistic update, and shows the optimistic value, then the server's.

The browser is driven over the Chrome DevTools Protocol with the ``websockets`` package that
``convex-sim serve`` already depends on (no browser-automation dependency, no browser
download). The page (tests/fixtures/react_counter) is bundled with the fixture's own esbuild
and served from a static server on another loopback port; it reaches the deployment over the
sync WebSocket only, as ``ConvexReactClient`` does."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from convex_sim import ConvexSim
from convex_sim.serve import Server
from tests.conftest import prepared_project

REACT_COUNTER = Path(__file__).resolve().parent / "fixtures" / "react_counter"
CHROMIUM_MISSING = ("chromium not found: install Debian's `chromium` package (`apt-get install "
                    "chromium`; `make test` installs it where it runs as root) to run the browser test.")
#: Seconds any one step (browser start, page load, a value to appear) may take.
STEP_TIMEOUT_S = 30.0


def chromium_path() -> str | None:
    """The system Chromium on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def js_number(value: float) -> str:
    """``value`` as JavaScript's ``String(value)`` writes it (``10``, not ``10.0``)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@pytest.fixture(scope="module")
def chromium() -> str:
    """The system Chromium (skipped, naming the package to install, where it is absent)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(CHROMIUM_MISSING)
    return executable


@pytest.fixture(scope="module")
def page_dir(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The counter page: index.html and main.js, bundled by the fixture's own esbuild (once
    Chromium is known to be there to load it)."""
    project = prepared_project(REACT_COUNTER)
    out = tmp_path_factory.mktemp("react_counter_page")
    shutil.copy(project / "index.html", out / "index.html")
    done = subprocess.run(
        [str(project / "node_modules" / ".bin" / "esbuild"), "src/main.jsx", "--bundle",
         "--format=iife", "--jsx=automatic", "--define:process.env.NODE_ENV=\"production\"",
         "--log-level=warning", f"--outfile={out / 'main.js'}"],
        cwd=project, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files, without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StaticSite:
    """``root`` served over HTTP on a free loopback port, on a background thread."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"static site {self.url}")

    def __enter__(self) -> StaticSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


class Browser:
    """A headless Chromium with one page, driven over the DevTools Protocol. The browser's
    process group is killed on exit, whatever happened."""

    def __init__(self, executable: str, profile: Path) -> None:
        self._profile = profile
        self._log = (profile.parent / "chromium.log").open("wb")
        sandbox = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        self._proc = subprocess.Popen(
            [executable, "--headless", *sandbox, "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "--window-size=800,600", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, start_new_session=True)
        self._ws: Any = None
        self._connection = contextlib.ExitStack()
        self._next_id = 0
        self.console: list[str] = []

    def __enter__(self) -> Browser:
        try:
            self._connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _connect(self) -> None:
        """Attach to the browser's page once it has written its DevTools port."""
        from websockets.sync.client import connect

        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"chromium did not open its DevTools port: {self.log()}")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        pages: list[dict[str, Any]] = []
        while not pages:   # the first tab may open just after the DevTools port
            if time.monotonic() > deadline:
                raise TimeoutError(f"chromium opened no page: {self.log()}")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=STEP_TIMEOUT_S) as got:
                pages = [t for t in json.load(got) if t["type"] == "page"]
            time.sleep(0 if pages else 0.05)
        self._ws = self._connection.enter_context(
            connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=STEP_TIMEOUT_S))
        self.send("Runtime.enable")

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One DevTools command's result (events that arrive meanwhile are noted)."""
        self._next_id += 1
        self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.0, deadline - time.monotonic())))
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._note(message)

    def _note(self, event: dict[str, Any]) -> None:
        """Keep the page's console output and uncaught exceptions, for failure messages."""
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.console.append(f"console.{params['type']}: {text}")
        elif event.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.console.append(f"uncaught: {details.get('exception', {}).get('description', details['text'])}")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page."""
        got = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in got:
            raise RuntimeError(f"{expression}: {got['exceptionDetails']}")
        return got["result"].get("value")

    def wait_for(self, expression: str, what: str) -> Any:
        """The first truthy value of ``expression``, polled; fails after STEP_TIMEOUT_S."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        page = self.evaluate("document.body ? document.body.innerText : ''")
        raise AssertionError(f"timed out waiting for {what}; the page shows {page!r}; "
                             f"console: {self.console}")

    def click(self, selector: str) -> None:
        """A left click at the middle of ``selector``'s element, as real input events."""
        box = self.evaluate(f"JSON.stringify(document.querySelector({json.dumps(selector)})"
                            ".getBoundingClientRect())")
        rect = json.loads(box)
        where = {"x": rect["x"] + rect["width"] / 2, "y": rect["y"] + rect["height"] / 2,
                 "button": "left", "clickCount": 1}
        self.send("Input.dispatchMouseEvent", {"type": "mousePressed", **where})
        self.send("Input.dispatchMouseEvent", {"type": "mouseReleased", **where})

    def log(self) -> str:
        """The end of chromium's own output."""
        self._log.flush()
        return (self._profile.parent / "chromium.log").read_text(errors="replace")[-2000:]

    def close(self) -> None:
        """Close the connection and kill the browser's process group (SIGTERM, then SIGKILL
        for whatever is left of it, its helper processes included)."""
        try:
            self._connection.close()
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=10)
            self._log.close()


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[Browser]:
    """A headless Chromium with a fresh profile, killed after the test."""
    with Browser(chromium, tmp_path / "profile") as driven:
        yield driven


def test_react_page_shows_the_optimistic_value_then_the_servers(page_dir: Path, browser: Browser):
    """The page shows the counter from the server; a click shows the optimistic guess at once
    (its update adds without knowing the server's limit), then the value the server committed,
    which the simulator holds."""
    sim = ConvexSim.from_project(REACT_COUNTER, seed=0)
    start = sim.mutation("counter:increment", {"name": "clicks", "by": 8})
    by = 5
    with Server(sim) as server, StaticSite(page_dir) as site:
        browser.send("Page.navigate", {"url": f"{site.url}/index.html?convex={server.url}"
                                              f"&counter=clicks&by={by}"})
        first = browser.wait_for("(t => t !== 'loading' && t)(document.querySelector('#value')"
                                 "?.textContent)", "the query's first value")
        assert float(first) == start
        browser.click("#increment")
        status = browser.wait_for("(t => t !== 'saving' && t !== 'idle' && t)"
                                  "(document.querySelector('#status').textContent)",
                                  "the mutation's result")
        shown = browser.evaluate("[...document.querySelectorAll('#seen li')].map(li => li.textContent)")
        final = browser.evaluate("document.querySelector('#value').textContent")

    committed = sim.query("counter:get", {"name": "clicks"})
    assert committed < start + by, "the server's limit should make its value differ from the guess"
    assert [text if text == "loading" else float(text) for text in shown] == [
        "loading", start, start + by, committed], f"console: {browser.console}"
    assert (status, float(final)) == (f"saved {js_number(committed)}", committed)
    page_calls = [c for c in sim.calls if c.path == "counter:increment"][1:]
    assert [(c.kind, c.args, c.result) for c in page_calls] == [
        ("mutation", {"name": "clicks", "by": float(by)}, committed)]
    assert [line for line in browser.console if line.startswith(("uncaught", "console.error"))] == []
