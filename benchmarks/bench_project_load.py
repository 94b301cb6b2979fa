"""Loading a 50-module TypeScript project: from the bundle cache in a fresh process, and a
fresh simulator of a project already loaded.

The project is generated in a temporary folder (50 modules, each a query, a mutation and an
action over one shared schema) with node_modules linked to the TypeScript bank scenario's
installed packages. The first load bundles it; then each round starts a new Python process
that loads it from the disk cache (what a test run after the first pays) and makes fresh
simulators of the loaded project (what each test pays). Prints the best and median round.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODULES = 50
ROUNDS = 7

_ROUND = """
import json, sys, time, timeit
t0 = time.perf_counter()
from convex_sim import ConvexSim
from convex_sim.js import load_project
t1 = time.perf_counter()
project = load_project(sys.argv[1], env=ConvexSim.default_env())
t2 = time.perf_counter()
n = 2000
fresh = min(timeit.repeat(lambda: ConvexSim.from_project(project), number=n, repeat=5)) / n
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "fresh_us": fresh * 1e6,
                  "functions": len(project.registry.functions)}))
"""


def make_project(folder: Path) -> Path:
    """A project of ``MODULES`` modules whose node_modules links the bank scenario's."""
    from convex_sim.js.bundler import install_node_modules

    bank = ROOT / "scenarios" / "ts_bank"
    install_node_modules(bank)
    root = folder / "app"
    convex = root / "convex"
    convex.mkdir(parents=True)
    (root / "node_modules").symlink_to(bank / "node_modules")
    (root / "package.json").write_text(json.dumps({"name": "load-bench", "type": "module"}))
    (convex / "_generated").symlink_to(bank / "convex" / "_generated")
    (convex / "schema.ts").write_text(textwrap.dedent("""
        import { defineSchema, defineTable } from "convex/server";
        import { v } from "convex/values";
        export default defineSchema({
          items: defineTable({ owner: v.string(), n: v.number() }).index("by_owner", ["owner"]),
        });
    """))
    for i in range(MODULES):
        (convex / f"module{i:02d}.ts").write_text(textwrap.dedent(f"""
            import {{ v }} from "convex/values";
            import {{ action, mutation, query }} from "./_generated/server";
            import {{ api }} from "./_generated/api";
            export const list = query({{ args: {{ owner: v.string() }}, handler: async (ctx, a) =>
              ctx.db.query("items").withIndex("by_owner", (q) => q.eq("owner", a.owner)).collect() }});
            export const add = mutation({{ args: {{ owner: v.string(), n: v.number() }},
              handler: async (ctx, a) => ctx.db.insert("items", {{ owner: a.owner, n: a.n + {i} }}) }});
            export const addTwice = action({{ args: {{ owner: v.string() }}, handler: async (ctx, a) => {{
              await ctx.runMutation((api as any).module{i:02d}.add, {{ owner: a.owner, n: 1 }});
              await ctx.runMutation((api as any).module{i:02d}.add, {{ owner: a.owner, n: 2 }});
            }} }});
        """))
    return root


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp))
        first = subprocess.run([sys.executable, "-c", _ROUND, str(root)], capture_output=True,
                               text=True, check=True, cwd=ROOT)
        cold = json.loads(first.stdout)
        rounds = [json.loads(subprocess.run([sys.executable, "-c", _ROUND, str(root)],
                                            capture_output=True, text=True, check=True,
                                            cwd=ROOT).stdout) for _ in range(ROUNDS)]
    print(f"{MODULES}-module project, {cold['functions']} functions; {ROUNDS} fresh processes")
    print(f"first load (bundling):          {cold['load_s'] * 1000:8.1f} ms")
    for key, label, scale, unit in (("load_s", "load from the bundle cache:", 1000, "ms"),
                                    ("fresh_us", "fresh simulator of it:", 1, "µs"),
                                    ("import_s", "import convex_sim:", 1000, "ms")):
        values = [r[key] * scale for r in rounds]
        print(f"{label:31s} {min(values):8.1f} {unit} best, {statistics.median(values):8.1f} {unit} median")


if __name__ == "__main__":
    main()
