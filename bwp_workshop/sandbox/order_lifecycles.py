"""What happens to a merchant, as Buy with Prime events tell it: the activity simulator's
scripts. An order's life is a sequence of moves of the order state machine
(``order_machine.py``), the same moves the GraphQL mutations make: placed, started, shipped,
delivered; or cancelled; or returned (a drop-off or a carrier pick-up), graded and refunded by
the merchant. Catalog and privacy occurrences come apart.

Each step moves the order and returns the :class:`Occurrence` s it published. How an occurrence
becomes an event's ``detail`` is in ``event_shapes.py``; the event types are in
``bwp_workshop.names``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from . import order_machine as machine
from .order_machine import Occurrence

Step = Callable[[dict[str, Any], random.Random, float, str], list[Occurrence]]


def _outbound(order: dict[str, Any]) -> str:
    return str(order["packageInformation"]["details"][-1]["id"])


def _return(order: dict[str, Any]) -> dict[str, Any]:
    return dict(order["returns"]["details"][-1])


def _confirm(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
    return machine.confirm(order, bp, now)


def _start_and_ship(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
    machine.start(order, rng, now)
    return machine.move_package(order, bp, _outbound(order), "IN_TRANSIT", None, rng, now)


def _out_for_delivery(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
    return machine.milestone(order, bp, _outbound(order), "OUT_FOR_DELIVERY", now)


def _deliver(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
    return machine.move_package(order, bp, _outbound(order), "DELIVERED", None, rng, now)


def _cancel(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
    machine.start(order, rng, now)
    return machine.move_package(order, bp, _outbound(order), "CANCELLED", "UNFULFILLABLE", rng, now)


def _start_return(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
    return machine.start_return(order, bp, order["lineItems"][0]["id"], rng, now)


def _return_package(state: str, *, failure_event: bool = False) -> Step:
    def step(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
        details = _return(order)
        package_id = details["returnPackageDetails"][-1]["id"]
        return machine.move_return(order, bp, details["id"], package_id, state, rng, now, failure_event=failure_event)

    return step


def _grade(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
    return machine.grade_return(order, bp, _return(order)["id"], rng, now)


def _refund(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
    """The merchant processes the newest refund in full (updateOrder with SUCCESS), as an order
    management system answers REFUND_REQUESTED."""
    refund = order["refunds"]["details"][-1]
    update = {"id": refund["id"], "state": "SUCCESS", "refundTotal": refund["refundTotal"]}
    return machine.update_refunds(order, bp, [update], now)


def _complete_return(order: dict[str, Any], rng: random.Random, now: float, bp: str) -> list[Occurrence]:
    return machine.complete_return(order, bp, _return(order)["id"], now)


_DELIVERED: list[Step] = [_confirm, _start_and_ship, _out_for_delivery, _deliver]
_RETURNED: list[Step] = [
    _start_return,
    _return_package("IN_TRANSIT"),
    _return_package("DELIVERED"),  # with REFUND_REQUESTED, before grading
    _grade,
    _refund,
    _complete_return,
]

#: Order lifecycles: the steps an order walks through, each one or more events. ``placed`` stops
#: at ORDER_CONFIRMED, its fulfilment not started: the rest is the caller's, through the mutations.
LIFECYCLES: dict[str, list[Step]] = {
    "placed": [_confirm],
    "delivered": _DELIVERED,
    "returned": _DELIVERED + _RETURNED,
    "cancelled": [_confirm, _cancel, _refund],
    "return_failed": [
        *_DELIVERED,
        _start_return,
        _return_package("IN_TRANSIT"),
        # Production publishes RETURN_PACKAGE_DELIVERY_FAILED (event-types); BwP's sandbox mutation does not.
        _return_package("FAILED", failure_event=True),
    ],
}


#: The lifecycles a "mixed" simulation draws from: every order to its end.
MIXED = ("delivered", "returned", "cancelled", "return_failed")


def walk(
    order: dict[str, Any], name: str, rng: random.Random, times: list[float], bp: str, *, timed: bool = True
) -> list[Occurrence]:
    """Walk ``order`` through lifecycle ``name``, step ``n`` at ``times[n]``; ``timed``: each
    occurrence keeps its step's time (else it happens when it is published)."""
    published = []
    for step, at in zip(LIFECYCLES[name], times, strict=True):
        for occurrence in step(order, rng, at, bp):
            occurrence.at = at if timed else None
            published.append(occurrence)
    return published


def spread_times(steps: int, start: float, end: float, rng: random.Random) -> list[float]:
    """``steps`` times from ``start``, each a random part of an even share of the way to ``end``."""
    times, at, gap = [], start, (end - start) / steps
    for _ in range(steps):
        times.append(at)
        at = min(end, at + rng.uniform(0.3, 1.0) * gap)
    return times


def lifecycle_types(name: str) -> list[str]:
    """The event types a lifecycle produces, in order (walks a throwaway order)."""
    from .merchants import new_order, seed_merchants

    merchant = seed_merchants(1)[0]
    rng = random.Random(0)
    order = new_order(merchant, rng)
    steps = LIFECYCLES[name]
    return [
        o.type for o in walk(order, name, rng, [float(n) for n in range(len(steps))], merchant["businessProductId"])
    ]


def catalog_occurrence(merchant: dict[str, Any], rng: random.Random, event_type: str) -> Occurrence:
    """BUYABILITY_CHANGED names ``items/<item-id>`` (buyability_changed); INVENTORY_CHANGED names
    ``item-quantities/<item-id>`` (v2024-01-01 inventory_changed). The product id stands for the item id."""
    product = rng.choice(merchant["products"])
    kind = "items" if event_type == "BUYABILITY_CHANGED" else "item-quantities"
    return Occurrence(event_type, [f"businessProduct/{merchant['businessProductId']}/{kind}/{product['id']}"])


def privacy_occurrence(merchant: dict[str, Any], rng: random.Random, event_type: str) -> Occurrence:
    task = f"task-{rng.getrandbits(48):012x}"
    return Occurrence(event_type, [f"businessProduct/{merchant['businessProductId']}/personalDataTask/{task}"])
