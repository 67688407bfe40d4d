"""An order's state machine, as Buy with Prime's sandbox drives it: the execution state, the
outbound packages, the return packages and the refunds, each moved only along the documented
transitions, each transition publishing exactly the events its page lists. The GraphQL
mutations (``updateOrder``, ``updateOrderPackageInformation``, ``updateOrderReturns``) and the
activity simulator (``order_lifecycles.py``) both move orders through these functions, so they
cannot disagree.

Pages (documents.buywithprime.amazon.com/bwp-api/docs/<slug>):

* change-the-state-of-an-outbound-package-in-the-sandbox: ``PACKAGE_TRANSITIONS``;
* change-the-state-of-a-return-package-in-the-sandbox: ``RETURN_TRANSITIONS``;
* order-objects-refundstateinput and (the only table read) v2024-01-01 update-refund-details:
  ``REFUND_TRANSITIONS``; order-objects-refunddetailsinput: what a refund update carries;
* troubleshoot-sandbox-errors, troubleshoot-refund-errors: the error codes;
* order-objects-orderexecutionstateinput: NOT_STARTED, STARTED.

Each function changes the order in place and returns the :class:`Occurrence` s (event type and
resources) it published, in order. A refused change raises ``BwpError`` and changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .api_errors import BwpError, invalid_input
from .merchants import iso, line_value, money

#: Execution states (order-objects-orderexecutionstateinput).
NOT_STARTED, STARTED = "NOT_STARTED", "STARTED"

#: Outbound package transitions: (current, next) -> (events, the documented wait in seconds,
#: the cancellation reasons allowed). CANCELLED and DELIVERED are terminal.
PACKAGE_TRANSITIONS: dict[tuple[str, str], tuple[tuple[str, ...], int, frozenset[str]]] = {
    ("PENDING", "CANCELLED"): (
        ("PACKAGE_DELIVERY_CANCELLED", "REFUND_REQUESTED"),
        8 * 60,
        frozenset({"UNFULFILLABLE", "CUSTOMER_REQUESTED"}),
    ),
    ("PENDING", "IN_TRANSIT"): (("PACKAGE_DELIVERY_IN_TRANSIT",), 8 * 60, frozenset()),
    ("IN_TRANSIT", "CANCELLED"): (
        ("PACKAGE_DELIVERY_CANCELLED", "REFUND_REQUESTED"),
        2 * 60,
        frozenset({"UNDELIVERABLE"}),
    ),
    ("IN_TRANSIT", "DELIVERED"): (("PACKAGE_DELIVERED",), 2 * 60, frozenset()),
}
#: Return package transitions: (current, next) -> events (each waits 2 minutes on BwP). BwP's
#: sandbox publishes nothing for IN_TRANSIT -> FAILED; FAILED and DELIVERED are terminal.
RETURN_TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("CREATED", "IN_TRANSIT"): ("RETURN_PACKAGE_IN_TRANSIT",),
    ("CREATED", "DROPPED_OFF"): ("REFUND_REQUESTED",),
    ("DROPPED_OFF", "IN_TRANSIT"): ("RETURN_PACKAGE_IN_TRANSIT",),
    ("IN_TRANSIT", "DELIVERED"): ("RETURN_PACKAGE_DELIVERED", "REFUND_REQUESTED"),
    ("IN_TRANSIT", "FAILED"): (),
}
RETURN_WAIT_SECONDS = 2 * 60
#: Refund states a refund update may move to, from each state (REJECTED is in the enum but in
#: no transition table).
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    "PENDING": frozenset({"PENDING", "PARTIAL", "FAILURE", "SUCCESS"}),
    "FAILURE": frozenset({"PARTIAL", "FAILURE", "SUCCESS"}),
    "PARTIAL": frozenset({"PARTIAL", "SUCCESS"}),
    "SUCCESS": frozenset({"SUCCESS"}),
}
#: The failure reason BwP's sandbox records, whatever is sent (test-in-a-sandbox-environment).
SANDBOX_RETURN_FAILURE_REASON = "UNDELIVERABLE"


@dataclass
class Occurrence:
    """One thing that happened to a merchant: an event type and the resources it names."""

    type: str
    resources: list[str]
    order_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: When it happened (epoch seconds); None: when it is published.
    at: float | None = None


def order_path(bp: str, order: dict[str, Any]) -> str:
    return f"businessProduct/{bp}/order/{order['id']}"


def _touch(order: dict[str, Any], now: float) -> None:
    order["metadata"]["updatedAt"] = iso(now)


def _snapshot(order: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An event's ``data``: the order's id and aliases, and what the event page adds."""
    return {"order": {"id": order["id"], "aliases": order["aliases"], **more}}


