"""The data table's record: one item per Buy with Prime event, written by the event handler
(:func:`data_item`) and read by the notebooks (the pipeline and analytics steps).
This module is the one definition of its attributes and of how its values read back.

Every record has the ``ALWAYS`` attributes that apply; a record enriched with the API's facts
also has ``ENRICHED`` (order facts only for events that name an order); a record stored without
them has ``unenriched_reason``. Empty values are never written (DynamoDB refuses empty keys).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..names import DATA_SK
from .events import BwpEvent

#: Attributes every record has (when they apply to its event).
ALWAYS = (
    DATA_SK,
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
#: Attributes from the API: the store's, and the order's for events that name one (the order's
#: ``metadata.executionState``, its ``lineItems`` and ``totalPrice.value``: sandbox-objects-order,
#: sandbox-objects-ordermetadata, order-objects-ordertotalsummary).
ENRICHED = (
    "site_id",
    "widget_id",
    "order_execution_state",
    "order_line_count",
    "order_total_amount",
    "order_currency",
)
#: Attributes from the API for events that name a refund (REFUND_REQUESTED, REFUND_COMPLETED):
#: the refund's state and total as the order answered them (sandbox-objects-refunddetails,
#: order-objects-refundstateinput: PENDING, PARTIAL, SUCCESS, FAILURE, REJECTED).
REFUND = ("refund_id", "refund_state", "refund_amount")
#: Attributes from the API for a PACKAGE_TRACKER_MILESTONE_CHANGED event: the tracker's carrier
#: and tracking number (its resource ``.../carrier/<carrierCode>/tracker/<trackingNumber>``,
#: package_tracker_milestone_changed) and its latest milestone's status code and time as the
#: ``packageTracker`` query answered them (tracking-queries-packagetracker,
#: sandbox-objects-packagemilestonestatus).
TRACKER = ("carrier_code", "tracking_number", "tracker_milestone", "tracker_milestone_at")
#: Why a record was stored without the API's facts.
UNENRICHED = ("unenriched_reason",)
#: Every attribute a record may have.
ATTRIBUTES = ALWAYS + ENRICHED + REFUND + TRACKER + UNENRICHED

#: The columns the analytics show, in display order.
COLUMNS = (
    DATA_SK,
    "event_type",
    "event_time",
    "installation_id",
    "site_id",
    "order_id",
    "order_execution_state",
    "order_line_count",
    "order_total_amount",
    "order_currency",
    "refund_id",
    "refund_state",
    "refund_amount",
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


#: Where an event's installation came from (the ``installation_from`` of its record).
FROM_CONTEXT_KEYS = "contextKeys"
FROM_BUSINESS_PRODUCT = "businessProduct"


def _field(parent: Any, name: str) -> dict[str, Any]:
    """``parent[name]`` when both are objects, else an empty one (the API may answer null)."""
    value = parent.get(name) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _refund_facts(order: dict[str, Any], refund_id: str | None) -> dict[str, Any]:
    """The named refund's id, state and total, from the order's ``refunds.details``."""
    if not refund_id:
        return {}
    details = _field(order, "refunds").get("details")
    for refund in details if isinstance(details, list) else []:
        if isinstance(refund, dict) and refund.get("id") == refund_id:
            total = _field(_field(refund, "refundTotal"), "totalAmount")
            return {
                "refund_id": refund_id,
                "refund_state": refund.get("state"),
                "refund_amount": _decimal(total.get("amount")),
            }
    return {"refund_id": refund_id}


def _tracker_facts(event: BwpEvent, tracker: dict[str, Any] | None) -> dict[str, Any]:
    """The tracker's carrier and number (the API's, else the event's resource's) and, when the
    API answered, its latest milestone's code and time."""
    identifier = _field(tracker, "packageTrackerIdentifier")
    latest = _field(tracker, "latestMilestone")
    return {
        "carrier_code": identifier.get("carrierCode") or event.id_of("carrier"),
        "tracking_number": identifier.get("trackingNumber") or event.id_of("tracker"),
        "tracker_milestone": _field(latest, "status").get("code"),
        "tracker_milestone_at": latest.get("occurredAt"),
    }


def data_item(
    event: BwpEvent,
    store: dict[str, Any],
    order: dict[str, Any] | None,
    *,
    message_id: str,
    installation_id: str | None = None,
    installation_from: str | None = None,
    unenriched_reason: str | None = None,
    tracker: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The data table item of one event, as the event handler writes it (no empty values:
    DynamoDB refuses empty keys); ``message_id`` is the SQS message's.

    Always: ``event_id`` (key), ``event_type``, ``event_time``, ``installation_id``,
    ``installation_from`` (``contextKeys`` or ``businessProduct``), ``shape``,
    ``envelope_id``, ``message_id``, ``received_at``, ``enriched`` (bool) and, when they
    exist, ``business_product_id``, ``resources``, ``resource_ids``, ``idempotency_key``.
    Enriched: ``site_id``, ``widget_id`` and, for events naming an order,
    ``order_execution_state``, ``order_line_count``, ``order_total_amount``, ``order_currency``;
    for events naming a refund, ``refund_id``, ``refund_state``, ``refund_amount``; for events
    naming a package tracker, ``carrier_code``, ``tracking_number`` and, from ``tracker`` (the
    ``packageTracker`` answer), ``tracker_milestone``, ``tracker_milestone_at``. Not enriched:
    ``unenriched_reason`` (why the API's facts are missing)."""
    item: dict[str, Any] = {
        DATA_SK: event.event_id,
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
        "message_id": message_id,
        "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    if order is not None:
        total = _field(_field(order, "totalPrice"), "value")
        lines = order.get("lineItems")
        item.update(
            order_id=order.get("id") or event.order_id,
            order_execution_state=_field(order, "metadata").get("executionState"),
            order_line_count=len(lines) if isinstance(lines, list) else None,
            order_total_amount=_decimal(total.get("amount")),
            order_currency=total.get("currencyCode"),
        )
        item.update(_refund_facts(order, event.resource_ids().get("refund")))
    elif event.order_id:
        item["order_id"] = event.order_id
    if tracker is not None or event.id_of("tracker"):
        item.update(_tracker_facts(event, tracker))
    return {key: value for key, value in item.items() if value not in (None, "", [], {})}
