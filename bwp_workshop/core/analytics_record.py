"""The analytics store's record: the row each stored event gets in the Parquet objects of the
analytics bucket, and how a batch of them becomes Parquet files, one per partition.

This module is the one definition of the events table's columns and partitions: the event
handler writes rows with :func:`write_partitions`, EventStack's Glue table declares
:data:`COLUMNS` and :data:`PARTITIONS` (``stacks/analytics_store.py``), and the analytics SQL
reads them (``steps/analytics_queries.py``). The data table's item (:mod:`.data_record`) stays
the pipeline's source of truth; a row is made from it (:func:`analytics_row`).

Objects are Hive-style: ``events/event_date=YYYY-MM-DD/event_type=TYPE/<batch>.parquet``. The
partition values are in the key only (as Athena and DuckDB's ``hive_partitioning`` read them).
A redelivered event may be written twice (at least once into the bucket); the SQL keeps one
row per ``event_id``.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..names import ANALYTICS_PREFIX, DATA_SK

#: The columns of a Parquet object, in order: (name, DuckDB type, Glue/Hive type).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    (DATA_SK, "VARCHAR", "string"),
    ("installation_id", "VARCHAR", "string"),
    ("event_time", "TIMESTAMP", "timestamp"),
    ("received_at", "TIMESTAMP", "timestamp"),
    ("order_id", "VARCHAR", "string"),
    ("order_execution_state", "VARCHAR", "string"),
    ("order_line_count", "BIGINT", "bigint"),
    ("order_total_amount", "DECIMAL(18,4)", "decimal(18,4)"),
    ("order_currency", "VARCHAR", "string"),
    ("refund_id", "VARCHAR", "string"),
    ("refund_state", "VARCHAR", "string"),
    ("refund_amount", "DECIMAL(18,4)", "decimal(18,4)"),
    ("site_id", "VARCHAR", "string"),
    ("enriched", "BOOLEAN", "boolean"),
    ("shape", "VARCHAR", "string"),
)
#: The partition keys, outermost first (both strings): the event's UTC date and its type.
PARTITIONS: tuple[str, ...] = ("event_date", "event_type")
#: The date format of ``event_date`` (Python's and, for Athena's partition projection, Java's).
DATE_FORMAT = "%Y-%m-%d"
DATE_FORMAT_JAVA = "yyyy-MM-dd"
#: A Parquet object's name within its partition.
OBJECT_SUFFIX = ".parquet"

NAMES = tuple(name for name, _, _ in COLUMNS)


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time as a naive UTC datetime (Parquet TIMESTAMP), None when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def analytics_row(item: dict[str, Any]) -> dict[str, Any]:
    """The row of one data table item (:func:`.data_record.data_item`): :data:`NAMES` plus the
    partition values. An event whose time cannot be read is filed under the day it was
    received."""
    row: dict[str, Any] = {name: item.get(name) for name in NAMES}
    row["event_time"] = _timestamp(item.get("event_time"))
    row["received_at"] = _timestamp(item.get("received_at"))
    for amount in ("order_total_amount", "refund_amount"):
        if row[amount] is not None:
            row[amount] = Decimal(str(row[amount]))
    if row["order_line_count"] is not None:
        row["order_line_count"] = int(row["order_line_count"])
    row["enriched"] = bool(item.get("enriched", True))
    day = row["event_time"] or row["received_at"] or datetime.now(UTC).replace(tzinfo=None)
    row["event_date"] = day.strftime(DATE_FORMAT)
    row["event_type"] = str(item.get("event_type") or "UNKNOWN")
    return row


def partition_prefix(event_date: str, event_type: str, prefix: str = ANALYTICS_PREFIX) -> str:
    """``events/event_date=2026-12-07/event_type=ORDER_CONFIRMED/``."""
    return f"{prefix}event_date={event_date}/event_type={event_type}/"


def write_partitions(rows: list[dict[str, Any]], folder: Path, *, batch_id: str | None = None) -> list[Path]:
    """Write ``rows`` (from :func:`analytics_row`) as Parquet (zstd) under ``folder``, one file
    per partition, Hive-style (``event_date=.../event_type=.../<batch_id>.parquet``); the files'
    paths, relative to ``folder``. DuckDB does the writing (imported here: only the event handler
    and the analytics need it)."""
    if not rows:
        return []
    import duckdb

    batch_id = batch_id or f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex}"
    keys = (*NAMES, *PARTITIONS)
    schema = ", ".join([f'"{name}" {kind}' for name, kind, _ in COLUMNS] + [f'"{p}" VARCHAR' for p in PARTITIONS])
    connection = duckdb.connect(config={"threads": 1, "home_directory": str(folder)})
    try:
        connection.execute(f"CREATE TABLE batch ({schema})")
        # One statement for the whole batch: each column as a list, unnested side by side.
        values = [[row[key] for row in rows] for key in keys]
        connection.execute(
            f"INSERT INTO batch SELECT {', '.join(f'unnest(${n + 1})' for n in range(len(keys)))}", values
        )
        groups = connection.execute(
            "SELECT DISTINCT event_date, event_type FROM batch ORDER BY event_date, event_type"
        ).fetchall()
        written = []
        columns = ", ".join(f'"{name}"' for name in NAMES)
        for event_date, event_type in groups:
            relative = Path(partition_prefix(event_date, event_type, prefix="")) / f"{batch_id}{OBJECT_SUFFIX}"
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            connection.execute(
                f"COPY (SELECT {columns} FROM batch WHERE event_date = ? AND event_type = ? ORDER BY installation_id, "
                f"event_time) TO '{_sql_path(target)}' (FORMAT parquet, COMPRESSION zstd)",
                [event_date, event_type],
            )
            written.append(relative)
        return written
    finally:
        connection.close()


def _sql_path(path: Path) -> str:
    """A file path as a SQL string literal's contents."""
    return os.fspath(path).replace("'", "''")
