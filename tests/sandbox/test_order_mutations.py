"""Orders as Buy with Prime's sandbox drives them: updateOrder (fulfilment started, refund
updates), updateOrderPackageInformation and updateOrderReturns move an order only along the
documented transitions (change-the-state-of-an-outbound-package-in-the-sandbox,
change-the-state-of-a-return-package-in-the-sandbox, v2024-01-01 update-refund-details), each
publishing exactly the events its row lists; a refused change answers its documented error code
(troubleshoot-sandbox-errors, troubleshoot-refund-errors) and changes nothing."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bwp_workshop import names
from bwp_workshop.sandbox import order_machine
from bwp_workshop.sandbox.shared import Sandbox
from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import new_flow
from tests.sandbox.graphql_api import SUBSCRIBE, Api

ORDER = """query($id: String!) { order(orderIdentifier: {orderId: $id}) {
  metadata { executionState }
  packageInformation { summary { state } details { id state reason } }
  returns { details { id state returnPackageDetails { id state reason } } }
  refunds { details { id state refundTotal { totalAmount { amount currencyCode } } } } } }"""
START = """mutation($id: String!) {
  updateOrder(orderIdentifier: {orderId: $id}, input: {desiredExecutionState: STARTED}) { order { id } } }"""
PACKAGE = """mutation($id: String!, $package: ID!, $state: PackageInformationDetailsStateInput!,
                     $reason: PackageInformationDetailsReasonInput) {
  updateOrderPackageInformation(orderIdentifier: {orderId: $id}, input: {packageInformation: {details: [
    {id: $package, packageState: {packageInformationState: {state: $state, reason: $reason}}}]}}) { order { id } } }"""
RETURN = """mutation($id: String!, $return: ID!, $package: ID!, $state: ReturnPackageDetailsStateInput!) {
  updateOrderReturns(orderIdentifier: {orderId: $id}, input: {returns: {details: [
    {returnIdentifier: {id: $return}, returnPackageDetails: [{id: $package, state: $state}]}]}}) { order { id } } }"""
REFUNDS = """mutation($id: String!, $refunds: [RefundDetailsInput!]) {
  updateOrder(orderIdentifier: {orderId: $id}, input: {refunds: {details: $refunds}}) { order { id } } }"""


class Shop:
    """An installed app's merchant, subscribed to every event type, with a placed order."""

    def __init__(self, sandbox: SandboxHandle) -> None:
        self.api = Api(new_flow(sandbox))
        self.sandbox = sandbox
        destination = {"eventBridge": {"partnerEventSource": {"account": "123456789012", "name": "shop"},
                                       "region": "us-east-1"}}  # fmt: skip
        for event_type in names.EVENT_TYPES:
            assert "errors" not in self.api(SUBSCRIBE, {"input": {"eventType": event_type, "destination": destination}})
        placed = sandbox.client.emit(orders=1, lifecycle="placed", installation_id=self.api.installation_id)
        self.order_id = placed["orders"][0]["order_id"]
        self.seen = len(sandbox.client.ledger())

    def order(self) -> dict[str, Any]:
        return dict(self.api(ORDER, {"id": self.order_id})["data"]["order"])

    def call(self, document: str, **variables: Any) -> dict[str, Any]:
        return self.api(document, {"id": self.order_id, **variables})

    def published(self) -> list[tuple[str, str]]:
        """(type, resource kind path after the order) of what was published since the last look."""
        ledger = self.sandbox.client.ledger()
        new, self.seen = ledger[self.seen :], len(ledger)
        return [(entry["type"], "/".join(entry["resources"][0].split("/")[4:6])) for entry in new]

    def package(self) -> str:
        return str(self.order()["packageInformation"]["details"][0]["id"])


@pytest.fixture
def shop(sandbox_app: SandboxHandle, events_in_process: None) -> Shop:
    return Shop(sandbox_app)


def code(body: dict[str, Any]) -> str | None:
    assert body["data"] is not None and list(body["data"].values()) == [None], body
    return body["errors"][0]["extensions"]["classification"].get("code")


def test_a_placed_order_waits_for_the_merchant_to_start_it(shop: Shop) -> None:
    assert shop.order()["metadata"]["executionState"] == "NOT_STARTED"
    assert shop.order()["packageInformation"] == {"summary": {"state": "PENDING"}, "details": []}
    missing = shop.call(PACKAGE, package="pkg-nope", state="IN_TRANSIT")
    assert code(missing) == "PackageInformationDetailIdNotFound"
    assert "errors" not in shop.call(START)
    order = shop.order()
    assert order["metadata"]["executionState"] == "STARTED"
    assert [p["state"] for p in order["packageInformation"]["details"]] == ["PENDING"]
    assert shop.published() == []  # starting publishes nothing
    assert "errors" not in shop.call(START)  # again: nothing changes
    assert len(shop.order()["packageInformation"]["details"]) == 1


