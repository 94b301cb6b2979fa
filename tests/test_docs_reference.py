"""docs/reference.md: its examples run as written and its table names every `v` builder."""

import re
import types
from pathlib import Path

import pytest

from convex_sim import ArgumentValidationError, ConvexSim, WrongFunctionKindError, v
from convex_sim.functions import Registry

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"


def _example(marker):
    """The python block of the reference that starts with ``marker`` (or contains it)."""
    blocks = re.findall(r"```python\n(.*?)```", REFERENCE.read_text(), re.S)
    return next(b for b in blocks if marker in b)


def _app(code):
    module = types.ModuleType("tasks")
    exec(compile(code, str(REFERENCE), "exec"), module.__dict__)
    registry = Registry()
    for name, value in vars(module).items():
        if hasattr(value, "kind") and hasattr(value, "visibility"):
            registry.register(f"tasks:{name}", value)
    return module, registry


def test_the_reference_example_runs_and_validates():
    module, registry = _app(_example("# reference example") + _example("def list_tasks"))
    sim = ConvexSim(module.schema, registry, seed=0)
    task = sim.mutation("tasks:add", {"title": "write docs", "priority": "high"})
    sim.mutation("tasks:add", {"title": "ship", "priority": "low"})
    assert sim.query("tasks:open_titles", {}) == ["write docs", "ship"]
    sim.mutation("tasks:finish", {"task": task})
    assert sim.query("tasks:open_titles", {}) == ["ship"]
    with pytest.raises(WrongFunctionKindError):
        sim.client().mutation("tasks:finish", {"task": task})
    with pytest.raises(ArgumentValidationError, match=r"Path: \.priority  Value: 'urgent'"):
        sim.mutation("tasks:add", {"title": "x", "priority": "urgent"})
    page = sim.query("tasks:list_tasks", {"pagination_opts": {"num_items": 1, "cursor": None}})
    assert [t["title"] for t in page["page"]] == ["ship"] and page["is_done"] is False


def test_the_validator_table_lists_every_builder():
    text = REFERENCE.read_text()
    builders = [name for name in dir(v) if not name.startswith("_")]
    missing = [name for name in builders if f"`v.{name}(" not in text]
    assert missing == []
