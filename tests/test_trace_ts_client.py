"""The TypeScript recorder of docs/trace-format.md, run as written: Node.js drives
``ConvexHttpClient`` against a simulator served over Convex's HTTP API, and the trace
it writes replays against the same project with no divergence."""

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from convex_sim import ConvexError, ConvexSim
from convex_sim.trace import TraceReader, sim_for_trace
from convex_sim.values import from_json, to_json

DOC = Path(__file__).resolve().parent.parent / "docs" / "trace-format.md"
DRIVER = """
import { anyApi } from "convex/server";
import { recordingClient } from "./recorder";

const [url, path] = process.argv.slice(2);
const client = recordingClient(url, path, "node-1");
await client.mutation(anyApi.bank.open, { owner: "ada", amount: 100 });
await client.mutation(anyApi.bank.open, { owner: "bob", amount: 0 });
await client.mutation(anyApi.bank.transfer, { src: "ada", dst: "bob", amount: 30 });
try {
  await client.mutation(anyApi.bank.transfer, { src: "bob", dst: "ada", amount: 99 });
} catch (e) {}
console.log(JSON.stringify(await client.query(anyApi.bank.balance, { owner: "bob" })));
client.close();
"""


def serve(sim):
    """Convex's HTTP function API (``/api/query``, ``/api/mutation``, ``/api/action``) over ``sim``."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            kind = self.path.rsplit("/", 1)[-1]
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                try:
                    value = getattr(sim, kind)(request["path"], from_json(request["args"][0]))
                    status, body = 200, {"status": "success", "value": to_json(value), "logLines": []}
                except ConvexError as exc:
                    status, body = 560, {"status": "error", "errorMessage": str(exc),
                                         "errorData": to_json(exc.data), "logLines": []}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_documented_typescript_recorder_writes_a_replayable_trace(ts_bank_project, tmp_path):
    snippet = next(body for body in re.findall(r"```ts\n(.*?)```", DOC.read_text(), re.S)
                   if "export function recordingClient" in body)
    (tmp_path / "recorder.ts").write_text(snippet)
    (tmp_path / "driver.ts").write_text(DRIVER)
    (tmp_path / "node_modules").symlink_to(ts_bank_project / "node_modules")
    esbuild = ts_bank_project / "node_modules" / ".bin" / "esbuild"
    subprocess.run([str(esbuild), "driver.ts", "--bundle", "--platform=node", "--format=esm",
                    "--log-level=warning", "--outfile=driver.mjs"], cwd=tmp_path, check=True)
    server = serve(ConvexSim.from_project(ts_bank_project, seed=0))
    trace = tmp_path / "node.jsonl"
    try:
        run = subprocess.run(["node", "driver.mjs", f"http://127.0.0.1:{server.server_port}", str(trace)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "30"
    header = TraceReader(trace).header
    assert header["source"] == "convex-ts" and header["version"] == 1
    calls = [event for _, event in TraceReader(trace).events()]
    assert [c["path"] for c in calls] == ["bank:open", "bank:open", "bank:transfer", "bank:transfer",
                                          "bank:balance"]
    assert calls[3]["error"] == {"type": "ConvexError",
                                 "data": {"code": "INSUFFICIENT_FUNDS", "balance": 30}}
    assert calls[4]["result"] == 30 and calls[4]["client"] == "node-1"
    report = sim_for_trace(trace, project=ts_bank_project).replay(trace)
    assert report.ok, str(report)


@pytest.fixture
def ts_bank_project(ts_bank_project):
    import shutil

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    return ts_bank_project
