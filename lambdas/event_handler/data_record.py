"""The data table item of one event (:func:`data_item`): the one definition of the record the
event Lambda writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from bwp_workshop.core.events import BwpEvent
from bwp_workshop.names import DATA_PK

#: Where an event's installation came from (the ``installation_from`` of its record).
FROM_CONTEXT_KEYS = "contextKeys"
FROM_BUSINESS_PRODUCT = "businessProduct"


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def data_item(
    event: BwpEvent,
    store: dict[str, Any],
    order: dict[str, Any] | None,
    record: SQSRecord,
    *,
    installation_id: str | None = None,
    installation_from: str | None = None,
    unenriched_reason: str | None = None,
) -> dict[str, Any]:
    """The data table item of one event: the one definition of a data record (no empty
    values: DynamoDB refuses empty keys).

    Always: ``event_id`` (key), ``event_type``, ``event_time``, ``installation_id``,
    ``installation_from`` (``contextKeys`` or ``businessProduct``), ``shape``,
    ``envelope_id``, ``message_id``, ``received_at``, ``enriched`` (bool) and, when they
    exist, ``business_product_id``, ``resources``, ``resource_ids``, ``idempotency_key``.
    Enriched: ``site_id``, ``widget_id`` and, for events naming an order, ``order_status``,
    ``order_line_count``, ``order_total_amount``, ``order_currency``. Not enriched:
    ``unenriched_reason`` (why the API's facts are missing)."""
    item: dict[str, Any] = {
        DATA_PK: event.event_id,
        "event_type": event.event_type,
        "event_time": event.event_time,
        "installation_id": installation_id or event.installation_id,
        "installation_from": installation_from,
        "enriched": unenriched_reason is None,
        "unenriched_reason": unenriched_reason,
        "site_id": store.get("siteId"),
        "widget_id": store.get("widgetId"),
        "business_product_id": event.business_product_id,
        "resources": [resource.path for resource in event.resources] or None,
        "resource_ids": event.resource_ids() or None,
        "shape": event.shape,
        "envelope_id": event.envelope_id,
        "idempotency_key": event.idempotency_key,
        "message_id": record.message_id,
        "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    if order is not None:
        total = order.get("totalPrice") if isinstance(order.get("totalPrice"), dict) else {}
        lines = order.get("lineItems")
        item.update(
            order_id=order.get("id") or event.order_id,
            order_status=order.get("status"),
            order_line_count=len(lines) if isinstance(lines, list) else None,
            order_total_amount=_decimal(total.get("amount")),
            order_currency=total.get("currencyCode"),
        )
    elif event.order_id:
        item["order_id"] = event.order_id
    return {key: value for key, value in item.items() if value not in (None, "", [], {})}
