"""The GraphQL API in process, answering queries: the store, orders, products with Relay
pagination, the operation name, simulated orders, and BwP-shaped errors for requests that are
not valid GraphQL."""

from __future__ import annotations

import pytest

from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import new_flow
from tests.sandbox.graphql_api import Api, classification

# Every field the sandbox serves on an order, in the pages' forms (schema.graphql names each page).
ORDER = """
query Order($id: String!) {
  order(orderIdentifier: {orderId: $id}) {
    id aliases { aliasType aliasId }
    metadata { createdAt executionState updatedAt }
    lineItems { id amount { unit value }
                product { externalId { value } amazonSku { value } price { amount currencyCode } } }
    totalPrice { value { amount currencyCode } }
    customer { contact { id name email } }
    packageInformation {
      summary { state }
      details { id state reason packageTracker {
        packageTrackerIdentifier { trackingNumber carrierCode }
        latestMilestone { status { code } }
        milestones { status { code message { locale value } } occurredAt } } }
    }
    returns { details { id state createdAt updatedAt
              returnPackageDetails { id state reason packageTracker { milestones { status { code } } } } } }
    refunds { details { id state createdAt updatedAt refundTotal { totalAmount { amount currencyCode } } } }
  }
}"""


def test_the_store_of_the_installing_merchant(api: Api) -> None:
    merchant = api.flow.sandbox.client.merchants()[0]
    body = api("query BuyWithPrimeStore { buyWithPrimeStore { siteId widgetId } }")
    assert body == {"data": {"buyWithPrimeStore": {"siteId": merchant["siteId"], "widgetId": merchant["widgetId"]}}}


def test_an_order_with_line_items_amounts_and_customer(api: Api) -> None:
    merchant = api.flow.sandbox.client.merchants()[0]
    seeded = api.flow.sandbox.client.orders(merchant["merchantId"])
    assert len(seeded) == 3  # the order history
    order = api(ORDER, {"id": seeded[0]["id"]})["data"]["order"]
    assert order["id"] == seeded[0]["id"]
    assert order["lineItems"] and all(line["amount"]["value"] >= 1 for line in order["lineItems"])
    total = sum(line["product"]["price"]["amount"] * line["amount"]["value"] for line in order["lineItems"])
    assert order["totalPrice"] == {"value": {"amount": pytest.approx(total), "currencyCode": "USD"}}
    # The history is delivered: one package, its tracker's last milestone DELIVERED.
    assert order["metadata"]["executionState"] == "STARTED"
    assert order["packageInformation"]["summary"] == {"state": "DELIVERED"}
    assert order["packageInformation"]["details"][0]["packageTracker"]["latestMilestone"] == {
        "status": {"code": "DELIVERED"}
    }
    assert order["customer"]["contact"]["email"].endswith("@example.com")
    by_alias = api(
        "query($t: String!, $a: String!) { order(orderIdentifier: {alias: {aliasType: $t, aliasId: $a}}) { id } }",
        {"t": "EXTERNAL_ID", "a": order["aliases"][0]["aliasId"]},
    )
    assert by_alias["data"]["order"]["id"] == order["id"]


def test_an_unknown_order_is_resource_not_found(api: Api) -> None:
    body = api('{ order(orderIdentifier: {orderId: "order-nope"}) { id } }')
    assert body["data"] == {"order": None}
    error = body["errors"][0]
    assert error["path"] == ["order"]
    assert error["locations"] == [{"line": 1, "column": 3}]
    assert error["extensions"]["classification"] == {
        "type": "ResourceNotFoundError",
        "errorType": "ResourceNotFoundException",
        "errorCode": 404,
    }


def test_another_merchants_order_is_not_found(sandbox_app: SandboxHandle) -> None:
    api = Api(new_flow(sandbox_app))
    other = sandbox_app.client.merchants()[1]
    order_id = sandbox_app.client.orders(other["merchantId"])[0]["id"]
    assert classification(api(ORDER, {"id": order_id})) == "ResourceNotFoundError"


def test_an_order_identifier_needs_exactly_one_key(api: Api) -> None:
    body = api("{ order(orderIdentifier: {}) { id } }")
    assert classification(body) == "ValidationError"
    assert body["errors"][0]["extensions"]["classification"]["errorCode"] == 400


