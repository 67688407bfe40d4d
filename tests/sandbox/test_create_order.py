"""createOrder (order-mutations-createorder, order-objects-createorderinput, best-practices-for-orders,
create-and-manage-orders): the order as the input describes it, ORDER_CONFIRMED published, its
fulfilment NOT_STARTED by default (no package: nothing can move) and started with
``desiredExecutionState: STARTED`` (one PENDING package); aliases at most five and unique per
store, else ValidationError and nothing stored; the order as it is after each step."""

from __future__ import annotations

from typing import Any

from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import new_flow
from tests.sandbox.graphql_api import SUBSCRIBE, Api, classification

CREATE = """mutation($input: CreateOrderInput!) { createOrder(input: $input) {
  order { id aliases { aliasType aliasId } metadata { executionState }
          lineItems { id amount { value } product { title price { amount currencyCode } } }
          packageInformation { details { id state } } totalPrice { value { amount } } } } }"""
ORDER_BY_ALIAS = """query($type: String!, $id: String!) {
  order(orderIdentifier: {alias: {aliasType: $type, aliasId: $id}}) { id metadata { executionState } } }"""


def _input(*aliases: str, started: bool = False, **extra: Any) -> dict[str, Any]:
    line = {"product": {"identifier": {"productId": "p-1"}, "title": "A book", "price": {"amount": 12.5,
            "currencyCode": "USD"}}, "amount": {"value": 2}}  # fmt: skip
    request: dict[str, Any] = {
        "lineItems": [line],
        "customer": {"contact": {"emailData": {"name": "Ada", "email": "ada@example.com"}}},
        "aliases": [{"aliasType": "EXTERNAL_ID", "aliasId": alias} for alias in aliases],
        **extra,
    }
    if started:
        request["desiredExecutionState"] = "STARTED"
    return request


def _subscribed(sandbox: SandboxHandle) -> Api:
    api = Api(new_flow(sandbox))
    destination = {"eventBridge": {"partnerEventSource": {"account": "123456789012", "name": "shop"},
                                   "region": "us-east-1"}}  # fmt: skip
    assert "errors" not in api(SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": destination}})
    return api


def test_an_order_is_created_not_started_and_confirmed(sandbox_app: SandboxHandle, events_in_process: None) -> None:
    api = _subscribed(sandbox_app)
    order = api(CREATE, {"input": _input("shop-1001")})["data"]["createOrder"]["order"]
    assert order["metadata"]["executionState"] == "NOT_STARTED"
    assert order["packageInformation"]["details"] == []  # packages move only once started
    (line,) = order["lineItems"]
    assert (line["amount"]["value"], line["product"]["title"], line["product"]["price"]["amount"]) == (
        2,
        "A book",
        12.5,
    )
    assert order["totalPrice"]["value"]["amount"] == 25.0
    confirmed = [e for e in sandbox_app.client.ledger() if e["type"] == "ORDER_CONFIRMED"]
    assert [e["order_id"] for e in confirmed] == [order["id"]]
    found = api(ORDER_BY_ALIAS, {"type": "EXTERNAL_ID", "id": "shop-1001"})["data"]["order"]
    assert found == {"id": order["id"], "metadata": {"executionState": "NOT_STARTED"}}

    started = api(CREATE, {"input": _input("shop-1002", started=True)})["data"]["createOrder"]["order"]
    assert started["metadata"]["executionState"] == "STARTED"
    assert [package["state"] for package in started["packageInformation"]["details"]] == ["PENDING"]


def test_aliases_are_at_most_five_and_unique_per_store(sandbox_app: SandboxHandle) -> None:
    api = Api(new_flow(sandbox_app))
    assert "errors" not in api(CREATE, {"input": _input("dup-1")})
    db = sandbox_app.app.state.sandbox.db
    before = db.one("SELECT COUNT(*) AS n FROM orders")["n"]
    for request in (
        _input("dup-1"),
        _input(*(f"a-{n}" for n in range(6))),
        _input("x", "x"),
        _input("y", lineItems=[]),
    ):
        answer = api(CREATE, {"input": request})
        assert classification(answer) == "ValidationError", answer
    assert db.one("SELECT COUNT(*) AS n FROM orders")["n"] == before  # nothing was stored
