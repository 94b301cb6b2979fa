"""Projects are bundled as the Convex CLI of their own ``convex`` package would deploy them:
its entry points, ``convex.json``, the browser platform and conditions, "use node" modules apart.

Each rule is checked on a small project made in ``tmp_path`` whose ``node_modules`` links to
the TypeScript bank's installed packages.
"""

import json
import textwrap

import pytest

from convex_sim import ConvexSim
from convex_sim.js.bundler import BundleError, bundle_project
from convex_sim.js.layout import LayoutError, directive_prologue, entry_points

COUNTER = """
    import { query } from "./_generated/server";
    export const get = query({ args: {}, handler: async () => 41 + 1 });
"""


def test_convex_json_moves_the_functions_folder(make_project):
    root = make_project({
        "convex.json": '{"functions": "example/convex/"}',
        "example/convex/counter.ts": COUNTER})
    assert ConvexSim.from_project(root).query("counter:get", {}) == 42


def test_a_missing_functions_folder_names_convex_json(make_project):
    root = make_project({"convex.json": '{"functions": "src/convex"}'})
    with pytest.raises(Exception, match=r"no src/convex/ folder \(convex.json's \"functions\"\)"):
        ConvexSim.from_project(root)


@pytest.mark.parametrize(("text", "message"), [
    ('{"functions": "convex",\n  oops}', r"convex\.json:2:3: not valid JSON"),
    ('{"functions": 3}', r"\.functions: expected a folder path \(a string\), got 3"),
    ('{"node": {"externalPackages": "sharp"}}', r"\.node\.externalPackages: expected a list"),
    ('[]', r"expected a JSON object, got an array"),
])
def test_a_malformed_convex_json_names_the_file_and_field(make_project, text, message):
    root = make_project({"convex.json": text, "convex/counter.ts": COUNTER})
    with pytest.raises(LayoutError, match=message):
        ConvexSim.from_project(root)


def test_a_nested_component_folder_is_not_part_of_the_app(make_project):
    # The nested folder's module imports its own _generated/, which does not exist: bundled as
    # an app module, it would break the load.
    root = make_project({
        "convex/counter.ts": COUNTER,
        "convex/components/counter/convex.config.ts":
            'import { defineComponent } from "convex/server";\n'
            'export default defineComponent("counter");\n',
        "convex/components/counter/lib.ts":
            'import { query } from "./_generated/server";\nexport const x = query(() => 1);\n'})
    assert entry_points(root / "convex").isolate == ("counter",)
    assert ConvexSim.from_project(root).query("counter:get", {}) == 42


def test_use_node_modules_leave_the_engine_bundle(make_project):
    root = make_project({
        "convex/counter.ts": COUNTER,
        "convex/hashing.ts": """
            "use node";
            import { createHash } from "node:crypto";
            import { action } from "./_generated/server";
            export const sha = action({ args: {}, handler: async () =>
                createHash("sha256").update("x").digest("hex") });
        """})
    bundle = bundle_project(root)
    assert bundle.modules == ("counter",)
    assert bundle.node_modules == ("hashing",)
    assert "createHash" in bundle.node_file.read_text()
    assert "createHash" not in bundle.code
    # the rest of the project loads and runs
    assert ConvexSim.from_project(root).query("counter:get", {}) == 42


@pytest.mark.parametrize(("files", "message"), [
    ({"convex/http.ts": '"use node";\nexport const x = 1;\n'},
     r'"use node" directive is not allowed in http\.ts'),
    ({"convex/actions/pay.ts": "export const x = 1;\n"}, r'actions/ folder need the "use node"'),
    ({"convex/_deps/x.ts": "export const x = 1;\n"}, r'"_deps" folder is reserved'),
])
def test_layouts_the_cli_refuses_are_refused_with_its_reason(make_project, files, message):
    root = make_project({"convex/counter.ts": COUNTER, **files})
    with pytest.raises(LayoutError, match=message):
        bundle_project(root)


