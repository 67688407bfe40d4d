"""The order mutations a partner calls, as Buy with Prime's sandbox answers them: each change
is checked at once (a refused one answers its documented error and changes nothing), then made
and its events published, after the documented wait when ``BWP_SANDBOX_ORDER_WAITS`` is
``realistic`` (8 or 2 minutes) and at once by default. The changes themselves are the order
state machine's (``order_machine.py``); the answer is the order as it is when the call returns
(sandbox-mutations-updateorderpackageinformation: "asynchronous, so the response contains the
current order").
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from . import cancellations, order_creation
from . import order_machine as machine
from .api_errors import BwpError, invalid_input
from .event_source import EventSource
from .order_machine import Occurrence
from .shared import Sandbox

_log = logging.getLogger(__name__)

Change = Callable[[dict[str, Any], random.Random, float], list[Occurrence]]


class Orders:
    def __init__(self, sandbox: Sandbox, events: EventSource) -> None:
        self.sandbox = sandbox
        self.events = events
        self._lock = threading.Lock()
        self._rng = random.Random()
        #: Changes waiting for their time (``realistic`` waits), so a test or shutdown can wait.
        self.pending: list[threading.Timer] = []

    def order(self, merchant_id: str, identifier: dict[str, Any]) -> dict[str, Any]:
        """The merchant's order named by an OrderIdentifierInput (``orderId`` or ``alias``)."""
        db = self.sandbox.db
        order_id: str | None = identifier.get("orderId")
        alias: dict[str, Any] = identifier.get("alias") or {}
        if bool(order_id) == bool(alias):
            raise invalid_input("orderIdentifier needs exactly one of orderId or alias")
        found = (
            db.order(merchant_id, order_id)
            if order_id
            else db.orders_by_alias(merchant_id, alias["aliasType"], alias["aliasId"])
        )
        if found is None:
            raise BwpError("ResourceNotFoundError", "The requested order was not found")
        return dict(found)

    # --- the mutations -------------------------------------------------------------------------
    def update_order(self, merchant: dict[str, Any], identifier: dict[str, Any], update: dict[str, Any]) -> dict:
        """updateOrder (order-mutations-updateorder): ``desiredExecutionState: STARTED`` starts
        fulfilment; ``refunds.details`` are the merchant's refund updates. Other fields of
        UpdateOrderInput are not served."""
        order = self.order(merchant["merchantId"], identifier)
        refunds = (update.get("refunds") or {}).get("details") or []
        machine.check_refund_updates(order, refunds)
        bp = merchant["businessProductId"]

        def change(current: dict[str, Any], rng: random.Random, now: float) -> list[Occurrence]:
            published = []
            if update.get("desiredExecutionState") == machine.STARTED:
                published += machine.start(current, rng, now)
            if refunds:
                published += machine.update_refunds(current, bp, refunds, now)
            return published

        return self._change(merchant, order["id"], change, wait=0)

    def update_package_information(
        self, merchant: dict[str, Any], identifier: dict[str, Any], details: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """updateOrderPackageInformation (sandbox-mutations-updateorderpackageinformation): each
        package moved along change-the-state-of-an-outbound-package-in-the-sandbox."""
        order = self.order(merchant["merchantId"], identifier)
        moves = []
        for item in details:
            wanted = (item.get("packageState") or {}).get("packageInformationState") or {}
            if not wanted.get("state"):
                raise invalid_input(f"package {item.get('id')}: packageState.packageInformationState.state is required")
            machine.check_package_change(order, item["id"], wanted["state"], wanted.get("reason"))
            moves.append((item["id"], wanted["state"], wanted.get("reason")))
        if len({package_id for package_id, _, _ in moves}) != len(moves):
            raise invalid_input("each package may be named once (partial quantities are not served by this sandbox)")
        wait = max((machine.package_wait(order, package_id, state) for package_id, state, _ in moves), default=0)
        bp = merchant["businessProductId"]

        def change(current: dict[str, Any], rng: random.Random, now: float) -> list[Occurrence]:
            published = []
            for package_id, state, reason in moves:
                published += machine.move_package(current, bp, package_id, state, reason, rng, now)
            return published

        return self._change(merchant, order["id"], change, wait=wait)

    def update_returns(
        self, merchant: dict[str, Any], identifier: dict[str, Any], details: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """updateOrderReturns (sandbox-mutations-updateorderreturns): each return package moved
        along change-the-state-of-a-return-package-in-the-sandbox."""
        order = self.order(merchant["merchantId"], identifier)
        moves = []
        for item in details:
            return_id = (item.get("returnIdentifier") or {}).get("id")
            if not return_id:
                raise invalid_input("returnIdentifier.id is required")
            for package in item.get("returnPackageDetails") or []:
                machine.check_return_change(order, return_id, package["id"], package["state"])
                moves.append((return_id, package["id"], package["state"]))
        bp = merchant["businessProductId"]

        def change(current: dict[str, Any], rng: random.Random, now: float) -> list[Occurrence]:
            published = []
            for return_id, package_id, state in moves:
                published += machine.move_return(current, bp, return_id, package_id, state, rng, now)
            return published

        return self._change(merchant, order["id"], change, wait=machine.RETURN_WAIT_SECONDS if moves else 0)

    def create_order(self, merchant: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        """createOrder (order-mutations-createorder): the order stored, ORDER_CONFIRMED published
        (order_confirmed), and fulfilment started when ``desiredExecutionState`` is STARTED
        (:mod:`.order_creation`)."""
        merchant_id, bp = merchant["merchantId"], merchant["businessProductId"]
        with self._lock:  # two orders with one alias: the second is refused
            order_creation.check(self.sandbox.db, merchant_id, request)
            now = time.time()
            order = order_creation.build(merchant, request, self._rng, now)
            occurrences = machine.confirm(order, bp, now)
            if request.get("desiredExecutionState") == machine.STARTED:
                occurrences += machine.start(order, self._rng, now)
            self.sandbox.db.save_order(merchant_id, order)
        self.events.publish(merchant_id, occurrences)
        return order

    def cancel_order(self, merchant: dict[str, Any], identifier: dict[str, Any], request: dict[str, Any]) -> dict:
        """cancelOrder (order-mutations-cancelorder): the cancellation request, kept with the order
        (:mod:`.cancellations`)."""
        merchant_id = merchant["merchantId"]
        order_id = self.order(merchant_id, identifier)["id"]
        cancellations.check_request(request)
        with self._lock:
            current = self.sandbox.db.order(merchant_id, order_id)
            assert current is not None
            made = cancellations.cancellation(current, request)
            self.sandbox.db.save_order(merchant_id, current)
        return made

    # --- making a change -----------------------------------------------------------------------
    def _change(self, merchant: dict[str, Any], order_id: str, change: Change, *, wait: int) -> dict[str, Any]:
        """Make ``change`` now, or after ``wait`` seconds with realistic waits; the order as it
        is now."""
        merchant_id = merchant["merchantId"]
        if self.sandbox.config.order_waits == "realistic" and wait:
            timer = threading.Timer(wait, self._apply, (merchant_id, order_id, change))
            timer.daemon = True
            self.pending.append(timer)
            timer.start()
        else:
            self._apply(merchant_id, order_id, change)
        current = self.sandbox.db.order(merchant_id, order_id)
        assert current is not None
        return current

    def _apply(self, merchant_id: str, order_id: str, change: Change) -> list[dict[str, Any]]:
        """Change the stored order and publish what the change published; the ledger entries."""
        with self._lock:
            order = self.sandbox.db.order(merchant_id, order_id)
            if order is None:
                return []
            try:
                occurrences = change(order, self._rng, time.time())
            except BwpError as error:  # another change came first (only with waits)
                _log.warning("order %s: a delayed change was refused when due: %s", order_id, error)
                return []
            self.sandbox.db.save_order(merchant_id, order)
        return self.events.publish(merchant_id, occurrences)
