"""What happens to a merchant, as Buy with Prime events tell it: orders walking through their
lifecycles (confirmed, shipped, delivered, returned, refunded, cancelled), and catalog and
privacy occurrences. Each step changes the order and yields an :class:`Occurrence`: an event
type and the resources it names.

Events are thin: ``resources`` names what changed (``businessProduct/<bp>/order/<id>`` and
sub-resources), the consumer queries the API for the rest. How an occurrence becomes an
event's ``detail`` is in ``event_shapes.py``; the event types are in ``bwp_workshop.names``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .merchants import iso, line_value, money


@dataclass
class Occurrence:
    """One thing that happened to a merchant: an event type and the resources it names."""

    type: str
    resources: list[str]
    order_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: When it happened (epoch seconds); None: when it is published.
    at: float | None = None


Step = Callable[[dict[str, Any], random.Random, float, str], Occurrence]


def _order_path(bp: str, order: dict[str, Any]) -> str:
    return f"businessProduct/{bp}/order/{order['id']}"


def _touch(order: dict[str, Any], now: float) -> None:
    order["metadata"]["updatedAt"] = iso(now)


def _milestone_of(code: str, now: float) -> dict[str, Any]:
    """A package milestone (tracking-queries-packagetracker): a PackageMilestoneStatus code."""
    message = {"locale": "en-US", "value": code.replace("_", " ").capitalize()}
    return {"status": {"code": code, "message": message}, "occurredAt": iso(now)}


def _tracker(rng: random.Random, now: float, code: str | None) -> dict[str, Any]:
    milestones = [_milestone_of(code, now)] if code else []
    return {
        "packageTrackerIdentifier": {"carrierCode": "UPS", "trackingNumber": f"1Z{rng.getrandbits(40):010X}"},
        "milestones": milestones,
    }


def _track(tracker: dict[str, Any], code: str, now: float) -> None:
    tracker["milestones"].append(_milestone_of(code, now))


def _confirm(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    _touch(order, now)
    data = {"order": {"id": order["id"], "aliases": order["aliases"]}}
    return Occurrence("ORDER_CONFIRMED", [_order_path(bp, order)], order["id"], data)


def _package(order: dict[str, Any]) -> dict[str, Any]:
    details = order["packageInformation"]["details"]
    return details[-1]


def _package_path(bp: str, order: dict[str, Any]) -> list[str]:
    return [f"{_order_path(bp, order)}/delivery/{_package(order)['id']}"]


def _ship(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    package = {
        "id": f"pkg-{rng.getrandbits(48):012x}",
        "state": "IN_TRANSIT",
        "packageTracker": _tracker(rng, now, "IN_TRANSIT"),
    }
    order["packageInformation"]["details"].append(package)
    _touch(order, now)
    return Occurrence("PACKAGE_DELIVERY_IN_TRANSIT", _package_path(bp, order), order["id"])


def _milestone(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    _track(_package(order)["packageTracker"], "OUT_FOR_DELIVERY", now)
    _touch(order, now)
    return Occurrence("PACKAGE_TRACKER_MILESTONE_CHANGED", _package_path(bp, order), order["id"])


def _deliver(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    package = _package(order)
    package["state"] = "DELIVERED"
    _track(package["packageTracker"], "DELIVERED", now)
    _touch(order, now)
    return Occurrence("PACKAGE_DELIVERED", _package_path(bp, order), order["id"])


def _cancel_package(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    package = {"id": f"pkg-{rng.getrandbits(48):012x}", "state": "CANCELLED", "reason": "CUSTOMER_REQUESTED"}
    order["packageInformation"]["details"].append(package)
    _touch(order, now)
    return Occurrence("PACKAGE_DELIVERY_CANCELLED", _package_path(bp, order), order["id"])


def _return(order: dict[str, Any]) -> dict[str, Any]:
    return order["returns"]["details"][-1]


def _return_path(bp: str, order: dict[str, Any]) -> list[str]:
    return [f"{_order_path(bp, order)}/return/{_return(order)['id']}"]


def _return_start(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    order["returns"]["details"].append(
        {
            "id": f"ret-{rng.getrandbits(48):012x}",
            "state": "CREATED",
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "returnPackageDetails": [
                {
                    "id": f"rpkg-{rng.getrandbits(48):012x}",
                    "state": "CREATED",
                    "packageTracker": _tracker(rng, now, None),
                }
            ],
            "_lineItemIds": [order["lineItems"][0]["id"]],
        }
    )
    _touch(order, now)
    return Occurrence("RETURN_STARTED", _return_path(bp, order), order["id"])


def _return_package(event_type: str, state: str, milestone: str) -> Step:
    """The return package moves to ``state`` (returns-objects-returnpackagedetails)."""

    def step(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
        details = _return(order)
        package = details["returnPackageDetails"][-1]
        package["state"] = state
        if state == "FAILED":
            package["reason"] = "UNDELIVERABLE"
        _track(package["packageTracker"], milestone, now)
        details["updatedAt"] = iso(now)
        _touch(order, now)
        return Occurrence(event_type, _return_path(bp, order), order["id"])

    return step


def _return_graded(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    _return(order)["_grade"] = rng.choice(["SELLABLE", "DAMAGED"])
    _touch(order, now)
    return Occurrence("RETURN_ITEM_GRADED", _return_path(bp, order), order["id"])


def _return_completed(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    details = _return(order)
    details["state"] = "COMPLETED"
    details["updatedAt"] = iso(now)
    _touch(order, now)
    return Occurrence("RETURN_COMPLETED", _return_path(bp, order), order["id"])


def _refund_requested(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    returned = order["returns"]["details"]
    lines = order["lineItems"]
    if returned:
        lines = [line for line in lines if line["id"] in returned[-1]["_lineItemIds"]]
    refund = {
        "id": f"ref-{rng.getrandbits(48):012x}",
        "state": "PENDING",
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "refundTotal": {"totalAmount": money(sum(line_value(line) for line in lines))},
    }
    order["refunds"]["details"].append(refund)
    _touch(order, now)
    data = {"order": {"id": order["id"], "aliases": order["aliases"]}}
    return Occurrence("REFUND_REQUESTED", [f"{_order_path(bp, order)}/refund/{refund['id']}"], order["id"], data)


def _refund_completed(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> Occurrence:
    refund = order["refunds"]["details"][-1]
    refund["state"] = "SUCCESS"
    refund["updatedAt"] = iso(now)
    _touch(order, now)
    data = {"order": {"id": order["id"], "aliases": order["aliases"]}}
    return Occurrence("REFUND_COMPLETED", [f"{_order_path(bp, order)}/refund/{refund['id']}"], order["id"], data)


_DELIVERED: list[Step] = [_confirm, _ship, _milestone, _deliver]
_RETURN: list[Step] = [
    _return_start,
    _return_package("RETURN_PACKAGE_IN_TRANSIT", "IN_TRANSIT", "IN_TRANSIT"),
    _return_package("RETURN_PACKAGE_DELIVERED", "DELIVERED", "DELIVERED"),
    _return_graded,
    _return_completed,
    _refund_requested,
    _refund_completed,
]

#: Order lifecycles: the steps an order walks through, each step one event.
LIFECYCLES: dict[str, list[Step]] = {
    "delivered": _DELIVERED,
    "returned": _DELIVERED + _RETURN,
    "cancelled": [_confirm, _cancel_package, _refund_requested, _refund_completed],
    "return_failed": [
        *_DELIVERED,
        _return_start,
        _return_package("RETURN_PACKAGE_IN_TRANSIT", "IN_TRANSIT", "IN_TRANSIT"),
        _return_package("RETURN_PACKAGE_DELIVERY_FAILED", "FAILED", "UNDELIVERABLE"),
    ],
}


def lifecycle_types(name: str) -> list[str]:
    """The event types a lifecycle produces, in order (walks a throwaway order)."""
    from .merchants import new_order, seed_merchants

    merchant = seed_merchants(1)[0]
    rng = random.Random(0)
    order = new_order(merchant, rng)
    return [step(order, rng, 0.0, merchant["businessProductId"]).type for step in LIFECYCLES[name]]


def catalog_occurrence(merchant: dict[str, Any], rng: random.Random, event_type: str) -> Occurrence:
    product = rng.choice(merchant["products"])
    return Occurrence(event_type, [f"businessProduct/{merchant['businessProductId']}/items/{product['sku']['value']}"])


def privacy_occurrence(merchant: dict[str, Any], rng: random.Random, event_type: str) -> Occurrence:
    task = f"task-{rng.getrandbits(48):012x}"
    return Occurrence(event_type, [f"businessProduct/{merchant['businessProductId']}/personalDataTask/{task}"])