def test_products_page_with_relay_cursors(api: Api) -> None:
    query = """query($first: Int, $after: String) { products(first: $first, after: $after) {
        edges { cursor node { sku { value } title { values { value locale } defaultLocale }
                              price { currentPrice { amount currencyCode } } } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    first = api(query, {"first": 2})["data"]["products"]
    assert [edge["node"]["sku"]["value"] for edge in first["edges"]] == ["SKU-01-001", "SKU-01-002"]
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    assert first["edges"][0]["node"]["title"]["defaultLocale"] == "en-US"
    seen = [edge["node"]["sku"]["value"] for edge in first["edges"]]
    after = first["pageInfo"]["endCursor"]
    while True:
        page = api(query, {"first": 2, "after": after})["data"]["products"]
        seen += [edge["node"]["sku"]["value"] for edge in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"SKU-01-{n:03d}" for n in range(1, 6)]
    assert classification(api(query, {"first": 21})) == "ValidationError"
    assert classification(api(query, {"first": 1, "after": "garbage"})) == "ValidationError"


def test_product_lookup(api: Api) -> None:
    product = api('{ product(identifier: {sku: "SKU-01-002"}) { id externalId { value } } }')
    assert product["data"]["product"]["externalId"]["value"] == "ext-01-002"
    external = product["data"]["product"]["externalId"]["value"]
    same = api("query($e: String) { product(identifier: {externalId: $e}) { id } }", {"e": external})
    assert same["data"]["product"]["id"] == product["data"]["product"]["id"]
    assert classification(api('{ product(identifier: {sku: "SKU-99"}) { id } }')) == "ResourceNotFoundError"
    assert classification(api('{ product(identifier: {sku: "a", externalId: "b"}) { id } }')) == "ValidationError"


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("{ buyWithPrimeStore { siteId ", "Syntax Error"),
        ("{ buyWithPrimeStore { colour } }", "Cannot query field 'colour'"),
        ("{ order { id } }", "orderIdentifier"),
        ("query($id: String!) { order(orderIdentifier: {orderId: $id}) { id } }", "Variable '$id'"),
    ],
)
def test_malformed_graphql_is_a_validation_error(api: Api, query: str, fragment: str) -> None:
    body = api(query)
    assert classification(body) == "ValidationError"
    assert fragment in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"not json", "must be JSON"), (b'{"variables": {}}', '"query" string'), (b"[1]", '"query" string')],
)
def test_a_body_that_is_not_a_graphql_request_is_http_400(api: Api, body: bytes, reason: str) -> None:
    response = api.flow.http.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {api.tokens['access_token']}",
            "X-Omni-InstallationId": api.installation_id,
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert reason in response.json()["errors"][0]["message"]


def test_the_operation_name_picks_an_operation(api: Api) -> None:
    document = "query A { buyWithPrimeStore { siteId } } query B { products(first: 1) { pageInfo { hasNextPage } } }"
    body = api({"query": document, "operationName": "B"})
    assert body == {"data": {"products": {"pageInfo": {"hasNextPage": True}}}}
    assert classification(api({"query": document})) == "ValidationError"  # which one?
    response = api.post({"query": document, "operationName": 7})
    assert response.status_code == 400


def test_simulated_orders_show_their_packages_returns_and_refunds(api: Api) -> None:
    """Without a subscription nothing is published, but the orders are placed and walked."""
    result = api.flow.sandbox.client.emit(orders=1, lifecycle="returned", installation_id=api.installation_id, seed=5)
    assert result["published"] == 0 and result["occurrences"] == 11
    order_id = result["orders"][0]["order_id"]
    order = api(ORDER, {"id": order_id})["data"]["order"]
    (package,) = order["packageInformation"]["details"]
    assert package["state"] == "DELIVERED"
    assert package["packageTracker"]["packageTrackerIdentifier"]["carrierCode"] == "UPS"
    assert [m["status"]["code"] for m in package["packageTracker"]["milestones"]] == [
        "IN_TRANSIT",
        "OUT_FOR_DELIVERY",
        "DELIVERED",
    ]
    (returned,) = order["returns"]["details"]
    assert returned["state"] == "COMPLETED"
    (return_package,) = returned["returnPackageDetails"]
    assert return_package["state"] == "DELIVERED"
    assert [m["status"]["code"] for m in return_package["packageTracker"]["milestones"]] == ["IN_TRANSIT", "DELIVERED"]
    (refund,) = order["refunds"]["details"]
    assert refund["state"] == "SUCCESS" and refund["refundTotal"]["totalAmount"]["currencyCode"] == "USD"


def test_a_database_kept_in_an_older_shape_is_re_seeded_and_its_installations_kept(sandbox_app: SandboxHandle) -> None:
    """Coming back with a sandbox database from before the documented shapes: the merchants and
    orders are seeded again in the current shape; apps, installations and tokens stay."""
    from bwp_workshop.sandbox.config import sandbox_settings
    from bwp_workshop.sandbox.shared import Sandbox

    api = Api(new_flow(sandbox_app))
    sandbox: Sandbox = sandbox_app.app.state.sandbox
    merchant = sandbox_app.client.merchants()[0]
    old = {"id": "order-old", "status": "DELIVERED", "createdAt": "2026-01-01T00:00:00Z", "lineItems": []}
    sandbox.db.save_order(merchant["merchantId"], old)
    sandbox.db.put_json("data_shape", "before-2024-11-01")
    reopened = Sandbox(sandbox.settings, sandbox_settings(sandbox.settings.project_dir))
    try:
        assert reopened.db.order(merchant["merchantId"], "order-old") is None
        orders = sandbox_app.client.orders(merchant["merchantId"])
        assert len(orders) == 3 and all("metadata" in order and "status" not in order for order in orders)
        assert reopened.installation(api.installation_id)["status"] == "installed"
    finally:
        reopened.close()
    body = api(ORDER, {"id": orders[0]["id"]})
    assert "errors" not in body and body["data"]["order"]["metadata"]["executionState"] == "STARTED"
