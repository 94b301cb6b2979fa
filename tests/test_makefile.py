"""The Makefile finds a Python >= 3.11 by itself."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")


def _which_python(bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([MAKE, "-s", "-C", str(ROOT), "which-python"], capture_output=True, text=True,
                          env={**os.environ, "PATH": str(bin_dir)}, check=False)


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_the_makefile_skips_an_unusable_interpreter_and_takes_the_next(tmp_path):
    too_old = tmp_path / "python3.12"
    too_old.write_text("#!/bin/sh\nexit 1\n")   # fails the >= 3.11 check, as Python 3.10 would
    too_old.chmod(0o755)
    (tmp_path / "python3").symlink_to(sys.executable)
    result = _which_python(tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "python3")


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_the_makefile_says_what_to_do_without_a_suitable_interpreter(tmp_path):
    result = _which_python(tmp_path)
    assert result.returncode != 0
    assert "No Python >= 3.11 found (tried python3.11, python3.12, python3.13, python3)" in result.stdout
    assert "make PYTHON=/path/to/python3.11" in result.stdout
