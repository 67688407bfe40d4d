"""SupaDupa Analytics over the data table: the records the event Lambda wrote, as pandas
DataFrames and plots (events and order value over time, per installation).

Imported by the analytics notebook only: it pulls in pandas and matplotlib. Plots are
matplotlib Figures (no pyplot state); ``show(figure)`` turns one into a PNG a notebook displays.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..core.data_record import COLUMNS
from ..settings import Settings
from .pipeline import data_records


def records_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """The data table items as a DataFrame with typed columns, oldest event first. Records
    without order facts (catalog and privacy events, events stored unenriched) have empty
    order columns; records written before ``enriched`` existed count as enriched."""
    frame = pd.DataFrame(items)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    frame = frame[list(COLUMNS)].copy()
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True, errors="coerce", format="ISO8601")
    frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True, errors="coerce", format="ISO8601")
    frame["order_total_amount"] = pd.to_numeric(frame["order_total_amount"], errors="coerce")
    frame["refund_amount"] = pd.to_numeric(frame["refund_amount"], errors="coerce")
    frame["order_line_count"] = pd.to_numeric(frame["order_line_count"], errors="coerce").astype("Int64")
    frame["enriched"] = [
        value is None or value is pd.NA or value != value or bool(value) for value in frame["enriched"]
    ]
    return frame.sort_values(["event_time", "event_id"]).reset_index(drop=True)


#: The columns 07's first look at the records shows: the ones a person reads at normal zoom
#: (the ids shortened by the notebook's ``table``); the frame keeps every column of ``COLUMNS``.
OVERVIEW = (
    "event_time",
    "event_type",
    "installation_id",
    "order_id",
    "order_execution_state",
    "order_total_amount",
    "refund_state",
    "enriched",
)


def overview(frame: pd.DataFrame, rows: int = 10) -> pd.DataFrame:
    """The newest ``rows`` records, in the columns of :data:`OVERVIEW`."""
    return frame[list(OVERVIEW)].tail(rows).iloc[::-1].reset_index(drop=True)


def load_records(settings: Settings) -> pd.DataFrame:
    return records_frame(data_records(settings))


def events_by_type(frame: pd.DataFrame) -> pd.DataFrame:
    """Events per type and installation."""
    return (
        frame.pivot_table(index="event_type", columns="installation_id", values="event_id", aggfunc="count")
        .fillna(0)
        .astype(int)
    )


#: Bin widths a plot may use, shortest first (pandas offset aliases and their labels).
_PERIODS = (
    ("10s", "10 s"), ("30s", "30 s"), ("1min", "1 min"), ("2min", "2 min"), ("5min", "5 min"), ("10min", "10 min"),
    ("15min", "15 min"), ("30min", "30 min"), ("1h", "1 h"), ("2h", "2 h"), ("3h", "3 h"), ("4h", "4 h"),
    ("6h", "6 h"), ("12h", "12 h"), ("1D", "1 day"), ("2D", "2 days"), ("7D", "7 days"),
)  # fmt: skip
#: The fewest and most bins a plot aims for.
MIN_BINS, MAX_BINS = 6, 24


def choose_period(times: pd.Series) -> str:
    """A bin width that fits the data: about sqrt(n) * 1.5 bins (between ``MIN_BINS`` and
    ``MAX_BINS``) over the span of ``times``, rounded up to a readable width, so that few
    events do not spread over mostly-empty bins and many do not pile into one."""
    times = pd.to_datetime(times, utc=True, errors="coerce").dropna()
    if len(times) < 2:
        return _PERIODS[0][0]
    span = times.max() - times.min()
    wanted = min(MAX_BINS, max(MIN_BINS, round(1.5 * len(times) ** 0.5)))
    for alias, _ in _PERIODS:
        if pd.Timedelta(alias) * wanted >= span:
            return alias
    return _PERIODS[-1][0]


def period_label(period: str) -> str:
    """``"6h"`` -> ``"6 h"``: a bin width as an axis label says it."""
    return dict(_PERIODS).get(period, period)


def _period(frame: pd.DataFrame) -> str:
    return choose_period(frame["event_time"])


def events_over_time(frame: pd.DataFrame, period: str | None = None) -> pd.DataFrame:
    """Number of events per period (rows) and installation (columns)."""
    frame = frame.dropna(subset=["event_time"])
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
    """Confirmed order value per period (rows) and installation (columns); the period fits the
    orders' times unless given."""
    confirmed = orders(frame).dropna(subset=["event_time"])
    if confirmed.empty:
        return pd.DataFrame(dtype=float)
    period = period or choose_period(confirmed["event_time"])
    value = confirmed.set_index("event_time").groupby("installation_id").resample(period)["order_total_amount"].sum()
    return value.unstack(level=0).fillna(0.0)


