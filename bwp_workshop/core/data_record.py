"""The data table's record: one item per Buy with Prime event, written by the event handler
(``data_item`` in the Lambda) and read by the notebooks (the pipeline and analytics steps).
This module is the one definition of its attributes and of how its values read back.

Every record has the ``ALWAYS`` attributes that apply; a record enriched with the API's facts
also has ``ENRICHED`` (order facts only for events that name an order); a record stored without
them has ``unenriched_reason``. Empty values are never written (DynamoDB refuses empty keys).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..names import DATA_PK

#: Attributes every record has (when they apply to its event).
ALWAYS = (
    DATA_PK,
    "event_type",
    "event_time",
    "installation_id",
    "installation_from",
    "shape",
    "enriched",
    "envelope_id",
    "message_id",
    "received_at",
    "business_product_id",
    "resources",
    "resource_ids",
    "idempotency_key",
    "order_id",
)
#: Attributes from the API: the store's, and the order's for events that name one.
ENRICHED = (
    "site_id",
    "widget_id",
    "order_status",
    "order_line_count",
    "order_total_amount",
    "order_currency",
)
#: Why a record was stored without the API's facts.
UNENRICHED = ("unenriched_reason",)
#: Every attribute a record may have.
ATTRIBUTES = ALWAYS + ENRICHED + UNENRICHED

#: The columns the analytics show, in display order.
COLUMNS = (
    DATA_PK,
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
)


def plain(value: Any) -> Any:
    """A stored value as plain Python, for pandas and JSON: numbers (DynamoDB's Decimal) become
    int when whole, else float; maps, lists and sets are converted throughout."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [plain(item) for item in value]
    return value