@pytest.mark.parametrize(
    ("state", "reason", "error"),
    [
        ("DELIVERED", None, "InvalidPackageDeliveryDetailStateTransition"),  # not from PENDING
        ("CANCELLED", None, "MissingCancellationReason"),
        ("CANCELLED", "UNDELIVERABLE", "InvalidPackageDeliveryDetailStateTransition"),  # only from IN_TRANSIT
    ],
)
def test_a_package_change_off_the_table_is_refused(shop: Shop, state: str, reason: str | None, error: str) -> None:
    shop.call(START)
    before = shop.order()
    assert code(shop.call(PACKAGE, package=shop.package(), state=state, reason=reason)) == error
    assert shop.order() == before and shop.published() == []


def test_shipped_then_delivered_each_publish_their_event(shop: Shop) -> None:
    shop.call(START)
    package = shop.package()
    assert "errors" not in shop.call(PACKAGE, package=package, state="IN_TRANSIT")
    assert shop.published() == [("PACKAGE_DELIVERY_IN_TRANSIT", f"delivery/{package}")]
    assert shop.order()["packageInformation"]["summary"] == {"state": "IN_TRANSIT"}
    assert "errors" not in shop.call(PACKAGE, package=package, state="DELIVERED")
    assert shop.published() == [("PACKAGE_DELIVERED", f"delivery/{package}")]
    # DELIVERED is terminal.
    assert (
        code(shop.call(PACKAGE, package=package, state="IN_TRANSIT")) == "InvalidPackageDeliveryDetailStateTransition"
    )


def test_a_cancelled_package_requests_a_refund_the_merchant_then_processes(shop: Shop) -> None:
    shop.call(START)
    package = shop.package()
    shop.call(PACKAGE, package=package, state="IN_TRANSIT")
    shop.published()
    assert "errors" not in shop.call(PACKAGE, package=package, state="CANCELLED", reason="UNDELIVERABLE")
    (refund,) = shop.order()["refunds"]["details"]
    assert refund["state"] == "PENDING"
    assert shop.published() == [
        ("PACKAGE_DELIVERY_CANCELLED", f"delivery/{package}"),
        ("REFUND_REQUESTED", f"refund/{refund['id']}"),
    ]
    assert shop.order()["packageInformation"]["details"][0]["reason"] == "UNDELIVERABLE"

    total = refund["refundTotal"]
    assert code(shop.call(REFUNDS, refunds=[{"state": "SUCCESS", "refundTotal": total}])) == "MissingRefundId"
    assert code(shop.call(REFUNDS, refunds=[{"id": "ref-nope", "refundTotal": total}])) == "InvalidRefundId"
    twice = [{"id": refund["id"], "refundTotal": total}] * 2
    assert code(shop.call(REFUNDS, refunds=twice)) == "DuplicateRefundId"
    part = {"amount": 4.0, "currencyCode": "USD"}
    assert "errors" not in shop.call(REFUNDS, refunds=[{"id": refund["id"], "state": "PARTIAL",
                                                        "refundTotal": {"totalAmount": part}}])  # fmt: skip
    assert shop.order()["refunds"]["details"][0]["refundTotal"] == {"totalAmount": part}
    back = [{"id": refund["id"], "state": "PENDING", "refundTotal": total}]
    assert code(shop.call(REFUNDS, refunds=back)) == "InvalidRefundStateTransition"
    assert shop.published() == []  # a partial refund completes nothing
    done = [{"id": refund["id"], "state": "SUCCESS", "refundTotal": total}]
    assert "errors" not in shop.call(REFUNDS, refunds=done)
    assert shop.published() == [("REFUND_COMPLETED", f"refund/{refund['id']}")]
    assert "errors" not in shop.call(REFUNDS, refunds=done)  # SUCCESS -> SUCCESS: no second completion
    assert shop.published() == []


def _returned(shop: Shop, sandbox: SandboxHandle) -> tuple[str, str]:
    """A delivered order with a return started by the shopper (no API starts one): its return
    and return package ids."""
    shop.call(START)
    package = shop.package()
    shop.call(PACKAGE, package=package, state="IN_TRANSIT")
    shop.call(PACKAGE, package=package, state="DELIVERED")
    core: Sandbox = sandbox.app.state.sandbox
    merchant = sandbox.client.merchants()[0]
    order = core.db.order(merchant["merchantId"], shop.order_id)
    assert order is not None
    order_machine.start_return(order, merchant["businessProductId"], order["lineItems"][0]["id"], random.Random(1), 0.0)
    core.db.save_order(merchant["merchantId"], order)
    shop.published()
    details = order["returns"]["details"][0]
    return details["id"], details["returnPackageDetails"][0]["id"]


