import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import matplotlib.dates as mdates
import pandas as pd
import pytest

from bwp_workshop.core.data_record import plain
from bwp_workshop.sandbox.merchants import new_order, seed_merchants
from bwp_workshop.sandbox.order_lifecycles import LIFECYCLES, MIXED, spread_times, walk
from bwp_workshop.steps import analytics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _items() -> list[dict]:
    base = "2026-11-28T10:00:{:02d}Z"
    return [
        {
            "event_id": "e1",
            "event_type": "ORDER_CONFIRMED",
            "event_time": base.format(0),
            "installation_id": "i-a",
            "order_id": "o1",
            "order_total_amount": Decimal("20.50"),
            "order_currency": "USD",
            "order_line_count": 2,
            "received_at": "2026-11-28T10:00:01.000Z",
        },
        {
            "event_id": "e2",
            "event_type": "PACKAGE_DELIVERED",
            "event_time": base.format(30),
            "installation_id": "i-a",
            "order_id": "o1",
            "order_total_amount": Decimal("20.50"),
            "received_at": "2026-11-28T10:00:31.000Z",
        },
        {
            "event_id": "e3",
            "event_type": "ORDER_CONFIRMED",
            "event_time": base.format(40),
            "installation_id": "i-b",
            "order_id": "o2",
            "order_total_amount": Decimal("5"),
            "order_currency": "USD",
            "order_line_count": 1,
            "received_at": "2026-11-28T10:00:42.000Z",
        },
        {
            "event_id": "e4",
            "event_type": "ORDER_CONFIRMED",
            "event_time": base.format(45),
            "installation_id": "i-b",
            "order_id": "o2",
            "order_total_amount": Decimal("5"),
            "received_at": "2026-11-28T10:00:46.000Z",
        },
    ]


def test_records_frame_types_and_orders_count_each_order_once() -> None:
    frame = analytics.records_frame([{k: plain(v) for k, v in item.items()} for item in _items()])
    assert list(frame.columns) == list(analytics.COLUMNS)
    assert str(frame["event_time"].dtype).startswith("datetime64")
    orders = analytics.orders(frame)
    assert sorted(orders["order_id"]) == ["o1", "o2"]
    value = analytics.order_value_over_time(frame, period="1min")
    assert value.sum().to_dict() == {"i-a": 20.5, "i-b": 5.0}
    counts = analytics.events_over_time(frame, period="1min")
    assert counts.sum().to_dict() == {"i-a": 2, "i-b": 2}
    by_type = analytics.events_by_type(frame)
    assert by_type.loc["ORDER_CONFIRMED"].to_dict() == {"i-a": 1, "i-b": 2}
    lag = analytics.delivery_lag_seconds(frame)
    assert lag["max"] == 2.0


def spread_items(orders: int = 20, hours: float = 72, seed: int = 7) -> list[dict]:
    """Records as a 06 run leaves them: ``orders`` orders placed over the past ``hours`` hours as
    the sandbox places them (``spread_hours``: each lifecycle's steps between the order and now),
    plus events without order facts (no amount, no currency) that cluster at the end."""
    rng = random.Random(seed)
    merchant = seed_merchants(1)[0]
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC).timestamp()
    items = []
    for number in range(orders):
        order = new_order(merchant, rng)
        placed = now - rng.uniform(0.1, 1.0) * hours * 3600
        name = rng.choice(sorted(MIXED))
        times = spread_times(len(LIFECYCLES[name]), placed, now, rng)
        for occurrence in walk(order, name, rng, times, merchant["businessProductId"]):
            assert occurrence.at is not None
            items.append(
                {
                    "event_id": f"e{len(items)}",
                    "event_type": occurrence.type,
                    "event_time": datetime.fromtimestamp(occurrence.at, UTC).isoformat(),
                    "installation_id": "inst-a" if number % 3 else "inst-b",
                    "order_id": order["id"],
                    "order_total_amount": order["totalPrice"]["value"]["amount"],
                    "order_currency": order["totalPrice"]["value"]["currencyCode"],
                    "received_at": datetime.fromtimestamp(now, UTC).isoformat(),
                }
            )
    for number in range(6):  # unenriched: no order facts
        items.append(
            {
                "event_id": f"u{number}",
                "event_type": "BUYABILITY_STATUS_CHANGED",
                "event_time": datetime.fromtimestamp(now - number, UTC).isoformat(),
                "installation_id": "inst-a",
            }
        )
    return items


def _png(figure) -> bytes:
    data = analytics.show(figure)._repr_png_()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000
    return data


