"""The TypeScript inventory scenario: holds expire through their scheduled job, the cron
sweeps, the catalogue pages, and the racy twin of ``reserve`` oversells."""

from __future__ import annotations

import pytest

from convex_sim import ConvexError, Op
from scenarios.ts_inventory import HOLD_MS, PROJECT, no_oversell
from tests.conftest import prepared_project


@pytest.fixture
def shop(mug_shop):
    return mug_shop(2)


def test_a_hold_takes_stock_and_its_job_returns_it_after_fifteen_minutes(shop):
    shop.mutation("inventory:reserve", {"sku": "mug", "quantity": 2})
    assert shop.query("inventory:stock", {"sku": "mug"}) == 0
    with pytest.raises(ConvexError, match="only 0 of mug left"):
        shop.mutation("inventory:reserve", {"sku": "mug", "quantity": 1})
    shop.advance_time(HOLD_MS - 1)
    assert shop.query("inventory:stock", {"sku": "mug"}) == 0
    shop.advance_time(1)
    assert shop.query("inventory:stock", {"sku": "mug"}) == 2


def test_a_confirmed_hold_keeps_its_stock(shop):
    held = shop.mutation("inventory:reserve", {"sku": "mug", "quantity": 1})
    shop.mutation("inventory:confirm", {"reservationId": held})
    shop.advance_time(HOLD_MS)
    assert shop.query("inventory:stock", {"sku": "mug"}) == 1
    with pytest.raises(ConvexError, match="no longer held"):
        shop.mutation("inventory:confirm", {"reservationId": held})


def test_the_catalogue_pages(shop):
    for i in range(5):
        shop.mutation("inventory:addProduct", {"sku": f"p{i}", "name": f"P{i}", "stock": i})
    first = shop.query("inventory:catalogue", {"paginationOpts": {"numItems": 4, "cursor": None}})
    second = shop.query("inventory:catalogue",
                        {"paginationOpts": {"numItems": 4, "cursor": first["continueCursor"]}})
    assert [p["sku"] for p in first["page"] + second["page"]] == ["mug", "p0", "p1", "p2", "p3", "p4"]
    assert second["isDone"]


def test_the_racy_twin_sells_the_last_unit_twice(shop):
    shop.mutation("inventory:reserve", {"sku": "mug", "quantity": 1})
    result = shop.explore([Op("inventory:reserveViaAction", {"sku": "mug", "quantity": 1})] * 2,
                          invariant=no_oversell, check_serializable=False)
    assert result.failures and result.failures[0].kind == "invariant"
    assert "mug oversold" in str(result.failures[0])


def test_its_conformance_file_holds_and_the_race_is_expected(tmp_path, capsys):
    """The hold window explores clean with serializability on; the racy twin fails as declared."""
    from convex_sim.cli import main

    config = prepared_project(PROJECT) / "conformance.toml"
    summary = tmp_path / "summary.md"
    assert main(["check", str(config), "--summary", str(summary)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok   ") == 3 and "exhaustive: 16 schedules" in out
    undeclared = tmp_path / "race.toml"
    undeclared.write_text(config.read_text().replace('expect = "fail"\n', "").replace(
        'expect_failure = "invariant"\n', "").replace(
        'project = "."', f'project = "{PROJECT}"'))
    assert main(["check", str(undeclared)]) == 1
