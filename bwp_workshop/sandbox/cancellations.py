"""cancelOrder (order-mutations-cancelorder, cancel-a-buy-with-prime-order): a request to cancel
a whole order ("Currently only supports entire order cancellation", order-objects-cancelorderinput),
answered with the cancellation as the pages show it: ``PENDING``, requested by the ``MERCHANT``,
for every line item and its amount. The request is kept with the order, which is otherwise left as
it is: no page read says what Buy with Prime does next or what it publishes, so the sandbox
publishes nothing for it; a package still PENDING can be cancelled with
``updateOrderPackageInformation`` (change-the-state-of-an-outbound-package-in-the-sandbox).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from .api_errors import invalid_input
from .merchants import iso

#: order-objects-cancellationreasoninput
CANCELLATION_REASONS = (
    "INCORRECT_SHIPPING_ADDRESS",
    "ITEMS_ARRIVING_LATE",
    "ORDERED_BY_MISTAKE",
    "OTHER",
    "OUT_OF_STOCK",
    "PAYMENT_ISSUE",
)
#: order-objects-cancelorderinput: at most five aliases.
MAX_ALIASES = 5


def check_request(request: dict[str, Any]) -> None:
    """A CancelOrderInput's documented limits, else ValidationError."""
    aliases = request.get("aliases") or []
    problems = []
    if len(aliases) > MAX_ALIASES:
        problems.append(f"/cancelOrder/input/aliases must have at most {MAX_ALIASES} items")
    reason = request.get("reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        problems.append(f"/cancelOrder/input/reason must be one of {', '.join(CANCELLATION_REASONS)}")
    if problems:
        raise invalid_input(*problems)


def cancellation(order: dict[str, Any], request: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The CancellationRequestDetails (order-objects-cancellationrequestdetails) of ``request``,
    added to the order's cancellations."""
    check_request(request)
    when = iso(time.time() if now is None else now)
    made = {
        "id": uuid.uuid4().hex,
        "state": "PENDING",
        "aliases": [dict(alias) for alias in request.get("aliases") or []],
        "reason": request.get("reason"),
        "additionalComments": request.get("additionalComments"),
        "createdAt": when,
        "updatedAt": when,
        "requestedBy": "MERCHANT",
        "canceledFor": {
            "orderLineItems": [
                {"lineItem": {"id": item["id"]}, "amount": dict(item["amount"])} for item in order["lineItems"]
            ]
        },
    }
    order.setdefault("cancellations", []).append(made)
    return made
