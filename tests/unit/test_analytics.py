from decimal import Decimal

import pandas as pd

from bwp_workshop import analytics


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
    frame = analytics.records_frame([{k: analytics._plain(v) for k, v in item.items()} for item in _items()])
    assert list(frame.columns) == analytics.COLUMNS
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


def test_plots_render_even_without_data() -> None:
    empty = analytics.records_frame([])
    figure = analytics.plot_over_time(analytics.order_value_over_time(empty), "order value", "USD")
    assert figure.axes[0].get_title() == "order value"
    assert isinstance(analytics.events_over_time(empty), pd.DataFrame)


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
