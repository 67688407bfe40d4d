"""The price table and what 00 shows from it: each price with its page and the date recorded, the
stacks' cost per hour and day, a region without prices said so, the pipeline's cost per million
events."""

from __future__ import annotations

import pytest

from bwp_workshop.settings import Settings
from bwp_workshop.steps import cost


def test_every_price_has_its_page_and_the_table_its_date() -> None:
    assert cost.PRICES_RECORDED_ON
    for region, table in cost.PRICES.items():
        for key, price in table.items():
            assert price.usd > 0 and price.unit and price.page.startswith("https://aws.amazon.com/"), (region, key)


def test_the_stacks_cost_by_the_hour_is_the_nat_gateway_load_balancer_and_fargate() -> None:
    rows = {row["item"]: row for row in cost.stack_costs(Settings(region="us-east-1"))}
    total = rows.pop("total while deployed")
    hourly = [row["usd_per_hour"] for row in rows.values()]
    assert total["usd_per_hour"] == pytest.approx(sum(hourly), abs=1e-3)
    assert total["usd_per_day"] == pytest.approx(24 * total["usd_per_hour"], abs=0.01)
    assert rows["NAT gateway (InfraStack)"]["usd_per_hour"] == 0.045
    assert rows["Application Load Balancer (InfraStack)"]["usd_per_hour"] == 0.0225
    fargate = next(row for item, row in rows.items() if item.startswith("Fargate"))
    assert fargate["usd_per_hour"] == pytest.approx(2 * (0.04048 + 2 * 0.004445), abs=1e-4)


def test_a_region_without_prices_says_so() -> None:
    (row,) = cost.stack_costs(Settings(region="ap-southeast-4"))
    assert "no prices for ap-southeast-4" in row["item"] and row["usd_per_hour"] is None


def test_cost_per_million_events_from_measured_figures() -> None:
    ours = cost.cost_per_million(cost.PipelineFigures(handler_ms_per_event=40.0))
    # 1e6 events x 40 ms x 0.5 GB = 20,000 GB-s; batches of 10: 100,000 invocations.
    assert ours["lambda_duration"] == pytest.approx(20_000 * 0.0000166667, abs=0.01)
    assert ours["lambda_requests"] == 0.02 and ours["bwp_api_calls"] == 237_000
    upstream = cost.cost_per_million(
        cost.PipelineFigures(handler_ms_per_event=40.0, batch_size=1, api_calls_per_event=1.0)
    )
    assert upstream["lambda_requests"] == 0.2 and upstream["bwp_api_calls"] == 1_000_000