def refunds_by_state(frame: pd.DataFrame) -> pd.DataFrame:
    """Refunds per state and installation: each refund counted once, in the state its newest
    event's record saw (REFUND_REQUESTED, then the merchant's answer and REFUND_COMPLETED), with
    their amount."""
    named = frame[frame["refund_state"].notna()]
    if named.empty:
        return pd.DataFrame(columns=["installation_id", "refund_state", "refunds", "amount"])
    latest = named.sort_values("event_time").drop_duplicates("refund_id", keep="last")
    return (
        latest.groupby(["installation_id", "refund_state"])
        .agg(refunds=("refund_id", "count"), amount=("refund_amount", "sum"))
        .reset_index()
    )


def delivery_lag_seconds(frame: pd.DataFrame) -> pd.Series:
    """Seconds from the event's time to the record's write, per event: how fresh the data is."""
    return (frame["received_at"] - frame["event_time"]).dt.total_seconds().describe()


# --- plots ----------------------------------------------------------------------------------------
# Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no global backend), and shown
# as PNG images: ``show(figure)`` is what a notebook cell ends with.

UNKNOWN_CURRENCY = "unknown currency"


class PNG:
    """A rendered figure: shown as an ``image/png`` output by Jupyter (and kept in executed
    copies), written to a file with :meth:`save`."""

    def __init__(self, data: bytes, title: str = "") -> None:
        self.data = data
        self.title = title

    def _repr_png_(self) -> bytes:
        return self.data

    def save(self, path: Any) -> Any:
        from pathlib import Path

        Path(path).write_bytes(self.data)
        return path

    def __repr__(self) -> str:
        return f"<PNG {self.title!r}, {len(self.data)} bytes>"


