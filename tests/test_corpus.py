"""Real public Convex projects (corpus/manifest.toml) load and run without convex-sim errors.

Each project runs through tools/corpus.py in its own process: it must load, and no call may
fail because of convex-sim (an unsupported syscall, an engine error, a Python exception that
is not a ConvexSimError, ...) or hang. App errors (what real Convex would also raise for the
generated inputs) are fine. A project that is not fetched is skipped; so is one whose
node_modules is missing where npm cannot install it. By default only the projects marked
``quick`` run; CONVEX_SIM_CORPUS_ALL=1 runs every one (``make corpus`` prints the table).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def _driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_driver", REPO / "tools" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


corpus = _driver()
ENTRIES = corpus.load_manifest()
RUN_ALL = os.environ.get("CONVEX_SIM_CORPUS_ALL") == "1"


def test_manifest_is_well_formed():
    assert len(ENTRIES) >= 14
    assert any(e.repo == "get-convex/convex-test" for e in ENTRIES)
    for entry in ENTRIES:
        assert entry.install, f"{entry.name}: no install commands"
        assert entry.reason, f"{entry.name}: no reason"


@pytest.mark.corpus
@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_project_runs_without_convex_sim_errors(entry, tmp_path):
    if not (entry.quick or RUN_ALL):
        pytest.skip("not in the quick subset: set CONVEX_SIM_CORPUS_ALL=1 or run make corpus")
    reason = corpus.install_reason(entry)
    if reason is not None:
        pytest.skip(reason)
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, str(REPO / "tools" / "corpus.py"), entry.name,
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    if result["status"] == "skipped":
        pytest.skip(result["reason"])
    assert result["status"] == "ran", f"{entry.name}: {result['status']}: {result['reason']}"
    problems = [c for c in result["calls"] if c.get("kind") in (corpus.SIM, corpus.HANG)]
    report = "\n\n".join(f"{c['call']} [{c['kind']}] {c.get('type', '')}: {c.get('message', '')}"
                         for c in problems)
    assert result["loads"], f"{entry.name} does not load:\n{report}"
    assert not problems, f"{entry.name}: {len(problems)} convex-sim errors or hangs:\n{report}"
