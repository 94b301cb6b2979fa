"""README's quickstart, run exactly as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_quickstart_runs_as_written(pytester):
    blocks = re.findall(r"```(\w+)\n(.*?)```", README.read_text(), re.S)
    files = {}
    for lang, body in blocks:
        first = body.splitlines()[0]
        if first.startswith(("# myapp/", "# tests/")):
            files[first[2:].strip()] = body
        elif lang == "toml":
            files["pyproject.toml"] = body
    assert {"myapp/schema.py", "myapp/bank.py", "tests/test_bank.py", "tests/test_chat.py",
            "pyproject.toml"} <= set(files)
    pytester.mkpydir("myapp")
    pytester.mkdir("tests")
    for path, body in files.items():
        (pytester.path / path).write_text(body)
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:hypothesispytest")
    result.assert_outcomes(passed=3)