@pytest.mark.parametrize(("source", "directives"), [
    ('"use node";\nimport x from "y";', ["use node"]),
    ("// license\n/* block */\n'use node'\nexport const a = 1;", ["use node"]),
    ('"use strict";\n"use node";', ["use strict", "use node"]),
    ('"use node" + suffix;', []),
    ('import a from "a";\n"use node";', []),
    ('#!/usr/bin/env node\n"use node";', ["use node"]),
])
def test_the_directive_prologue(source, directives):
    assert directive_prologue(source) == directives


def test_dependencies_resolve_as_in_the_convex_runtime(make_project):
    # A package with Node, browser and "convex" builds: the CLI's platform and conditions pick
    # the "convex" export, then "browser" over "main".
    sdk = {"package.json": json.dumps({"name": "sdk", "main": "node.js", "browser": "browser.js"}),
           "node.js": 'const os = require("os"); module.exports = "node";',
           "browser.js": 'module.exports = "browser";'}
    conditional = {"package.json": json.dumps({"name": "cond", "exports": {
        ".": {"convex": "./convex.js", "node": "./node.js", "default": "./default.js"}}}),
        "convex.js": 'export default "convex";', "node.js": 'export default "node";',
        "default.js": 'export default "default";'}
    root = make_project({"convex/which.ts": """
        import { query } from "./_generated/server";
        import sdk from "sdk";
        import cond from "cond";
        export const builds = query({ args: {}, handler: async () =>
            [sdk, cond, process.env.NODE_ENV] });
    """}, packages={"sdk": sdk, "cond": conditional})
    assert ConvexSim.from_project(root).query("which:builds", {}) == ["browser", "convex", "production"]


def test_editing_an_imported_file_outside_the_functions_folder_rebundles(make_project):
    root = make_project({
        "shared/answer.ts": "export const answer = 1;\n",
        "convex/counter.ts": """
            import { query } from "./_generated/server";
            import { answer } from "../shared/answer";
            export const get = query({ args: {}, handler: async () => answer });
        """})
    assert ConvexSim.from_project(root).query("counter:get", {}) == 1
    (root / "shared/answer.ts").write_text("export const answer = 2; // edited\n")
    assert ConvexSim.from_project(root).query("counter:get", {}) == 2


def test_a_functions_folder_outside_the_project_bundles(tmp_path, ts_bank_project, make_project):
    root = make_project({"convex/counter.ts": COUNTER})
    outside = tmp_path / "elsewhere" / "component"
    outside.mkdir(parents=True)
    (outside / "_generated").symlink_to(ts_bank_project / "convex" / "_generated")
    (outside / "lib.ts").write_text(textwrap.dedent(COUNTER))
    bundle = bundle_project(root, outside)
    assert bundle.modules == ("lib",)


def test_a_missing_generated_folder_says_to_run_codegen(make_project):
    root = make_project({"convex.json": '{"functions": "src"}', "src/counter.ts": COUNTER})
    with pytest.raises(BundleError, match=r"src/counter\.ts.*\n(.|\n)*run `convex-sim codegen "):
        bundle_project(root)


def test_two_copies_of_a_project_do_not_share_a_bundle(tmp_path, ts_bank_project):
    # Same files, other folder: the source map must name this copy's files (a component's
    # convex.config is found through it), so the cached bundle of the first is not reused.
    import shutil

    copies = []
    for name in ("one", "two"):
        root = tmp_path / name
        shutil.copytree(ts_bank_project / "convex", root / "convex", symlinks=True)
        shutil.copy(ts_bank_project / "package.json", root / "package.json")
        (root / "node_modules").symlink_to(ts_bank_project / "node_modules")
        copies.append(bundle_project(root))
    assert copies[0].digest != copies[1].digest
    assert any("/two/convex/bank.ts" in s for s in copies[1].source_map["sources"])
