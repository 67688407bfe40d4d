"""Notebook 06's order walk: one order driven through its life with Buy with Prime's documented
mutations, as a partner drives orders in BwP's sandbox (test-in-a-sandbox-environment):
``updateOrder`` starts fulfilment (update-a-buy-with-prime-order) and answers a refund request
(best-practices-for-refunds); the sandbox-only ``updateOrderPackageInformation`` moves a package
(change-the-state-of-an-outbound-package-in-the-sandbox). Each change publishes its events,
which the pipeline stores; :func:`wait_for_order_events` shows them arriving.

On the local target the sandbox places the order (a shopper's checkout); on aws, place a test
order in your Buy with Prime sandbox store and pass its id.
"""

from __future__ import annotations

import time
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from .. import aws, names
from ..core.data_record import plain
from ..core.graphql import GraphQLError
from ..errors import ConfigurationError, WorkshopError
from ..settings import Settings
from ..targets import choose_target
from .api import Run, installation, session
from .pipeline import data_table_name

#: update-a-buy-with-prime-order; order-objects-refunddetailsinput.
UPDATE_ORDER = """
mutation UpdateOrder($orderIdentifier: OrderIdentifierInput!, $input: UpdateOrderInput!) {
  updateOrder(orderIdentifier: $orderIdentifier, input: $input) { order { id } }
}
"""

#: sandbox-mutations-updateorderpackageinformation
UPDATE_PACKAGES = """
mutation UpdatePackages($orderIdentifier: OrderIdentifierInput!, $input: UpdateOrderPackageInformationInput!) {
  updateOrderPackageInformation(orderIdentifier: $orderIdentifier, input: $input) { order { id } }
}
"""

#: What the walk shows of the order (order-queries-order; sandbox-objects-ordermetadata).
ORDER_STATE = """
query OrderState($orderIdentifier: OrderIdentifierInput!) {
  order(orderIdentifier: $orderIdentifier) {
    id
    metadata { executionState updatedAt }
    packageInformation { summary { state } details { id state reason } }
    refunds { details { id state refundTotal { totalAmount { amount currencyCode } } } }
  }
}
"""


def _identifier(order_id: str) -> dict[str, Any]:
    return {"orderId": order_id}


def _change(run: Run, document: str, variables: dict[str, Any]) -> None:
    """A mutation; a change Buy with Prime refuses (an order already past that step, when a cell
    runs twice) says so in one line, with what to do."""
    try:
        run(document, variables)
    except GraphQLError as error:
        if error.transient or error.error_type != "ValidationError":
            raise
        raise WorkshopError(
            f"Buy with Prime refused the change: {error}",
            hint="the order is past this step (a cell run twice?): run the cell that places the order to walk "
            "a new one, then the steps after it in order",
        ) from None


def place_order(settings: Settings, installation_id: str | None = None) -> str:
    """A new order of the installation's merchant, fulfilment not started; its id."""
    sandbox = choose_target(settings).sandbox()
    if sandbox is None:
        raise ConfigurationError(
            "On the aws target the workshop does not place orders.",
            hint="Place a test order in your Buy with Prime sandbox store (create-and-manage-orders), then set "
            "ORDER_ID in this notebook's parameters cell to its id.",
        )
    with sandbox as client:
        placed = client.emit(orders=1, lifecycle="placed", installation_id=installation_id or settings.installation_id)
    return str(placed["orders"][0]["order_id"])


def _order(run: Run, order_id: str) -> dict[str, Any]:
    return dict(run(ORDER_STATE, {"orderIdentifier": _identifier(order_id)})["order"])


def order_state(order_id: str, settings: Settings, installation_id: str | None = None) -> dict[str, Any]:
    """The order's execution state, packages and refunds."""
    return _state(_order(session(settings, installation_id), order_id))


def _state(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "order": order["id"],
        "execution state": order["metadata"]["executionState"],
        "packages": ", ".join(f"{p['id']} {p['state']}" for p in order["packageInformation"]["details"]) or "none",
        "refunds": ", ".join(
            f"{r['id']} {r['state']} {r['refundTotal']['totalAmount']['amount']}" for r in order["refunds"]["details"]
        )
        or "none",
    }


