"""The same seed gives the same run in every process, whatever PYTHONHASHSEED says."""

import os
import subprocess
import sys
from pathlib import Path

PROGRAM = """
import random
from convex_sim import ConvexSim, Op, mutation, query, v
from convex_sim.functions import Registry

@query(args={"k": v.string()})
def roll(ctx, args):
    return random.random()

@mutation(args={"k": v.string()})
def write(ctx, args):
    return ctx.db.insert("t", {"k": args["k"], "r": random.random()})

registry = Registry()
registry.register("a:roll", roll)
registry.register("a:write", write)
sim = ConvexSim(None, registry, seed=4)
sub = sim.subscribe("a:roll", {"k": "sub"})
ids = [sim.mutation("a:write", {"k": str(i)}) for i in range(3)]
result = sim.explore([Op("a:write", {"k": "x"}), Op("a:write", {"k": "y"})], strategy="random",
                     max_schedules=5, seed=1)
print(ids, sim.query("a:roll", {"k": "q"}), sub.history, result)
"""


def run(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    root = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-c", PROGRAM], env=env, cwd=root, capture_output=True,
                          text=True, check=True).stdout


def test_runs_are_identical_across_processes_and_hash_seeds():
    first, second = run("1"), run("2")
    assert first == second
    assert "random: 5 schedules" in first
