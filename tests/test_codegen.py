"""``convex-sim codegen``: ``_generated/`` from the project's own ``convex`` package, no deployment."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from convex_sim import ConvexSim
from convex_sim.cli import main
from convex_sim.js.bundler import module_paths
from convex_sim.js.codegen import CodegenError, generate, missing_generated_hint
from tests.conftest import TS_BANK, prepared_project

TS_COMPONENTS = TS_BANK.parent / "ts_components"
APP_FILES = ["api.d.ts", "api.js", "dataModel.d.ts", "server.d.ts", "server.js"]


def fresh_copy(source: Path, tmp_path: Path) -> Path:
    """``source`` copied without any ``_generated/`` (as in a fresh clone), sharing its
    installed ``node_modules``."""
    prepared_project(source)
    copy = tmp_path / source.name
    shutil.copytree(source, copy, symlinks=True,
                    ignore=shutil.ignore_patterns("node_modules", "_generated", "__pycache__"))
    (copy / "node_modules").symlink_to(source / "node_modules", target_is_directory=True)
    return copy


def exports(source: str) -> set[str]:
    return set(re.findall(r"^export (?:declare )?const (\w+)", source, re.M))


@pytest.fixture
def bank(tmp_path):
    return fresh_copy(TS_BANK, tmp_path)


def test_generates_what_the_convex_cli_of_the_project_writes(bank):
    written = generate(bank)
    generated = bank / "convex" / "_generated"
    assert sorted(p.name for p in written) == APP_FILES
    assert sorted(p.name for p in generated.iterdir()) == APP_FILES
    # The committed files are hand-written stand-ins (and miss newer modules), so they are not
    # compared byte for byte; what the CLI's templates make of this project is checked instead.
    api_dts = (generated / "api.d.ts").read_text()
    assert "THIS CODE IS AUTOMATICALLY GENERATED" in api_dts
    imported = re.findall(r'import type \* as \w+ from "\.\./(.+)\.js";', api_dts)
    assert imported == module_paths(bank / "convex")
    assert api_dts.rstrip().endswith("export declare const components: {};")
    assert exports((generated / "api.js").read_text()) == {"api", "internal", "components"}
    committed = (TS_BANK / "convex" / "_generated" / "server.js").read_text()
    assert exports(committed) <= exports((generated / "server.js").read_text())
    assert 'import schema from "../schema.js";' in (generated / "dataModel.d.ts").read_text()


def test_the_generated_project_loads_and_runs(bank):
    generate(bank)
    sim = ConvexSim.from_project(bank, seed=0)
    sim.mutation("bank:open", {"owner": "ada", "amount": 5})
    assert sim.query("bank:balance", {"owner": "ada"}) == 5


def test_a_second_run_writes_nothing(bank, capsys):
    assert main(["codegen", str(bank)]) == 0
    assert "wrote convex/_generated/api.d.ts" in capsys.readouterr().out
    before = {p: p.stat().st_mtime_ns for p in (bank / "convex" / "_generated").iterdir()}
    assert generate(bank) == []
    assert main(["codegen", str(bank)]) == 0
    assert capsys.readouterr().out.strip() == "up to date"
    assert {p: p.stat().st_mtime_ns for p in (bank / "convex" / "_generated").iterdir()} == before


def test_a_changed_module_list_rewrites_only_the_api(bank):
    generate(bank)
    (bank / "convex" / "extra.ts").write_text('export const x = 1;\n')
    written = generate(bank)
    assert sorted(p.name for p in written) == ["api.d.ts"]
    assert '"../extra.js"' in (bank / "convex" / "_generated" / "api.d.ts").read_text()


def test_convex_json_functions_folder_is_honoured(bank):
    (bank / "convex").rename(bank / "backend")
    (bank / "convex.json").write_text('{"functions": "backend/"}\n')
    generate(bank)
    assert sorted(p.name for p in (bank / "backend" / "_generated").iterdir()) == APP_FILES


def test_components_project(tmp_path):
    project = fresh_copy(TS_COMPONENTS, tmp_path)
    written = {p.relative_to(project).as_posix() for p in generate(project)}
    assert written == {*(f"convex/_generated/{name}" for name in APP_FILES),
                       "tally/_generated/api.ts", "tally/_generated/dataModel.ts",
                       "tally/_generated/server.ts"}
    api_dts = (project / "convex" / "_generated" / "api.d.ts").read_text()
    for name, source in [("shardedCounter", "@convex-dev/sharded-counter"),
                         ("pool", "@convex-dev/workpool"), ("tallyA", "../../tally")]:
        assert (f'{name}: import("{source}/_generated/component.js").ComponentApi<"{name}">'
                in api_dts)
    assert generate(project) == []
    sim = ConvexSim.from_project(project, seed=0)
    assert sim.query("shop:stats")["orders"] == 0


def test_no_project_is_exit_2(tmp_path, capsys):
    assert main(["codegen", str(tmp_path / "missing")]) == 2
    assert "No project at" in capsys.readouterr().err
    assert main(["codegen", str(tmp_path)]) == 2
    assert "No Convex functions folder" in capsys.readouterr().err


def test_no_node_modules_says_to_run_npm_install(tmp_path, capsys):
    (tmp_path / "convex").mkdir()
    assert main(["codegen", str(tmp_path)]) == 2
    assert "run `npm install`" in capsys.readouterr().err
    with pytest.raises(CodegenError, match="npm install"):
        generate(tmp_path)


def test_no_node_says_to_install_it(bank, monkeypatch):
    monkeypatch.setattr("convex_sim.js.codegen.shutil.which", lambda _name: None)
    with pytest.raises(CodegenError, match=r"install Node\.js"):
        generate(bank)


def test_usage_error_is_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["codegen"])
    assert exited.value.code == 2


@pytest.mark.parametrize("stderr", [
    'convex/bank.ts:1:23: ERROR: Could not resolve "./_generated/server"',
    'convex/dir/x.ts:2:8: ERROR: Could not resolve "../_generated/api"',
])
def test_hint_for_a_missing_generated_folder(stderr):
    hint = missing_generated_hint(Path("apps/web"), stderr)
    assert hint is not None and "convex-sim codegen apps/web" in hint


def test_no_hint_for_other_errors():
    assert missing_generated_hint(Path("app"), 'ERROR: Could not resolve "lodash"') is None
    assert missing_generated_hint(Path("app"), 'convex/a.ts:2:17: ERROR: Unexpected ";"') is None