def _labels(figure) -> list[str]:
    return [text for axes in figure.axes for text in (axes.get_ylabel(), axes.get_xlabel())]


def test_bins_fit_a_72_hour_spread() -> None:
    frame = analytics.records_frame(spread_items())
    period = analytics.choose_period(frame["event_time"])
    assert period in {"3h", "4h", "6h"}, period
    counts = analytics.events_over_time(frame).sum(axis=1)
    assert analytics.MIN_BINS <= len(counts) <= analytics.MAX_BINS + 1
    assert (counts > 0).mean() >= 0.6, counts  # not mostly empty
    assert counts.max() <= 0.5 * counts.sum(), counts  # not one spike
    assert len(frame) == counts.sum()  # every event in a bin


@pytest.mark.parametrize(
    ("span", "count", "expected"),
    [(timedelta(seconds=45), 4, "10s"), (timedelta(minutes=20), 60, "2min"), (timedelta(days=9), 200, "12h")],
)
def test_the_period_follows_span_and_count(span: timedelta, count: int, expected: str) -> None:
    start = pd.Timestamp("2026-11-28", tz="UTC")
    times = pd.Series([start + span * i / (count - 1) for i in range(count)])
    assert analytics.choose_period(times) == expected
    assert analytics.choose_period(times[:1]) == "10s"


def test_the_plots_are_pngs_with_units_and_currency(tmp_path: Path) -> None:
    frame = analytics.records_frame(spread_items())
    assert frame["order_total_amount"].isna().sum() == 6
    events = analytics.plot_events_over_time(frame)
    _png(events)
    period = analytics.period_label(analytics.choose_period(frame["event_time"]))
    assert f"events per {period}" in _labels(events)
    assert any(label.startswith("event time (UTC), bins of") for label in _labels(events))
    bars = [patch.get_height() for patch in events.axes[0].patches]
    assert sum(bars) == len(frame)

    value = analytics.plot_order_value_over_time(frame)
    _png(value)
    labels = _labels(value)
    assert any(label.startswith("order value per") and label.endswith("(USD)") for label in labels), labels
    assert "running total (USD)" in labels
    total = value.axes[1].lines[0].get_ydata()[-1]
    assert total == pytest.approx(analytics.orders(frame)["order_total_amount"].sum())
    first = mdates.num2date(value.axes[0].patches[0].get_x())
    assert first <= frame["event_time"].min().to_pydatetime()

    shown = analytics.show(value)
    assert shown.save(tmp_path / "value.png").read_bytes() == shown.data


def test_several_currencies_get_a_panel_each() -> None:
    items = spread_items(orders=8)
    for item in items[::2]:
        if "order_currency" in item:
            item["order_currency"] = "EUR"
    items[1].pop("order_currency", None)
    frame = analytics.records_frame(items)
    figure = analytics.plot_order_value_over_time(frame)
    _png(figure)
    currencies = {label.rsplit("(", 1)[1].rstrip(")") for label in _labels(figure) if label.startswith("running")}
    expected = set(analytics.orders(frame)["order_currency"].fillna(analytics.UNKNOWN_CURRENCY))
    assert currencies == expected and "EUR" in currencies


def test_plots_render_even_without_data() -> None:
    empty = analytics.records_frame([])
    _png(analytics.plot_events_over_time(empty))
    _png(analytics.plot_order_value_over_time(empty))
    unenriched = analytics.records_frame([item for item in spread_items() if item["event_id"].startswith("u")])
    _png(analytics.plot_order_value_over_time(unenriched))
    _png(analytics.plot_events_over_time(unenriched))
    figure = analytics.plot_over_time(analytics.order_value_over_time(empty), "order value", "USD")
    assert figure.axes[0].get_title() == "order value"
    assert isinstance(analytics.events_over_time(empty), pd.DataFrame)


def test_a_notebook_cell_displays_the_plot_as_png() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shown = analytics.show(analytics.plot_events_over_time(analytics.records_frame(spread_items())))
    data, _ = InteractiveShell.instance().display_formatter.format(shown)
    assert data["image/png"] == shown.data
    assert "Events per time bin" in data["text/plain"]


