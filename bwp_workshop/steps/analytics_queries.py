"""The SQL of SupaDupa Analytics' merchant-facing metrics, the one owner of it: orders, revenue,
refunds by state, return rate and time from order to delivery, per merchant (installation) and
per day. Each query runs unchanged on Athena (aws, the Glue table) and on DuckDB (local, a view
of the same name over the same Parquet objects), except where the two dialects force a
difference (:data:`DIALECTS`, each tested in tests/unit/test_analytics_queries.py):

- ``elapsed_seconds``: Trino's ``date_diff('second', a, b)`` counts whole seconds elapsed;
  DuckDB's ``date_diff`` counts second boundaries crossed (10:00:00.9 to 10:00:01.1 is 1), and
  its ``date_sub`` is Trino's ``date_diff``.

Every query reads one row per event (a redelivered event may have been written twice: the
``events`` CTE keeps its first copy) and filters on the partition keys, so Athena reads only the
partitions of the event types the metric needs, over the days asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .. import names

#: The table every query reads: the Glue table on Athena; on DuckDB a view of the same name.
TABLE = f'"{names.GLUE_DATABASE}"."{names.GLUE_TABLE}"'

#: Per engine, the functions whose spelling differs.
DIALECTS: dict[str, dict[str, str]] = {
    "athena": {"elapsed_seconds": "date_diff"},
    "duckdb": {"elapsed_seconds": "date_sub"},
}

#: One copy of each event of the partitions asked.
_EVENTS = """events AS (
    SELECT * FROM (
        SELECT e.*, row_number() OVER (PARTITION BY event_id ORDER BY received_at, event_time) AS copy_number
        FROM {table} e
        WHERE event_type IN ({types}) AND {days}
    ) WHERE copy_number = 1
)"""

#: Each confirmed order once, as its first confirmation with an amount saw it.
_CONFIRMED = """confirmed AS (
    SELECT installation_id, order_id,
           min(event_time) AS confirmed_at,
           min_by(event_date, event_time) AS day,
           min_by(order_total_amount, event_time) AS amount,
           min_by(order_currency, event_time) AS currency
    FROM events
    WHERE event_type = 'ORDER_CONFIRMED' AND order_total_amount IS NOT NULL AND order_id IS NOT NULL
    GROUP BY installation_id, order_id
)"""


@dataclass(frozen=True)
class Metric:
    """A metric's question, the event types (partitions) it reads and its SQL."""

    name: str
    question: str
    event_types: tuple[str, ...]
    sql: str


METRICS: tuple[Metric, ...] = (
    Metric(
        "orders",
        "How many orders did each merchant get per day?",
        ("ORDER_CONFIRMED",),
        f"""WITH {_EVENTS}, {_CONFIRMED}
SELECT installation_id, day, count(*) AS orders
FROM confirmed GROUP BY installation_id, day ORDER BY day, installation_id""",
    ),
    Metric(
        "revenue",
        "How much did those orders total, per merchant, day and currency?",
        ("ORDER_CONFIRMED",),
        f"""WITH {_EVENTS}, {_CONFIRMED}
SELECT installation_id, day, coalesce(currency, 'unknown') AS currency, sum(amount) AS revenue
FROM confirmed GROUP BY installation_id, day, coalesce(currency, 'unknown') ORDER BY day, installation_id, currency""",
    ),
    Metric(
        "refunds_by_state",
        "How many refunds are in each state, and for how much (each refund as its newest event saw it)?",
        ("REFUND_REQUESTED", "REFUND_COMPLETED"),
        f"""WITH {_EVENTS}, refunds AS (
    SELECT installation_id, refund_id,
           max_by(refund_state, event_time) AS refund_state,
           max_by(refund_amount, event_time) AS amount,
           max_by(event_date, event_time) AS day
    FROM events WHERE refund_id IS NOT NULL AND refund_state IS NOT NULL
    GROUP BY installation_id, refund_id
)
SELECT installation_id, day, refund_state, count(*) AS refunds, sum(amount) AS amount
FROM refunds GROUP BY installation_id, day, refund_state ORDER BY day, installation_id, refund_state""",
    ),
    Metric(
        "return_rate",
        "What share of each day's orders were returned (a return started)?",
        ("ORDER_CONFIRMED", "RETURN_STARTED"),
        f"""WITH {_EVENTS}, {_CONFIRMED}, returned AS (
    SELECT DISTINCT installation_id, order_id FROM events WHERE event_type = 'RETURN_STARTED'
)
SELECT c.installation_id, c.day, count(*) AS orders, count(r.order_id) AS returned,
       CAST(count(r.order_id) AS DOUBLE) / count(*) AS return_rate
FROM confirmed c LEFT JOIN returned r ON r.installation_id = c.installation_id AND r.order_id = c.order_id
GROUP BY c.installation_id, c.day ORDER BY c.day, c.installation_id""",
    ),
    Metric(
        "delivery_time",
        "How long from order to delivery, per merchant and day of order?",
        ("ORDER_CONFIRMED", "PACKAGE_DELIVERED"),
        f"""WITH {_EVENTS}, {_CONFIRMED}, delivered AS (
    SELECT installation_id, order_id, min(event_time) AS delivered_at
    FROM events WHERE event_type = 'PACKAGE_DELIVERED' GROUP BY installation_id, order_id
), lags AS (
    SELECT c.installation_id, c.day, {{elapsed_seconds}}('second', c.confirmed_at, d.delivered_at) AS seconds
    FROM confirmed c JOIN delivered d ON d.installation_id = c.installation_id AND d.order_id = c.order_id
)
SELECT installation_id, day, count(*) AS delivered, avg(CAST(seconds AS DOUBLE)) AS mean_seconds,
       min(seconds) AS min_seconds, max(seconds) AS max_seconds
FROM lags GROUP BY installation_id, day ORDER BY day, installation_id""",
    ),
)
BY_NAME = {metric.name: metric for metric in METRICS}


def _day(value: date | str) -> str:
    """A day as the partition value (``YYYY-MM-DD``); anything else is refused, so what goes into
    the SQL text is a date and nothing more."""
    return (value if isinstance(value, date) else date.fromisoformat(str(value))).isoformat()


def days_filter(first: date | str | None = None, last: date | str | None = None) -> str:
    """The ``event_date`` predicate for the days asked (every day when neither is given)."""
    parts = []
    if first is not None:
        parts.append(f"event_date >= '{_day(first)}'")
    if last is not None:
        parts.append(f"event_date <= '{_day(last)}'")
    return " AND ".join(parts) or "TRUE"


def render(
    metric: Metric | str,
    engine: str,
    *,
    first: date | str | None = None,
    last: date | str | None = None,
    event_types: tuple[str, ...] | None = None,
) -> str:
    """The metric's SQL for ``engine`` (``athena`` or ``duckdb``) over the days asked. The event
    types default to the metric's own (``event_types=names.SUBSCRIBABLE_EVENT_TYPES``: every
    partition, for measuring what pruning saves)."""
    metric = BY_NAME[metric] if isinstance(metric, str) else metric
    types = ", ".join(f"'{t}'" for t in (event_types or metric.event_types) if t.replace("_", "").isalnum())
    events = _EVENTS.format(table=TABLE, types=types, days=days_filter(first, last))
    body = metric.sql.replace(_EVENTS, events)
    return body.replace("{elapsed_seconds}", DIALECTS[engine]["elapsed_seconds"])
