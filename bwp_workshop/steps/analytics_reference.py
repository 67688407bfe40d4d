"""The metrics of :mod:`.analytics_queries` computed again from the data table's records with
pandas, as a check: the analytics store must answer what the pipeline's source of truth says
(notebook 07 shows the comparison; the tests assert it)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Each metric's key columns (one row per key) and value columns.
KEYS = {
    "orders": ["installation_id", "day"],
    "revenue": ["installation_id", "day", "currency"],
    "refunds_by_state": ["installation_id", "day", "refund_state"],
    "return_rate": ["installation_id", "day"],
    "delivery_time": ["installation_id", "day"],
}


def _day(times: pd.Series) -> pd.Series:
    return pd.to_datetime(times, utc=True).dt.strftime("%Y-%m-%d")


def _confirmed(frame: pd.DataFrame) -> pd.DataFrame:
    chosen = frame[
        (frame["event_type"] == "ORDER_CONFIRMED") & frame["order_total_amount"].notna() & frame["order_id"].notna()
    ]
    first = chosen.sort_values("event_time").drop_duplicates(["installation_id", "order_id"], keep="first")
    return first.assign(day=_day(first["event_time"]), currency=first["order_currency"].fillna("unknown"))


def reference_answers(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each metric from the records (``analytics.records_frame`` of the data table's items)."""
    frame = frame.drop_duplicates("event_id")
    confirmed = _confirmed(frame)
    answers: dict[str, pd.DataFrame] = {}
    answers["orders"] = confirmed.groupby(KEYS["orders"]).size().rename("orders").reset_index()
    answers["revenue"] = confirmed.groupby(KEYS["revenue"])["order_total_amount"].sum().rename("revenue").reset_index()
    refunds = frame[frame["refund_id"].notna() & frame["refund_state"].notna()].sort_values("event_time")
    latest = refunds.drop_duplicates(["installation_id", "refund_id"], keep="last")
    latest = latest.assign(day=_day(latest["event_time"]))
    answers["refunds_by_state"] = (
        latest.groupby(KEYS["refunds_by_state"])
        .agg(refunds=("refund_id", "size"), amount=("refund_amount", "sum"))
        .reset_index()
    )
    returned = frame[frame["event_type"] == "RETURN_STARTED"][["installation_id", "order_id"]].drop_duplicates()
    marked = confirmed.merge(returned.assign(returned=1), on=["installation_id", "order_id"], how="left")
    rate = marked.groupby(KEYS["return_rate"]).agg(orders=("order_id", "size"), returned=("returned", "count"))
    answers["return_rate"] = rate.assign(return_rate=rate["returned"] / rate["orders"]).reset_index()
    delivered = (
        frame[frame["event_type"] == "PACKAGE_DELIVERED"]
        .groupby(["installation_id", "order_id"])["event_time"]
        .min()
        .rename("delivered_at")
        .reset_index()
    )
    lags = confirmed.merge(delivered, on=["installation_id", "order_id"])
    # Whole seconds elapsed, truncated toward zero (Trino's date_diff, DuckDB's date_sub).
    lags = lags.assign(seconds=np.trunc((lags["delivered_at"] - lags["event_time"]).dt.total_seconds()))
    answers["delivery_time"] = (
        lags.groupby(KEYS["delivery_time"])
        .agg(
            delivered=("seconds", "size"),
            mean_seconds=("seconds", "mean"),
            min_seconds=("seconds", "min"),
            max_seconds=("seconds", "max"),
        )
        .reset_index()
    )
    return answers


def normalized(metric: str, frame: pd.DataFrame) -> pd.DataFrame:
    """An answer in a comparable form: key columns as text, values as floats rounded to the
    amounts' precision, rows sorted by key."""
    keys = KEYS[metric]
    frame = frame.copy()
    for column in frame.columns:
        if column in keys:
            frame[column] = frame[column].astype(str)
        else:
            frame[column] = pd.to_numeric(frame[column]).astype(float).round(4)
    return frame[sorted(frame.columns)].sort_values(keys).reset_index(drop=True)


def compare(answers: dict[str, pd.DataFrame], reference: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per metric: rows in each answer and whether the store's answer equals the records'."""
    rows = []
    for metric, expected in reference.items():
        got = normalized(metric, answers[metric])
        want = normalized(metric, expected)
        rows.append({"metric": metric, "rows (store)": len(got), "rows (data table)": len(want),
                     "equal": got.equals(want)})  # fmt: skip
    return pd.DataFrame(rows)
