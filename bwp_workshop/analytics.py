"""SupaDupa Analytics over the data table: the records the event Lambda wrote, as pandas
DataFrames and plots (events and order value over time, per installation).

Imported by the analytics notebook only: it pulls in pandas and matplotlib.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from . import aws
from .names import EVENT_STACK, OUT_DATA_TABLE
from .outputs import stack_output
from .settings import Settings, get_settings

#: Columns of :func:`load_records`, in display order.
COLUMNS = [
    "event_id",
    "event_type",
    "event_time",
    "installation_id",
    "site_id",
    "order_id",
    "order_status",
    "order_line_count",
    "order_total_amount",
    "order_currency",
    "shape",
    "enriched",
    "unenriched_reason",
    "received_at",
]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def scan_data_table(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every item of EventStack's data table (paginated scan)."""
    settings = settings or get_settings()
    table = aws.resource("dynamodb", settings).Table(stack_output(settings, EVENT_STACK, OUT_DATA_TABLE))
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items.extend({key: _plain(value) for key, value in item.items()} for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def records_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """The data table items as a DataFrame with typed columns, oldest event first. Records
    without order facts (catalog and privacy events, events stored unenriched) have empty
    order columns; records written before ``enriched`` existed count as enriched."""
    frame = pd.DataFrame(items)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    frame = frame[COLUMNS].copy()
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True, errors="coerce", format="ISO8601")
    frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True, errors="coerce", format="ISO8601")
    frame["order_total_amount"] = pd.to_numeric(frame["order_total_amount"], errors="coerce")
    frame["order_line_count"] = pd.to_numeric(frame["order_line_count"], errors="coerce").astype("Int64")
    frame["enriched"] = [
        value is None or value is pd.NA or value != value or bool(value) for value in frame["enriched"]
    ]
    return frame.sort_values(["event_time", "event_id"]).reset_index(drop=True)


def load_records(settings: Settings | None = None) -> pd.DataFrame:
    return records_frame(scan_data_table(settings))


def events_by_type(frame: pd.DataFrame) -> pd.DataFrame:
    """Events per type and installation."""
    return (
        frame.pivot_table(index="event_type", columns="installation_id", values="event_id", aggfunc="count")
        .fillna(0)
        .astype(int)
    )


def _period(frame: pd.DataFrame) -> str:
    """A resampling period that gives a readable number of points for the time span."""
    span = frame["event_time"].max() - frame["event_time"].min() if len(frame) else pd.Timedelta(0)
    if span <= pd.Timedelta(minutes=10):
        return "10s"
    if span <= pd.Timedelta(hours=3):
        return "1min"
    if span <= pd.Timedelta(days=3):
        return "1h"
    return "1D"


def events_over_time(frame: pd.DataFrame, period: str | None = None) -> pd.DataFrame:
    """Number of events per period (rows) and installation (columns)."""
    if frame.empty:
        return pd.DataFrame(dtype=int)
    period = period or _period(frame)
    counts = frame.set_index("event_time").groupby("installation_id").resample(period)["event_id"].count()
    return counts.unstack(level=0).fillna(0).astype(int)


def orders(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per confirmed order (an order is counted once, however many events name it)."""
    confirmed = frame[(frame["event_type"] == "ORDER_CONFIRMED") & frame["order_total_amount"].notna()]
    return confirmed.drop_duplicates("order_id")[
        ["event_time", "installation_id", "order_id", "order_line_count", "order_total_amount", "order_currency"]
    ]


def order_value_over_time(frame: pd.DataFrame, period: str | None = None) -> pd.DataFrame:
    """Confirmed order value per period (rows) and installation (columns)."""
    confirmed = orders(frame)
    if confirmed.empty:
        return pd.DataFrame(dtype=float)
    period = period or _period(frame)
    value = confirmed.set_index("event_time").groupby("installation_id").resample(period)["order_total_amount"].sum()
    return value.unstack(level=0).fillna(0.0)


def delivery_lag_seconds(frame: pd.DataFrame) -> pd.Series:
    """Seconds from the event's time to the record's write, per event: how fresh the data is."""
    return (frame["received_at"] - frame["event_time"]).dt.total_seconds().describe()


def plot_over_time(table: pd.DataFrame, title: str, ylabel: str) -> Any:
    """A line per installation; returns the matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 3.5))
    if table.empty:
        axes.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axes.transAxes)
    else:
        table.plot(ax=axes, marker="o", drawstyle="steps-post")
        axes.legend(title="installation", fontsize="small")
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.set_xlabel("event time (UTC)")
    figure.tight_layout()
    return figure