def test_a_dropped_off_return_requests_its_refund_once_and_names_it_again_on_delivery(
    shop: Shop, sandbox_app: SandboxHandle
) -> None:
    return_id, package = _returned(shop, sandbox_app)
    assert "errors" not in shop.call(RETURN, **{"return": return_id, "package": package, "state": "DROPPED_OFF"})
    (refund,) = shop.order()["refunds"]["details"]
    assert shop.published() == [("REFUND_REQUESTED", f"refund/{refund['id']}")]
    assert "errors" not in shop.call(RETURN, **{"return": return_id, "package": package, "state": "IN_TRANSIT"})
    assert shop.published() == [("RETURN_PACKAGE_IN_TRANSIT", f"return/{return_id}")]
    assert "errors" not in shop.call(RETURN, **{"return": return_id, "package": package, "state": "DELIVERED"})
    assert shop.published() == [
        ("RETURN_PACKAGE_DELIVERED", f"return/{return_id}"),
        ("REFUND_REQUESTED", f"refund/{refund['id']}"),
    ]
    assert len(shop.order()["refunds"]["details"]) == 1
    refused = shop.call(RETURN, **{"return": return_id, "package": package, "state": "FAILED"})  # terminal
    assert code(refused) == "ValidationError"


def test_a_failed_return_publishes_nothing_and_records_undeliverable(shop: Shop, sandbox_app: SandboxHandle) -> None:
    return_id, package = _returned(shop, sandbox_app)
    shop.call(RETURN, **{"return": return_id, "package": package, "state": "IN_TRANSIT"})
    shop.published()
    assert "errors" not in shop.call(RETURN, **{"return": return_id, "package": package, "state": "FAILED"})
    assert shop.published() == []  # BwP's sandbox lists no event for IN_TRANSIT -> FAILED
    (details,) = shop.order()["returns"]["details"]
    assert details["returnPackageDetails"] == [{"id": package, "state": "FAILED", "reason": "UNDELIVERABLE"}]


def test_with_realistic_waits_a_change_shows_after_the_documented_wait(shop: Shop, sandbox_app: SandboxHandle) -> None:
    sandbox_app.client.update_config(order_waits="realistic")
    orders = sandbox_app.app.state.orders
    shop.call(START)  # no wait: starting is not a package move
    package = shop.package()
    assert "errors" not in shop.call(PACKAGE, package=package, state="IN_TRANSIT")
    assert shop.order()["packageInformation"]["details"][0]["state"] == "PENDING"  # not yet
    (timer,) = orders.pending
    timer.cancel()
    assert timer.interval == 8 * 60  # from PENDING: 8 minutes
    timer.function(*timer.args)  # the wait is over
    assert shop.order()["packageInformation"]["details"][0]["state"] == "IN_TRANSIT"
    assert shop.published() == [("PACKAGE_DELIVERY_IN_TRANSIT", f"delivery/{package}")]


TRACKER = """query($carrier: String!, $number: String!) {
  packageTracker(packageTrackerInput: {packageTrackerIdentifier: {carrierCode: $carrier, trackingNumber: $number}}) {
    packageTrackerIdentifier { carrierCode trackingNumber }
    latestMilestone { status { code } }
    milestones { occurredAt } } }"""


def test_the_tracker_a_milestone_event_names_is_found_by_packagetracker(sandbox_app: SandboxHandle) -> None:
    """PACKAGE_TRACKER_MILESTONE_CHANGED names carrier/<code>/tracker/<number>
    (package_tracker_milestone_changed); packageTracker (tracking-queries-packagetracker) answers it."""
    api = Api(new_flow(sandbox_app))
    result = sandbox_app.client.emit(orders=1, lifecycle="delivered", installation_id=api.installation_id, seed=2)
    order = api("query($id: String!) { order(orderIdentifier: {orderId: $id}) { packageInformation { details { "
                "packageTracker { packageTrackerIdentifier { carrierCode trackingNumber } } } } } }",
                {"id": result["orders"][0]["order_id"]})["data"]["order"]  # fmt: skip
    identifier = order["packageInformation"]["details"][0]["packageTracker"]["packageTrackerIdentifier"]
    found = api(TRACKER, {"carrier": identifier["carrierCode"], "number": identifier["trackingNumber"]})
    tracker = found["data"]["packageTracker"]
    assert tracker["packageTrackerIdentifier"] == identifier
    assert tracker["latestMilestone"] == {"status": {"code": "DELIVERED"}} and len(tracker["milestones"]) == 3
    missing = api(TRACKER, {"carrier": "UPS", "number": "1Z-NOT-A-PACKAGE"})
    assert missing["data"] == {"packageTracker": None}
    assert missing["errors"][0]["extensions"]["classification"]["type"] == "ResourceNotFoundError"


def test_an_update_naming_no_package_changes_nothing(shop: Shop) -> None:
    body = shop.api(
        "mutation($id: String!) { updateOrderPackageInformation(orderIdentifier: {orderId: $id}, "
        "input: {packageInformation: {details: []}}) { order { id } } }",
        {"id": shop.order_id},
    )
    assert "errors" not in body and body["data"]["updateOrderPackageInformation"]["order"]["id"] == shop.order_id
    assert shop.published() == []
