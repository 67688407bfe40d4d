"""The analytics SQL on DuckDB over Parquet objects written as the event handler writes them:
each metric equals the same metric computed from the data table's records, whatever the
duplicates, days, merchants and sub-second times; the one dialect difference with Athena is
tested; the queries read only their own partitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bwp_workshop import names
from bwp_workshop.core.analytics_record import analytics_row, write_partitions
from bwp_workshop.steps import analytics_queries as queries
from bwp_workshop.steps.analytics import records_frame
from bwp_workshop.steps.analytics_lake import duckdb_connection
from bwp_workshop.steps.analytics_reference import compare, reference_answers

START = datetime(2026, 12, 6, 23, 59, 0, 400000, tzinfo=UTC)


def _item(n: int, event_type: str, when: datetime, installation: str, order: str, **facts: Any) -> dict[str, Any]:
    return {
        "event_id": f"e-{n}",
        "event_type": event_type,
        "event_time": when.isoformat().replace("+00:00", "Z"),
        "received_at": (when + timedelta(seconds=2)).isoformat(timespec="milliseconds"),
        "installation_id": installation,
        "order_id": order,
        "enriched": True,
        "shape": "2024-11-01",
        **facts,
    }


def orders_story() -> list[dict[str, Any]]:
    """Two merchants over two days: orders in two currencies, deliveries (one 0.8 s after a
    confirmation at .4 s: 0 whole seconds), a return, refunds changing state, an order confirmed
    twice, and catalog events."""
    items, n = [], 0

    def add(event_type: str, at: timedelta, installation: str, order: str, **facts: Any) -> None:
        nonlocal n
        n += 1
        items.append(_item(n, event_type, START + at, installation, order, **facts))

    for i, installation in enumerate(("inst-a", "inst-b")):
        for k in range(4):
            order = f"o-{installation}-{k}"
            at = timedelta(minutes=30 * k + i)
            amount = Decimal("19.99") * (k + 1)
            currency = "USD" if k % 3 else "EUR"
            add("ORDER_CONFIRMED", at, installation, order, order_total_amount=amount, order_currency=currency)
            if k == 1:  # confirmed again later: counted once, as the first confirmation saw it
                add("ORDER_CONFIRMED", at + timedelta(hours=1), installation, order,
                    order_total_amount=amount + 1, order_currency=currency)  # fmt: skip
            if k != 3:
                lag = timedelta(milliseconds=800) if k == 0 else timedelta(hours=20 + k, seconds=0.5)
                add("PACKAGE_DELIVERED", at + lag, installation, order)
            if k == 2:
                add("RETURN_STARTED", at + timedelta(days=1), installation, order)
                refund = f"r-{installation}"
                add("REFUND_REQUESTED", at + timedelta(days=1, hours=1), installation, order,
                    refund_id=refund, refund_state="PENDING", refund_amount=amount)  # fmt: skip
                add("REFUND_COMPLETED", at + timedelta(days=1, hours=2), installation, order,
                    refund_id=refund, refund_state="SUCCESS", refund_amount=amount)  # fmt: skip
        add("BUYABILITY_CHANGED", timedelta(minutes=5), installation, "")
    items.append({**items[0], "received_at": (START + timedelta(minutes=9)).isoformat()})  # redelivered
    return [{k: v for k, v in item.items() if v != ""} for item in items]


def write(items: list[dict[str, Any]], folder: Path, batch: int = 3) -> None:
    """As the pipeline writes: a batch at a time, one object per partition per batch."""
    for start in range(0, len(items), batch):
        write_partitions([analytics_row(i) for i in items[start : start + batch]], folder, batch_id=f"b{start}")


def answers(folder: Path, **days: Any) -> dict[str, Any]:
    connection = duckdb_connection(folder)
    return {m.name: connection.execute(queries.render(m, "duckdb", **days)).df() for m in queries.METRICS}


def test_every_metric_equals_the_records(tmp_path: Path) -> None:
    items = orders_story()
    write(items, tmp_path)
    assert len(list(tmp_path.glob("event_date=*/event_type=*/*.parquet"))) > 10
    got = answers(tmp_path)
    expected = reference_answers(records_frame(items))
    checked = compare(got, expected)
    assert checked["equal"].all(), checked
    assert (checked["rows (data table)"] > 0).all()
    orders = got["orders"].set_index(["installation_id", "day"])["orders"].to_dict()
    # inst-b's first order is a minute after inst-a's, past midnight: all four on the 7th.
    assert orders == {("inst-a", "2026-12-06"): 1, ("inst-a", "2026-12-07"): 3, ("inst-b", "2026-12-07"): 4}
    refunds = got["refunds_by_state"]
    assert set(refunds["refund_state"]) == {"SUCCESS"}  # each refund as its newest event saw it
    lags = got["delivery_time"].set_index(["installation_id", "day"])
    assert lags.loc[("inst-a", "2026-12-06"), "min_seconds"] == 0  # 0.8 s: no whole second


def test_the_days_asked_bound_the_answer(tmp_path: Path) -> None:
    items = orders_story()
    write(items, tmp_path)
    got = answers(tmp_path, first="2026-12-07", last="2026-12-07")
    assert set(got["orders"]["day"]) == {"2026-12-07"}
    with pytest.raises(ValueError):
        queries.render("orders", "duckdb", first="2026-12-07' OR TRUE --")


def test_no_objects_yet_answers_nothing(tmp_path: Path) -> None:
    got = answers(tmp_path)
    assert all(frame.empty for frame in got.values())


def test_the_sql_differs_between_the_engines_only_where_the_dialects_force_it() -> None:
    for metric in queries.METRICS:
        athena, local = queries.render(metric, "athena"), queries.render(metric, "duckdb")
        assert athena.replace("date_diff(", "date_sub(") == local
        assert queries.TABLE in athena and f"'{metric.event_types[0]}'" in athena
    # Why: Trino's date_diff counts whole seconds elapsed, DuckDB's counts boundaries crossed.
    elapsed = "('second', TIMESTAMP '2026-12-07 10:00:00.900', TIMESTAMP '2026-12-07 10:00:01.100')"
    assert duckdb.sql(f"SELECT date_diff{elapsed}").fetchall() == [(1,)]
    assert duckdb.sql(f"SELECT date_sub{elapsed}").fetchall() == [(0,)]  # what Athena's date_diff answers


def test_each_metric_reads_only_its_event_types(tmp_path: Path) -> None:
    items = orders_story()
    write(items, tmp_path)
    connection = duckdb_connection(tmp_path)
    for metric in queries.METRICS:
        plan = "\n".join(row[1] for row in connection.execute("EXPLAIN " + queries.render(metric, "duckdb")).fetchall())
        assert "BUYABILITY_CHANGED" not in plan
    every = queries.render("orders", "duckdb", event_types=names.SUBSCRIBABLE_EVENT_TYPES)
    assert "'BUYABILITY_CHANGED'" in every


def test_the_answers_plot_a_panel_per_question_with_room_for_the_legend(tmp_path: Path) -> None:
    from bwp_workshop.steps.analytics import show
    from bwp_workshop.steps.analytics_lake import Answers, plot_answers

    write(orders_story(), tmp_path)
    figure = plot_answers(Answers(answers(tmp_path), {}))
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["Orders per day", "Revenue per day", "Mean hours from order to delivery, by day of order"]
    revenue = figure.axes[1]
    assert [t.get_text() for t in revenue.get_legend().get_texts()] == [
        "inst-a (EUR)", "inst-a (USD)", "inst-b (EUR)", "inst-b (USD)"
    ]  # fmt: skip
    highest = max(patch.get_height() for patch in revenue.patches)
    assert revenue.get_ylim()[1] >= highest / 0.6  # the top 40 % left to the legend
    assert show(figure).data.startswith(b"\x89PNG")
    empty = plot_answers(Answers(answers(tmp_path / "none"), {}))
    assert [t.get_text() for t in empty.axes[0].texts] == ["no data yet"]
