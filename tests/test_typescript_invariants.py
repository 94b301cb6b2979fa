"""Invariants written in TypeScript: ``invariant="checks:noOversell"`` names a query of the
project, which fails by throwing or returning false; in ``explore``, ``run_schedule``,
``replay_schedule``, ``convex-sim check`` and the Hypothesis state machine."""

from __future__ import annotations

import pytest

from convex_sim import ConvexSim, Op
from convex_sim.explore import ExplorationError
from convex_sim.hypothesis.stateful import ConvexStateMachine
from scenarios.ts_inventory import PROJECT
from tests.conftest import prepared_project

RESERVE = Op("inventory:reserve", {"sku": "mug", "quantity": 1})
RACY = Op("inventory:reserveViaAction", {"sku": "mug", "quantity": 1})


@pytest.fixture
def shop(mug_shop):
    return mug_shop(1)


def test_a_typescript_invariant_holds_for_the_atomic_reservation(shop):
    assert shop.explore([RESERVE] * 2, invariant="checks:noOversell").ok


def test_a_typescript_invariant_that_throws_fails_the_schedule_with_its_message(shop):
    result = shop.explore([RACY] * 2, invariant="checks:noOversell")
    failure = result.failures[0]
    assert failure.kind == "invariant"
    assert "checks:noOversell threw Uncaught Error: mug oversold: 0 in stock + 2 reserved" in str(failure)
    # the same schedule, replayed and run by its choices, fails the same way
    assert not shop.replay_schedule(failure.schedule).ok
    run = shop.run_schedule([RACY] * 2, [1, 0, 0, 0, 0, 1, 1, 1], invariant="checks:noOversell")
    assert isinstance(run.ok, bool)


def test_a_typescript_invariant_that_returns_false_fails(make_project):
    project = make_project({"convex/counter.ts": """
        import { mutation, query } from "./_generated/server";
        import { v } from "convex/values";
        export const add = mutation({ args: { n: v.number() }, handler: async (ctx, { n }) => {
          await ctx.db.insert("counters", { value: n });
        } });
        export const nonNegative = query({ args: {}, handler: async (ctx) =>
          (await ctx.db.query("counters").collect()).every((c) => c.value >= 0) });
    """, "convex/schema.ts": """
        import { defineSchema, defineTable } from "convex/server";
        import { v } from "convex/values";
        export default defineSchema({ counters: defineTable({ value: v.number() }) });
    """})
    sim = ConvexSim.from_project(project)
    ok = sim.explore([Op("counter:add", {"n": 1.0})] * 2, invariant="counter:nonNegative")
    assert ok.ok
    bad = sim.explore([Op("counter:add", {"n": 1.0}), Op("counter:add", {"n": -1.0})],
                      invariant="counter:nonNegative")
    assert bad.failures[0].kind == "invariant"
    assert "invariant failed: counter:nonNegative returned false" in str(bad.failures[0])


def test_an_invariant_must_name_a_query(shop):
    with pytest.raises(ExplorationError, match="inventory:reserve is a mutation; an invariant is a query"):
        shop.explore([RESERVE], invariant="inventory:reserve")
    with pytest.raises(Exception, match="checks:nothing"):
        shop.explore([RESERVE], invariant="checks:nothing")


def test_the_conformance_file_names_its_invariant_in_typescript(tmp_path, capsys):
    from convex_sim.cli import main

    config = prepared_project(PROJECT) / "conformance.toml"
    assert 'invariant = "checks:noOversell"' in config.read_text()
    assert main(["check", str(config)]) == 0
    assert "mug oversold" not in capsys.readouterr().out
    broken = tmp_path / "c.toml"
    broken.write_text(config.read_text().replace('"checks:noOversell"', '"checks:noSuchCheck"').replace(
        'project = "."', f'project = "{PROJECT}"'))
    assert main(["check", str(broken)]) == 2
    assert "invariant 'checks:noSuchCheck' is not a function of the app" in capsys.readouterr().err


def test_a_state_machine_checks_a_typescript_invariant(shop):
    """``invariant_query`` is checked after every commit of a concurrent batch, beside
    ``check_invariant`` when a machine has both."""
    failing = shop.explore([RACY] * 2, invariant="checks:noOversell").failures[0].schedule
    seen = []

    class Shop(ConvexStateMachine):
        concurrent = ("inventory:reserveViaAction",)
        invariant_query = "checks:noOversell"

        def make_sim(self):
            return shop

        def check_invariant(self, ctx):
            seen.append(len(ctx.db.query("reservations").collect()))

    machine = Shop()
    run = machine.sim.replay_schedule(failing, [RACY] * 2, invariant=machine._explorer_invariant())
    assert not run.ok and "mug oversold" in str(run)
    assert seen, "check_invariant ran too"