def show(figure: Any, dpi: int = 100) -> PNG:
    """The figure as a PNG a notebook cell displays: ``analytics.show(analytics.plot_...(frame))``."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    title = figure.axes[0].get_title() if figure.axes else ""
    return PNG(buffer.getvalue(), title)


def _figure(rows: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.2 * rows + 0.6), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return figure, list(axes)


def _no_data(axes: Any, what: str) -> None:
    axes.text(0.5, 0.5, f"no {what} yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_yticks([])


def _time_axis(axes: Any, period: str) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz="UTC"))
    axes.set_xlabel(f"event time (UTC), bins of {period_label(period)}")
    axes.grid(axis="y", alpha=0.3)


def _bar_width(period: str) -> float:
    return pd.Timedelta(period) / pd.Timedelta(days=1) * 0.9  # matplotlib dates are in days


def plot_events_over_time(frame: pd.DataFrame, period: str | None = None) -> Any:
    """Events received per time bin, as stacked bars per installation (a Figure; display it
    with :func:`show`). The bin width fits the span and number of events unless given."""
    figure, (axes,) = _figure()
    axes.set_title("Events per time bin")
    table = events_over_time(frame, period)
    if table.empty:
        _no_data(axes, "events")
        return figure
    period = period or _period(frame.dropna(subset=["event_time"]))
    bottom = None
    for installation in table.columns:
        values = table[installation]
        axes.bar(table.index, values, width=_bar_width(period), align="edge", bottom=bottom,
                 label=str(installation))  # fmt: skip
        bottom = values if bottom is None else bottom + values
    axes.set_ylabel(f"events per {period_label(period)}")
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # events come whole
    if len(table.columns) > 1:
        axes.set_ylim(top=_headroom(table.sum(axis=1).max()))
        axes.legend(title="installation", fontsize="small", loc="upper left")
    _time_axis(axes, period)
    return figure


#: The share of a plot's height kept free above the data, where the legend goes.
LEGEND_ROOM = 0.4


def _headroom(highest: float) -> float:
    """The top of a y axis that leaves ``LEGEND_ROOM`` of the height free above ``highest``, so
    a legend in an upper corner hides no bar or point."""
    return max(float(highest), 1e-9) / (1 - LEGEND_ROOM)


def order_value_by_currency(frame: pd.DataFrame, period: str | None = None) -> pd.DataFrame:
    """Confirmed order value per period (rows) and currency (columns); orders whose currency
    is not recorded are under ``UNKNOWN_CURRENCY``."""
    confirmed = orders(frame).dropna(subset=["event_time"])
    if confirmed.empty:
        return pd.DataFrame(dtype=float)
    period = period or choose_period(confirmed["event_time"])
    confirmed = confirmed.assign(order_currency=confirmed["order_currency"].fillna(UNKNOWN_CURRENCY))
    value = confirmed.set_index("event_time").groupby("order_currency").resample(period)["order_total_amount"].sum()
    return value.unstack(level=0).fillna(0.0)


def plot_order_value_over_time(frame: pd.DataFrame, period: str | None = None) -> Any:
    """Confirmed order value per time bin (bars) and its running total (line), one panel per
    currency, the currency on each axis (a Figure; display it with :func:`show`). Events
    without order facts (no amount) are left out."""
    period = period or choose_period(orders(frame)["event_time"])
    table = order_value_by_currency(frame, period)
    figure, axes_list = _figure(max(1, len(table.columns)))
    axes_list[0].set_title("Confirmed order value per time bin, and running total")
    if table.empty:
        _no_data(axes_list[0], "confirmed orders with an amount")
        return figure
    for axes, currency in zip(axes_list, table.columns, strict=True):
        values = table[currency]
        axes.bar(values.index, values, width=_bar_width(period), align="edge", color="tab:blue",
                 label=f"per {period_label(period)}")  # fmt: skip
        axes.set_ylabel(f"order value per {period_label(period)} ({currency})")
        total = axes.twinx()
        ends = [values.index[0], *(values.index + pd.Timedelta(period))]  # the total at each bin's end
        total.plot(ends, [0.0, *values.cumsum()], marker=".", color="tab:orange", label="running total")
        total.set_ylabel(f"running total ({currency})")
        axes.set_ylim(bottom=0, top=_headroom(values.max()))
        total.set_ylim(bottom=0, top=_headroom(values.sum()))
        handles = axes.get_legend_handles_labels()[0] + total.get_legend_handles_labels()[0]
        axes.legend(handles=handles, loc="upper left", fontsize="small")
        _time_axis(axes, period)
    for axes in axes_list[:-1]:
        axes.set_xlabel("")
    return figure


def plot_over_time(table: pd.DataFrame, title: str, ylabel: str) -> Any:
    """A line per column of a table indexed by time (a Figure; display it with :func:`show`).
    Prefer :func:`plot_events_over_time` and :func:`plot_order_value_over_time`."""
    figure, (axes,) = _figure()
    axes.set_title(title)
    if table.empty:
        _no_data(axes, "data")
    else:
        for column in table.columns:
            axes.step(table.index, table[column], where="post", marker="o", label=str(column))
        axes.legend(fontsize="small")
    axes.set_ylabel(ylabel)
    axes.set_xlabel("event time (UTC)")
    return figure