def _confirmed_snapshot(order: dict[str, Any]) -> dict[str, Any]:
    """order_confirmed's ``data`` (its webhook schema, read up to the line items' product):
    ``metadata`` and ``customer`` are lists there, as the page shows them."""
    metadata = order["metadata"]
    lines = [
        {"id": line["id"], "amount": line["amount"],
         "product": {"amazonSku": line["product"].get("amazonSku"), "externalId": line["product"].get("externalId")}}
        for line in order["lineItems"]
    ]  # fmt: skip
    return _snapshot(
        order,
        metadata=[{"createdAt": metadata["createdAt"], "executionState": metadata["executionState"]}],
        customer=[{"contact": order["customer"]["contact"]}],
        lineItems=lines,
    )


def _milestone(code: str, now: float) -> dict[str, Any]:
    """A package milestone (tracking-queries-packagetracker): a PackageMilestoneStatus code."""
    message = {"locale": "en-US", "value": code.replace("_", " ").capitalize()}
    return {"status": {"code": code, "message": message}, "occurredAt": iso(now)}


def new_tracker(rng: random.Random) -> dict[str, Any]:
    return {
        "packageTrackerIdentifier": {"carrierCode": "UPS", "trackingNumber": f"1Z{rng.getrandbits(40):010X}"},
        "milestones": [],
    }


def track(tracker: dict[str, Any], code: str, now: float) -> None:
    tracker["milestones"].append(_milestone(code, now))


# --- the order -----------------------------------------------------------------------------------
def confirm(order: dict[str, Any], bp: str, now: float) -> list[Occurrence]:
    """The order was placed (order_confirmed)."""
    _touch(order, now)
    return [Occurrence("ORDER_CONFIRMED", [order_path(bp, order)], order["id"], _confirmed_snapshot(order))]


def start(order: dict[str, Any], rng: random.Random, now: float) -> list[Occurrence]:
    """``desiredExecutionState: STARTED`` (update-a-buy-with-prime-order): fulfilment starts; the
    whole order becomes one PENDING package (how BwP splits packages is not documented). Again:
    nothing changes. Publishes nothing: the pages list no event for it."""
    if order["metadata"]["executionState"] == STARTED:
        return []
    order["metadata"]["executionState"] = STARTED
    package = {"id": f"pkg-{rng.getrandbits(48):012x}", "state": "PENDING", "packageTracker": new_tracker(rng)}
    order["packageInformation"]["details"].append(package)
    _touch(order, now)
    return []


# --- outbound packages ---------------------------------------------------------------------------
def package(order: dict[str, Any], package_id: str) -> dict[str, Any]:
    for found in order["packageInformation"]["details"]:
        if found["id"] == package_id:
            return dict(found)
    raise invalid_input(f"no package {package_id!r} in this order", code="PackageInformationDetailIdNotFound")


def check_package_change(order: dict[str, Any], package_id: str, state: str, reason: str | None) -> None:
    """Refuse what updateOrderPackageInformation refuses (troubleshoot-sandbox-errors)."""
    current = package(order, package_id)["state"]
    if state == "CANCELLED" and not reason:
        raise invalid_input("a reason is required to cancel a package", code="MissingCancellationReason")
    transition = PACKAGE_TRANSITIONS.get((current, state))
    if transition is None or (reason and state == "CANCELLED" and reason not in transition[2]):
        allowed = sorted(f"{a}->{b}" for a, b in PACKAGE_TRANSITIONS if a == current) or ["none: a terminal state"]
        raise invalid_input(
            f"package {package_id} cannot go from {current} to {state}{f' ({reason})' if reason else ''}; "
            f"allowed: {', '.join(allowed)}",
            code="InvalidPackageDeliveryDetailStateTransition",
        )


def package_wait(order: dict[str, Any], package_id: str, state: str) -> int:
    """The documented wait before a package change shows (seconds)."""
    return PACKAGE_TRANSITIONS[(package(order, package_id)["state"], state)][1]


def move_package(
    order: dict[str, Any], bp: str, package_id: str, state: str, reason: str | None, rng: random.Random, now: float
) -> list[Occurrence]:
    """A checked package change and the events its row lists (a cancellation also requests a
    refund of the package's value)."""
    check_package_change(order, package_id, state, reason)
    target = next(found for found in order["packageInformation"]["details"] if found["id"] == package_id)
    events = PACKAGE_TRANSITIONS[(target["state"], state)][0]
    target["state"] = state
    if state == "CANCELLED":
        target["reason"] = reason
    elif target.get("packageTracker") is not None:
        track(target["packageTracker"], state, now)
    _touch(order, now)
    path = f"{order_path(bp, order)}/delivery/{package_id}"
    published = [Occurrence(events[0], [path], order["id"])]
    if "REFUND_REQUESTED" in events:
        published.append(request_refund(order, bp, order["lineItems"], rng, now))
    return published


