"""cancelOrder (order-mutations-cancelorder, cancel-a-buy-with-prime-order,
order-objects-cancelorderinput): a whole-order cancellation request answered PENDING, requested
by the MERCHANT, for every line item; the reason written as an enum value or a string; at most
five aliases; an unknown order not found. The order is otherwise left as it is, and nothing is
published (no page read lists an event for it)."""

from __future__ import annotations

from typing import Any

from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import new_flow
from tests.sandbox.graphql_api import Api, classification

CANCEL = """mutation($id: String!, $input: CancelOrderInput) {
  cancelOrder(orderIdentifier: {orderId: $id}, input: $input) {
    cancellation { id state reason additionalComments requestedBy aliases { aliasType aliasId }
                   canceledFor { orderLineItems { lineItem { id } amount { value unit } } } } } }"""
CANCEL_LITERAL = """mutation($id: String!) {
  cancelOrder(orderIdentifier: {orderId: $id}, input: {reason: "ORDERED_BY_MISTAKE"}) { cancellation { reason } } }"""
ORDER = """query($id: String!) { order(orderIdentifier: {orderId: $id}) {
  lineItems { id amount { value } } packageInformation { summary { state } } } }"""


def _placed(sandbox: SandboxHandle) -> tuple[Api, str]:
    api = Api(new_flow(sandbox))
    placed = sandbox.client.emit(orders=1, lifecycle="placed", installation_id=api.installation_id)
    return api, str(placed["orders"][0]["order_id"])


def test_a_cancellation_is_requested_for_the_whole_order(sandbox_app: SandboxHandle) -> None:
    api, order_id = _placed(sandbox_app)
    before = api(ORDER, {"id": order_id})["data"]["order"]
    published = len(sandbox_app.client.ledger())
    aliases = [{"aliasType": "EXT_CANCEL_ID", "aliasId": "cancel-1"}]
    request = {"aliases": aliases, "reason": "OUT_OF_STOCK", "additionalComments": "gone"}
    answer = api(CANCEL, {"id": order_id, "input": request})
    cancellation: dict[str, Any] = answer["data"]["cancelOrder"]["cancellation"]
    assert (cancellation["state"], cancellation["requestedBy"], cancellation["reason"]) == (
        "PENDING",
        "MERCHANT",
        "OUT_OF_STOCK",
    )
    assert cancellation["aliases"] == aliases and cancellation["additionalComments"] == "gone"
    lines = cancellation["canceledFor"]["orderLineItems"]
    assert [(line["lineItem"]["id"], line["amount"]["value"]) for line in lines] == [
        (item["id"], item["amount"]["value"]) for item in before["lineItems"]
    ]
    assert api(ORDER, {"id": order_id})["data"]["order"] == before  # left as it is
    assert len(sandbox_app.client.ledger()) == published  # nothing published
    assert api(CANCEL_LITERAL, {"id": order_id})["data"]["cancelOrder"]["cancellation"]["reason"] == (
        "ORDERED_BY_MISTAKE"
    )  # the string spelling of cancel-a-buy-with-prime-order


def test_a_bad_cancellation_is_refused(sandbox_app: SandboxHandle) -> None:
    api, order_id = _placed(sandbox_app)
    six = [{"aliasType": "EXT_CANCEL_ID", "aliasId": f"c-{n}"} for n in range(6)]
    assert classification(api(CANCEL, {"id": order_id, "input": {"aliases": six}})) == "ValidationError"
    assert classification(api(CANCEL, {"id": order_id, "input": {"reason": "BORED"}})) == "ValidationError"
    assert classification(api(CANCEL, {"id": "no-such-order"})) == "ResourceNotFoundError"
