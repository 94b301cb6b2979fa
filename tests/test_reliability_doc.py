"""docs/reliability.md names the test behind each guarantee: every name it gives is a test."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_reliability_page_names_exists():
    page = (ROOT / "docs" / "reliability.md").read_text("utf-8")
    named = set(re.findall(r"\b(test_[a-z0-9_]+)\b", page)) - {"test_"}
    files = set(re.findall(r"tests/(test_[a-z0-9_]+)\.py", page))
    defined = {name for path in (ROOT / "tests").glob("test_*.py")
               for name in re.findall(r"^def (test_[a-z0-9_]+)", path.read_text("utf-8"), re.M)}
    modules = {path.stem for path in (ROOT / "tests").glob("test_*.py")}
    assert len(named) >= 30
    assert files <= modules, files - modules
    missing = {name for name in named - files if not any(
        name == test or (name.endswith("_") and test.startswith(name)) for test in defined)}
    assert not missing, f"docs/reliability.md names tests that do not exist: {sorted(missing)}"