def milestone(order: dict[str, Any], bp: str, package_id: str, code: str, now: float) -> list[Occurrence]:
    """A carrier milestone on an outbound package's tracker (package_tracker_milestone_changed:
    the resource names the carrier and the tracking number, not the order)."""
    target = next(found for found in order["packageInformation"]["details"] if found["id"] == package_id)
    tracker = target["packageTracker"]
    track(tracker, code, now)
    _touch(order, now)
    identifier = tracker["packageTrackerIdentifier"]
    path = f"businessProduct/{bp}/carrier/{identifier['carrierCode']}/tracker/{identifier['trackingNumber']}"
    return [Occurrence("PACKAGE_TRACKER_MILESTONE_CHANGED", [path])]  # the event names no order


# --- returns -------------------------------------------------------------------------------------
def _return_details(order: dict[str, Any], return_id: str) -> dict[str, Any]:
    for found in order["returns"]["details"]:
        if found["id"] == return_id:
            return dict(found)
    raise BwpError("ResourceNotFoundError", f"no return {return_id!r} in this order")


def start_return(order: dict[str, Any], bp: str, line_item_id: str, rng: random.Random, now: float) -> list[Occurrence]:
    """A shopper starts a return of one line item (return_started: typically from Buy with
    Prime's own pages; the API documents no mutation for it)."""
    details = {
        "id": f"ret-{rng.getrandbits(48):012x}",
        "state": "CREATED",
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "returnPackageDetails": [
            {"id": f"rpkg-{rng.getrandbits(48):012x}", "state": "CREATED", "packageTracker": new_tracker(rng)}
        ],
        "_lineItemIds": [line_item_id],
    }
    order["returns"]["details"].append(details)
    _touch(order, now)
    return [Occurrence("RETURN_STARTED", [f"{order_path(bp, order)}/return/{details['id']}"], order["id"])]


def check_return_change(order: dict[str, Any], return_id: str, package_id: str, state: str) -> None:
    details = _return_details(order, return_id)
    current = next((p["state"] for p in details["returnPackageDetails"] if p["id"] == package_id), None)
    if current is None:
        raise BwpError("ResourceNotFoundError", f"no return package {package_id!r} in return {return_id}")
    if (current, state) not in RETURN_TRANSITIONS:
        allowed = sorted(f"{a}->{b}" for a, b in RETURN_TRANSITIONS if a == current) or ["none: a terminal state"]
        raise invalid_input(
            f"return package {package_id} cannot go from {current} to {state}; allowed: {', '.join(allowed)}"
        )


def move_return(
    order: dict[str, Any],
    bp: str,
    return_id: str,
    package_id: str,
    state: str,
    rng: random.Random,
    now: float,
    *,
    failure_event: bool = False,
) -> list[Occurrence]:
    """A checked return package change and the events its row lists. A drop-off or a delivery
    requests the return's refund (once; the second request names the same refund).
    ``failure_event``: publish RETURN_PACKAGE_DELIVERY_FAILED on FAILED, as production does
    (event-types); BwP's sandbox publishes nothing there."""
    check_return_change(order, return_id, package_id, state)
    details = next(found for found in order["returns"]["details"] if found["id"] == return_id)
    target = next(p for p in details["returnPackageDetails"] if p["id"] == package_id)
    events = RETURN_TRANSITIONS[(target["state"], state)]
    target["state"] = state
    if state == "FAILED":
        target["reason"] = SANDBOX_RETURN_FAILURE_REASON
        events = ("RETURN_PACKAGE_DELIVERY_FAILED",) if failure_event else ()
    track(target["packageTracker"], "UNDELIVERABLE" if state == "FAILED" else state, now)
    details["updatedAt"] = iso(now)
    _touch(order, now)
    path = f"{order_path(bp, order)}/return/{return_id}"
    published = [Occurrence(event, [path], order["id"]) for event in events if event != "REFUND_REQUESTED"]
    if "REFUND_REQUESTED" in events:
        refund_id = details.get("_refundId")
        if refund_id is None:
            lines = [line for line in order["lineItems"] if line["id"] in details["_lineItemIds"]]
            requested = request_refund(order, bp, lines, rng, now)
            details["_refundId"] = requested.resources[0].rsplit("/", 1)[1]
            published.append(requested)
        else:
            published.append(_refund_occurrence(order, bp, refund_id))
    return published


def grade_return(order: dict[str, Any], bp: str, return_id: str, rng: random.Random, now: float) -> list[Occurrence]:
    """The returned item was graded at the fulfilment center (return_item_graded)."""
    details = next(found for found in order["returns"]["details"] if found["id"] == return_id)
    details["_grade"] = rng.choice(["SELLABLE", "DEFECTIVE", "DAMAGED"])  # sandbox-objects-conditionunits
    _touch(order, now)
    return [Occurrence("RETURN_ITEM_GRADED", [f"{order_path(bp, order)}/return/{return_id}"], order["id"])]


