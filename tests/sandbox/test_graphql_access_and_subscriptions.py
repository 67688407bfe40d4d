"""The GraphQL API in process, on who may call it and what they may subscribe to: bearer
tokens, the installation and business product headers, API versions, revoked installations,
and event subscriptions refused in BwP's shape."""

from __future__ import annotations

from typing import Any

import pytest

from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import new_flow
from tests.sandbox.graphql_api import SUBSCRIBE, Api, classification


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