def start_fulfilment(order_id: str, settings: Settings, installation_id: str | None = None) -> dict[str, Any]:
    """``desiredExecutionState: STARTED``: the order gets its package, PENDING."""
    run = session(settings, installation_id)
    variables = {"orderIdentifier": _identifier(order_id), "input": {"desiredExecutionState": "STARTED"}}
    _change(run, UPDATE_ORDER, variables)
    return _state(_order(run, order_id))


def _package_id(run: Run, order_id: str) -> str:
    details = _order(run, order_id)["packageInformation"]["details"]
    if not details:
        raise WorkshopError(f"Order {order_id} has no package yet.", hint="Start its fulfilment first.")
    return str(details[-1]["id"])


def move_package(
    order_id: str, state: str, settings: Settings, *, reason: str | None = None, installation_id: str | None = None
) -> dict[str, Any]:
    """Move the order's package to ``state`` (IN_TRANSIT, DELIVERED or CANCELLED with a
    ``reason``), as updateOrderPackageInformation does in BwP's sandbox."""
    run = session(settings, installation_id)
    wanted = {"state": state, **({"reason": reason} if reason else {})}
    details = [{"id": _package_id(run, order_id), "packageState": {"packageInformationState": wanted}}]
    variables = {"orderIdentifier": _identifier(order_id), "input": {"packageInformation": {"details": details}}}
    _change(run, UPDATE_PACKAGES, variables)
    return _state(_order(run, order_id))


def refund_in_full(order_id: str, settings: Settings, installation_id: str | None = None) -> dict[str, Any]:
    """Answer the order's pending refunds as the merchant's order system would once the money is
    back with the shopper: each refund's state SUCCESS with its total (best-practices-for-refunds)."""
    run = session(settings, installation_id)
    pending = [r for r in _order(run, order_id)["refunds"]["details"] if r["state"] != "SUCCESS"]
    if not pending:
        raise WorkshopError(f"Order {order_id} has no refund to process.", hint="Cancel its package first.")
    updates = [{"id": r["id"], "state": "SUCCESS", "refundTotal": r["refundTotal"]} for r in pending]
    variables = {"orderIdentifier": _identifier(order_id), "input": {"refunds": {"details": updates}}}
    _change(run, UPDATE_ORDER, variables)
    return _state(_order(run, order_id))


def _order_records(order_id: str, settings: Settings, installation_id: str | None) -> list[dict[str, Any]]:
    """The installation's records of ``order_id``: a Query on the installation's partition of the
    data table (its records only), not a scan of every tenant's."""
    table = aws.resource("dynamodb", settings).Table(data_table_name(settings))
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key(names.DATA_PK).eq(installation(settings, installation_id)),
        "FilterExpression": Attr("order_id").eq(order_id),
        "ConsistentRead": True,
    }
    records: list[dict[str, Any]] = []
    while True:
        page = table.query(**kwargs)
        records += [plain(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return records
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def wait_for_order_events(
    order_id: str,
    event_types: list[str],
    settings: Settings,
    *,
    installation_id: str | None = None,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """The installation's data records of ``order_id`` once each of ``event_types`` is among
    them (event type, time, whether enriched), oldest first (events of one second in the order
    they were stored)."""
    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        records = _order_records(order_id, settings, installation_id)
        if set(event_types) <= {record["event_type"] for record in records}:
            return [
                {"event_type": r["event_type"], "event_time": r["event_time"], "enriched": r.get("enriched")}
                for r in sorted(records, key=lambda record: (record["event_time"], record.get("received_at", "")))
            ]
        if time.monotonic() > deadline:
            missing = sorted(set(event_types) - {record["event_type"] for record in records})
            raise WorkshopError(
                f"Order {order_id}: {', '.join(missing)} not stored within {timeout:.0f} s.",
                hint="Check the event pipeline: `bwp-workshop local status`, then run notebook 05 again.",
            )
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
