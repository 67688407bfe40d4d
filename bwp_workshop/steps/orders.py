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

from ..core.graphql import GraphQLError
from ..errors import ConfigurationError, WorkshopError
from ..settings import Settings
from .api import execute
from .pipeline import data_records

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


def _change(document: str, variables: dict[str, Any], settings: Settings, installation_id: str | None) -> None:
    """A mutation; a change Buy with Prime refuses (an order already past that step, when a cell
    runs twice) says so in one line, with what to do."""
    try:
        execute(document, variables, settings=settings, installation_id=installation_id)
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
    if not settings.is_local:
        raise ConfigurationError(
            "On the aws target the workshop does not place orders.",
            hint="Place a test order in your Buy with Prime sandbox store (create-and-manage-orders), then set "
            "ORDER_ID in this notebook's parameters cell to its id.",
        )
    from ..sandbox.client import SandboxClient

    with SandboxClient(settings) as client:
        placed = client.emit(orders=1, lifecycle="placed", installation_id=installation_id or settings.installation_id)
    return str(placed["orders"][0]["order_id"])


def order_state(order_id: str, settings: Settings, installation_id: str | None = None) -> dict[str, Any]:
    """The order's execution state, packages and refunds, as one row per package and refund."""
    order = execute(ORDER_STATE, {"orderIdentifier": _identifier(order_id)}, settings=settings,
                    installation_id=installation_id)["order"]  # fmt: skip
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
    variables = {"orderIdentifier": _identifier(order_id), "input": {"desiredExecutionState": "STARTED"}}
    _change(UPDATE_ORDER, variables, settings, installation_id)
    return order_state(order_id, settings, installation_id)


def _package_id(order_id: str, settings: Settings, installation_id: str | None) -> str:
    order = execute(ORDER_STATE, {"orderIdentifier": _identifier(order_id)}, settings=settings,
                    installation_id=installation_id)["order"]  # fmt: skip
    details = order["packageInformation"]["details"]
    if not details:
        raise WorkshopError(f"Order {order_id} has no package yet.", hint="Start its fulfilment first.")
    return str(details[-1]["id"])


def move_package(
    order_id: str, state: str, settings: Settings, *, reason: str | None = None, installation_id: str | None = None
) -> dict[str, Any]:
    """Move the order's package to ``state`` (IN_TRANSIT, DELIVERED or CANCELLED with a
    ``reason``), as updateOrderPackageInformation does in BwP's sandbox."""
    package = _package_id(order_id, settings, installation_id)
    wanted = {"state": state, **({"reason": reason} if reason else {})}
    details = [{"id": package, "packageState": {"packageInformationState": wanted}}]
    variables = {"orderIdentifier": _identifier(order_id), "input": {"packageInformation": {"details": details}}}
    _change(UPDATE_PACKAGES, variables, settings, installation_id)
    return order_state(order_id, settings, installation_id)


def refund_in_full(order_id: str, settings: Settings, installation_id: str | None = None) -> dict[str, Any]:
    """Answer the order's pending refunds as the merchant's order system would once the money is
    back with the shopper: each refund's state SUCCESS with its total (best-practices-for-refunds)."""
    order = execute(ORDER_STATE, {"orderIdentifier": _identifier(order_id)}, settings=settings,
                    installation_id=installation_id)["order"]  # fmt: skip
    pending = [r for r in order["refunds"]["details"] if r["state"] != "SUCCESS"]
    if not pending:
        raise WorkshopError(f"Order {order_id} has no refund to process.", hint="Cancel its package first.")
    updates = [{"id": r["id"], "state": "SUCCESS", "refundTotal": r["refundTotal"]} for r in pending]
    variables = {"orderIdentifier": _identifier(order_id), "input": {"refunds": {"details": updates}}}
    _change(UPDATE_ORDER, variables, settings, installation_id)
    return order_state(order_id, settings, installation_id)


def wait_for_order_events(
    order_id: str, event_types: list[str], settings: Settings, *, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """The data records of ``order_id`` once each of ``event_types`` is among them (event type,
    time, whether enriched), oldest first."""
    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        records = [record for record in data_records(settings) if record.get("order_id") == order_id]
        if set(event_types) <= {record["event_type"] for record in records}:
            return [
                {"event_type": r["event_type"], "event_time": r["event_time"], "enriched": r.get("enriched")}
                for r in sorted(records, key=lambda record: record["event_time"])
            ]
        if time.monotonic() > deadline:
            missing = sorted(set(event_types) - {record["event_type"] for record in records})
            raise WorkshopError(
                f"Order {order_id}: {', '.join(missing)} not stored within {timeout:.0f} s.",
                hint="Check the event pipeline: `bwp-workshop local status`, then run notebook 05 again.",
            )
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
