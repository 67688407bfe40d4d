"""The GraphQL API in process: authentication, the installation header, queries, Relay
pagination and BwP-shaped errors."""

from __future__ import annotations

from typing import Any

import pytest

from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import Flow, new_flow

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


class Api:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.tokens = flow.tokens()
        self.installation_id = self.tokens["installation_id"]

    def __call__(self, query: Any, variables: dict[str, Any] | None = None, **headers: Any) -> dict[str, Any]:
        response = self.post(query, variables, **headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def post(self, query: Any, variables: dict[str, Any] | None = None, **headers: Any) -> Any:
        token = headers.get("token", self.tokens["access_token"])
        installation_id = headers.get("installation_id", self.installation_id)
        return self.flow.graphql(query, variables, token=token, installation_id=installation_id)


@pytest.fixture
def api(sandbox_app: SandboxHandle) -> Api:
    return Api(new_flow(sandbox_app))


def classification(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["classification"]["type"])


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


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "Missing bearer token"),
        ("", "Missing bearer token"),
        ("not-a-token", "the access token is not valid"),
    ],
)
def test_a_missing_or_unknown_token_is_refused(api: Api, token: str | None, message: str) -> None:
    response = api.post("{ buyWithPrimeStore { siteId } }", token=token)
    assert response.status_code == 401
    assert response.json()["data"] is None
    assert message in response.json()["errors"][0]["message"]
    assert classification(response.json()) == "AccessDeniedError"


def _headers(api: Api, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens['access_token']}", **headers}


def _post(api: Api, headers: dict[str, str]) -> Any:
    return api.flow.http.post("/graphql", json={"query": "{ buyWithPrimeStore { siteId } }"}, headers=headers)


def test_the_public_header_model_names_the_business_product(api: Api) -> None:
    # call-the-buy-with-prime-api: Authorization, x-api-target-id (the business product), x-api-version.
    merchant = api.flow.sandbox.client.merchants()[0]
    answer = _post(api, _headers(api, **{"x-api-target-id": merchant["businessProductId"]}))
    assert answer.status_code == 200 and answer.json()["data"]["buyWithPrimeStore"]["siteId"] == merchant["siteId"]
    other = api.flow.sandbox.client.merchants()[1]["businessProductId"]
    wrong = _post(api, _headers(api, **{"x-api-target-id": other}))
    assert classification(wrong.json()) == "AccessDeniedError" and wrong.json()["data"] is None
    assert "x-api-target-id is not the business product" in wrong.json()["errors"][0]["message"]


def test_the_partner_header_model_names_the_installation(api: Api) -> None:
    wrong = api.post("{ buyWithPrimeStore { siteId } }", installation_id="inst-other")
    assert wrong.status_code == 200
    assert wrong.json()["data"] is None
    assert classification(wrong.json()) == "AccessDeniedError"
    assert "X-Omni-InstallationId is not the installation" in wrong.json()["errors"][0]["message"]


def test_a_call_naming_neither_is_refused_saying_both(api: Api) -> None:
    neither = _post(api, _headers(api))
    assert classification(neither.json()) == "AccessDeniedError"
    message = neither.json()["errors"][0]["message"]
    assert "x-api-target-id" in message and "X-Omni-InstallationId" in message


def test_both_models_together_must_name_the_same_installation(api: Api) -> None:
    merchant = api.flow.sandbox.client.merchants()[0]
    both = {"x-api-target-id": merchant["businessProductId"], "X-Omni-InstallationId": api.installation_id}
    assert "errors" not in _post(api, _headers(api, **both)).json()
    other = {**both, "X-Omni-InstallationId": "inst-other"}
    assert classification(_post(api, _headers(api, **other)).json()) == "AccessDeniedError"


@pytest.mark.parametrize("version", ["2024-01-01", "2024-04-01", "2099-01-01"])
def test_an_api_version_the_sandbox_does_not_serve_is_refused_naming_the_served_one(api: Api, version: str) -> None:
    answer = _post(api, _headers(api, **{"X-Omni-InstallationId": api.installation_id, "x-api-version": version}))
    assert answer.status_code == 400
    assert classification(answer.json()) == "ValidationError"
    message = answer.json()["errors"][0]["message"]
    assert version in message and "2024-11-01" in message


def test_a_call_without_a_version_is_answered_in_the_served_one(api: Api) -> None:
    answer = _post(api, _headers(api, **{"X-Omni-InstallationId": api.installation_id}))
    assert answer.status_code == 200 and "errors" not in answer.json()