def test_records_without_order_facts_and_unenriched_records_are_tolerated() -> None:
    items = [
        {
            "event_id": "c1",
            "event_type": "BUYABILITY_CHANGED",
            "event_time": "2026-11-28T10:00:00Z",
            "installation_id": "i-a",
            "enriched": True,
            "received_at": "2026-11-28T10:00:01Z",
        },
        {
            "event_id": "u1",
            "event_type": "ORDER_CONFIRMED",
            "event_time": "2026-11-28T10:00:05Z",
            "installation_id": "i-gone",
            "order_id": "o9",
            "enriched": False,
            "unenriched_reason": "installation i-gone has no token",
            "received_at": "2026-11-28T10:00:06Z",
        },
        {"event_id": "old", "event_type": "NEW_TYPE", "event_time": "2026-11-28T10:00:09Z", "installation_id": "i-a"},
    ]
    frame = analytics.records_frame(items)
    assert list(frame["enriched"]) == [True, False, True]  # a record from before the field counts as enriched
    assert analytics.orders(frame).empty  # an order without its facts is not counted as a sale
    assert analytics.order_value_over_time(frame).empty
    assert int(analytics.events_over_time(frame, period="1min").to_numpy().sum()) == 3


def test_refunds_are_counted_once_each_in_their_newest_state() -> None:
    base = {"installation_id": "i-a", "order_id": "o1", "received_at": "2026-11-28T10:00:00Z"}
    items = [
        {**base, "event_id": "r1", "event_type": "REFUND_REQUESTED", "event_time": "2026-11-28T10:00:00Z",
         "refund_id": "ref-1", "refund_state": "PENDING", "refund_amount": Decimal("10")},
        {**base, "event_id": "r2", "event_type": "REFUND_COMPLETED", "event_time": "2026-11-28T10:05:00Z",
         "refund_id": "ref-1", "refund_state": "SUCCESS", "refund_amount": Decimal("10")},
        {**base, "event_id": "r3", "event_type": "REFUND_REQUESTED", "event_time": "2026-11-28T10:06:00Z",
         "refund_id": "ref-2", "refund_state": "PENDING", "refund_amount": Decimal("4.5")},
        {**base, "event_id": "e1", "event_type": "ORDER_CONFIRMED", "event_time": "2026-11-28T09:00:00Z"},
    ]  # fmt: skip
    frame = analytics.records_frame([{k: plain(v) for k, v in item.items()} for item in items])
    counted = analytics.refunds_by_state(frame)
    assert counted.to_dict("records") == [
        {"installation_id": "i-a", "refund_state": "PENDING", "refunds": 1, "amount": 4.5},
        {"installation_id": "i-a", "refund_state": "SUCCESS", "refunds": 1, "amount": 10.0},
    ]
    assert analytics.refunds_by_state(analytics.records_frame([items[-1]])).empty


def _overlaps(a: object, b: object) -> bool:
    return bool(a.overlaps(b))  # type: ignore[attr-defined]


@pytest.mark.parametrize("plot", ["plot_events_over_time", "plot_order_value_over_time"])
def test_the_legend_hides_no_bar_and_no_point(plot: str) -> None:
    """The legend sits in the room kept above the data: no bar and no point of the running
    total lies under it, whatever the tallest bin (the tallest first, as a 06 run can leave it)."""
    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    items = []
    for hour in range(12):  # the tallest bin first, where an upper-left legend sits
        for number in range(12 if hour == 0 else 1):
            items.append({
                "event_id": f"e{hour}-{number}", "event_type": "ORDER_CONFIRMED",
                "event_time": (start + timedelta(hours=hour, minutes=number)).isoformat(),
                "installation_id": "inst-a" if number % 2 else "inst-b", "order_id": f"o{hour}-{number}",
                "order_total_amount": 90.0, "order_currency": "USD", "received_at": start.isoformat(),
            })  # fmt: skip
    frame = analytics.records_frame(items)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = getattr(analytics, plot)(frame)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # drawn: the layout and the extents are final
    renderer = canvas.get_renderer()
    checked = 0
    for axes in figure.axes:
        legend = axes.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent(renderer)
        for patch in axes.patches:
            if patch.get_height() > 0:
                assert not _overlaps(box, patch.get_window_extent(renderer)), (plot, patch.get_xy())
                checked += 1
        for twin in figure.axes:
            for line in twin.get_lines():
                for x, y in twin.transData.transform(line.get_xydata()):
                    assert not (box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1), (plot, x, y)
    assert checked > 0


def test_the_overview_is_the_newest_records_in_the_columns_that_matter() -> None:
    frame = analytics.records_frame([{k: plain(v) for k, v in item.items()} for item in _items()])
    seen = analytics.overview(frame, rows=3)
    assert list(seen.columns) == list(analytics.OVERVIEW) and len(analytics.OVERVIEW) <= 8
    assert list(seen["event_type"]) == ["ORDER_CONFIRMED", "ORDER_CONFIRMED", "PACKAGE_DELIVERED"]  # newest first
    assert set(analytics.OVERVIEW) <= set(analytics.COLUMNS)