def complete_return(order: dict[str, Any], bp: str, return_id: str, now: float) -> list[Occurrence]:
    """The return completed (return_completed; no sandbox mutation publishes it)."""
    details = next(found for found in order["returns"]["details"] if found["id"] == return_id)
    details["state"] = "COMPLETED"
    details["updatedAt"] = iso(now)
    _touch(order, now)
    # return_completed's ``data``: the order's returns (its page is cut after a return's createdAt).
    returned = {key: details[key] for key in ("id", "state", "createdAt", "updatedAt")}
    data = _snapshot(order, returns={"details": [returned]})
    return [Occurrence("RETURN_COMPLETED", [f"{order_path(bp, order)}/return/{return_id}"], order["id"], data)]


# --- refunds -------------------------------------------------------------------------------------
def _refund_occurrence(order: dict[str, Any], bp: str, refund_id: str) -> Occurrence:
    """REFUND_REQUESTED: refund_requested's ``data`` has the order's ``refunds`` as an object (its
    page is cut inside it; the ``details`` list is the Refunds object's, sandbox-objects-refunds)."""
    refund = next(found for found in order["refunds"]["details"] if found["id"] == refund_id)
    data = _snapshot(order, refunds={"details": [dict(refund)]})
    return Occurrence("REFUND_REQUESTED", [f"{order_path(bp, order)}/refund/{refund_id}"], order["id"], data)


def request_refund(
    order: dict[str, Any], bp: str, lines: list[dict[str, Any]], rng: random.Random, now: float
) -> Occurrence:
    """A PENDING refund of ``lines``, its estimated total their value (sandbox-objects-refundtotal:
    "before a refund update is provided, amount applicable is the estimated refund amount")."""
    refund_id = f"ref-{rng.getrandbits(48):012x}"
    refund = {
        "id": refund_id,
        "state": "PENDING",
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "refundTotal": {"totalAmount": money(sum(line_value(line) for line in lines))},
    }
    order["refunds"]["details"].append(refund)
    _touch(order, now)
    return _refund_occurrence(order, bp, refund_id)


def check_refund_updates(order: dict[str, Any], updates: list[dict[str, Any]]) -> None:
    """Refuse what updateOrder refuses for refunds (troubleshoot-refund-errors)."""
    seen: set[str] = set()
    refunds = {refund["id"]: refund for refund in order["refunds"]["details"]}
    for update in updates:
        refund_id = update.get("id")
        if not refund_id:
            raise invalid_input("each refund update needs the refund's id", code="MissingRefundId")
        if refund_id in seen:
            raise invalid_input(f"refund {refund_id} is updated twice in one call", code="DuplicateRefundId")
        seen.add(refund_id)
        if refund_id not in refunds:
            raise invalid_input(f"no refund {refund_id!r} in this order", code="InvalidRefundId")
        state = update.get("state")
        current = refunds[refund_id]["state"]
        if state and state not in REFUND_TRANSITIONS.get(current, frozenset()):
            raise invalid_input(
                f"refund {refund_id} cannot go from {current} to {state}", code="InvalidRefundStateTransition"
            )


def update_refunds(order: dict[str, Any], bp: str, updates: list[dict[str, Any]], now: float) -> list[Occurrence]:
    """The merchant's refund updates (order-objects-refunddetailsinput): the state and the
    cumulative ``refundTotal``. A refund that reaches SUCCESS publishes REFUND_COMPLETED once
    (refund_completed: "after funds are returned to the customer"; which update triggers it is
    not documented)."""
    check_refund_updates(order, updates)
    published: list[Occurrence] = []
    for update in updates:
        refund = next(found for found in order["refunds"]["details"] if found["id"] == update["id"])
        was = refund["state"]
        if update.get("state"):
            refund["state"] = update["state"]
        total = (update.get("refundTotal") or {}).get("totalAmount")
        if total:  # cumulative: what has been refunded so far
            currency = total.get("currencyCode") or refund["refundTotal"]["totalAmount"]["currencyCode"]
            refund["refundTotal"] = {
                "totalAmount": {"amount": round(float(total["amount"]), 2), "currencyCode": currency}
            }
        if update.get("refundStatusReason"):
            refund["refundStatusReason"] = update["refundStatusReason"]
        refund["updatedAt"] = iso(now)
        if refund["state"] == "SUCCESS" and was != "SUCCESS":
            # refund_completed's ``data``: ``refunds`` a list of ``{details}`` there, as the page shows it.
            data = _snapshot(order, refunds=[{"details": dict(refund)}])
            path = f"{order_path(bp, order)}/refund/{refund['id']}"
            published.append(Occurrence("REFUND_COMPLETED", [path], order["id"], data))
    _touch(order, now)
    return published