def test_an_uninstalled_installation_token_is_revoked(api: Api) -> None:
    db = api.flow.sandbox.app.state.sandbox.db
    db.run("UPDATE installations SET status = 'uninstalled'")
    response = api.post("{ buyWithPrimeStore { siteId } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "the access token was revoked"


@pytest.mark.parametrize(
    ("event_type", "destination", "kind", "fragment"),
    [
        ("ORDER_SHIPPED", None, "AccessDeniedError", "not an event type you can subscribe to"),
        (
            "ORDER_CONFIRMED",
            {"eventBridge": {"partnerEventSource": {"account": "12", "name": "ok"}, "region": "us-east-1"}},
            "ValidationError",
            "12-digit",
        ),
        (
            "ORDER_CONFIRMED",
            {"eventBridge": {"partnerEventSource": {"account": "123456789012", "name": "ok"}, "region": "mars-1"}},
            "ValidationError",
            "region must match",
        ),
        (
            "ORDER_CONFIRMED",
            {"eventBridge": {"partnerEventSource": {"account": "123456789012", "name": "a/b"}, "region": "us-east-1"}},
            "ValidationError",
            "partnerEventSource.name",
        ),
        ("ORDER_CONFIRMED", {"webhook": {"url": "http://hook.test"}}, "ValidationError", "must be an https URL"),
        (
            "ORDER_CONFIRMED",
            {
                "webhook": {"url": "https://hook.test"},
                "eventBridge": {"partnerEventSource": {"account": "123456789012", "name": "ok"}, "region": "us-east-1"},
            },
            "ValidationError",
            "not both",
        ),
    ],
)
def test_bad_subscriptions_are_refused_in_bwp_shape(
    api: Api, event_type: str, destination: dict | None, kind: str, fragment: str
) -> None:
    destination = destination or {
        "eventBridge": {"partnerEventSource": {"account": "123456789012", "name": "ok"}, "region": "us-east-1"}
    }
    body = api(
        "mutation($input: CreateEventSubscriptionInput!) { createEventSubscription(input: $input) { subscriptionId } }",
        {"input": {"eventType": event_type, "destination": destination}},
    )
    assert body["data"] is None  # the field is non-null (the pages' error examples answer data: null)
    assert classification(body) == kind
    assert fragment in body["errors"][0]["message"]


def test_unknown_subscriptions_are_access_denied(api: Api) -> None:
    body = api('{ eventSubscription(subscriptionId: "nope") { subscriptionId } }')
    assert classification(body) == "AccessDeniedError" and body["data"] == {"eventSubscription": None}
    body = api('mutation { deleteEventSubscription(subscriptionId: "nope") { subscriptionId } }')
    assert classification(body) == "AccessDeniedError" and body["data"] is None


def test_no_subscriptions_is_access_denied_with_null_data(api: Api) -> None:
    # events-queries-eventsubscriptions, "When Subscriptions Do Not Exist".
    body = api("{ eventSubscriptions { totalCount edges { cursor } } }")
    assert body["data"] == {"eventSubscriptions": None}
    assert body["errors"][0]["extensions"]["classification"] == {
        "type": "AccessDeniedError",
        "errorType": "AccessDeniedException",
        "errorCode": 403,
    }


SUBSCRIBE = (
    "mutation($input: CreateEventSubscriptionInput!) { createEventSubscription(input: $input) { subscriptionId } }"
)


def _destination(name: str = "supadupa", account: str = "123456789012") -> dict[str, Any]:
    return {"eventBridge": {"partnerEventSource": {"account": account, "name": name}, "region": "us-east-1"}}


def test_the_same_type_and_destination_again_is_subscription_already_exists(api: Api, events_in_process: None) -> None:
    first = api(SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": _destination()}})
    again = api(SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": _destination()}})
    assert "errors" not in first
    assert again["data"] is None
    assert again["errors"][0]["extensions"]["classification"] == {
        "type": "ValidationError",
        "code": "SubscriptionAlreadyExists",
        "details": {},
        "errorType": "ValidationException",
        "errorCode": 400,
    }
    other_type = api(SUBSCRIBE, {"input": {"eventType": "REFUND_REQUESTED", "destination": _destination()}})
    assert "errors" not in other_type


def test_a_source_name_another_partner_took_is_destination_name_already_exists(
    sandbox_app: SandboxHandle, events_in_process: None
) -> None:
    ours, theirs = Api(new_flow(sandbox_app)), Api(new_flow(sandbox_app))  # two apps
    assert "errors" not in theirs(SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": _destination()}})
    taken = ours(SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": _destination()}})
    assert taken["errors"][0]["extensions"]["classification"]["code"] == "DestinationNameAlreadyExists"
    other_account = _destination(account="210987654321")
    assert "errors" not in ours(
        SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": _destination("x")}}
    )
    taken = ours(SUBSCRIBE, {"input": {"eventType": "RETURN_STARTED", "destination": other_account}})
    assert taken["errors"][0]["extensions"]["classification"]["code"] == "DestinationNameAlreadyExists"


def test_a_deprecated_event_type_can_still_be_subscribed(api: Api, events_in_process: None) -> None:
    # changelog-for-the-buy-with-prime-api-v2024-11-01: deprecated on 2024-12-04, not removed.
    body = api(SUBSCRIBE, {"input": {"eventType": "DELIVERY_COMPLETED", "destination": _destination()}})
    assert "errors" not in body


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
