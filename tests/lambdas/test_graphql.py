"""The GraphQL client: headers, retries with backoff on throttling and 5xx, classification of
``errors[]``."""

from __future__ import annotations

import httpx
import pytest

from bwp_workshop.core.graphql import GraphQLClient, GraphQLError, classify

from .doubles import error_response

OK = httpx.Response(200, json={"data": {"buyWithPrimeStore": {"siteId": "s", "widgetId": "w"}}})


def client(*responses: httpx.Response | Exception, attempts: int = 4) -> tuple[GraphQLClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    waits: list[float] = []
    graphql = GraphQLClient(
        "http://bwp.test/graphql",
        api_version="2024-11-01",
        http=httpx.Client(transport=httpx.MockTransport(answer)),
        attempts=attempts,
        sleep=waits.append,
    )
    graphql.waits = waits  # type: ignore[attr-defined]
    return graphql, seen


def test_a_call_sends_bearer_installation_and_version_headers() -> None:
    graphql, seen = client(OK)
    assert graphql.store(access_token="at-secret", installation_id="inst-1") == {"siteId": "s", "widgetId": "w"}
    headers = seen[0].headers
    assert headers["authorization"] == "Bearer at-secret"
    assert headers["x-omni-installationid"] == "inst-1"
    assert headers["x-api-version"] == "2024-11-01"
    assert "x-api-target-id" not in headers
    assert (graphql.requests, graphql.retries) == (1, 0)


def test_a_caller_that_knows_the_business_product_names_it_in_x_api_target_id() -> None:
    # call-the-buy-with-prime-api: x-api-target-id is the business product called for.
    graphql, seen = client(OK)
    graphql.store(access_token="t", installation_id="inst-1", target_id="bp-1")
    assert (seen[0].headers["x-api-target-id"], seen[0].headers["x-omni-installationid"]) == ("bp-1", "inst-1")


def test_a_documented_error_code_is_kept() -> None:
    graphql, _ = client(error_response("ValidationError", "taken", "DestinationNameAlreadyExists"))
    with pytest.raises(GraphQLError) as caught:
        graphql.store(access_token="t", installation_id="i")
    assert (caught.value.error_type, caught.value.code) == ("ValidationError", "DestinationNameAlreadyExists")
    assert "DestinationNameAlreadyExists" in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503),
        httpx.Response(429),
        error_response("ThrottlingError", "too many requests"),
        error_response("InternalServerError"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
def test_transient_failures_are_retried_with_growing_jittered_waits(failure: httpx.Response | Exception) -> None:
    graphql, seen = client(failure, failure, OK)
    assert graphql.store(access_token="t", installation_id="i")["siteId"] == "s"
    assert (len(seen), graphql.requests, graphql.retries) == (3, 3, 2)
    assert all(0 <= wait <= 2.0 for wait in graphql.waits)  # type: ignore[attr-defined]


def test_a_persistent_transient_failure_ends_as_a_transient_error() -> None:
    graphql, seen = client(*[httpx.Response(500)] * 3, attempts=3)
    with pytest.raises(GraphQLError) as caught:
        graphql.store(access_token="t", installation_id="i")
    assert caught.value.transient and caught.value.status == 500 and len(seen) == 3


@pytest.mark.parametrize(
    ("failure", "error_type"),
    [
        (error_response("AccessDeniedError", "denied"), "AccessDeniedError"),
        (error_response("ValidationError", "bad input"), "ValidationError"),
        (error_response("ResourceNotFoundError"), "ResourceNotFoundError"),
        (httpx.Response(401, json={"errors": [{"message": "unauthorized"}]}), "http"),
        (httpx.Response(200, text="<html>"), None),
    ],
)
def test_permanent_failures_are_not_retried(failure: httpx.Response, error_type: str | None) -> None:
    graphql, seen = client(failure, OK)
    with pytest.raises(GraphQLError) as caught:
        graphql.store(access_token="at-secret", installation_id="i")
    assert not caught.value.transient and caught.value.error_type == error_type
    assert len(seen) == 1
    assert "at-secret" not in str(caught.value)


def test_a_permanent_error_among_transient_ones_is_permanent() -> None:
    mixed = httpx.Response(
        200,
        json={
            "errors": [
                {"message": "slow down", "extensions": {"classification": {"errorType": "ThrottlingError"}}},
                {"message": "no", "extensions": {"classification": {"type": "AccessDeniedError"}}},
            ]
        },
    )
    graphql, _ = client(mixed)
    with pytest.raises(GraphQLError) as caught:
        graphql.store(access_token="t", installation_id="i")
    assert (caught.value.transient, caught.value.error_type) == (False, "AccessDeniedError")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"extensions": {"classification": {"errorType": "ThrottlingException"}}}, ("ThrottlingException", True, None)),
        ({"extensions": {"classification": {"type": "InternalServerError"}}}, ("InternalServerError", True, None)),
        (
            {"extensions": {"classification": {"type": "AccessDeniedError", "errorType": "AccessDeniedException"}}},
            ("AccessDeniedError", False, None),
        ),
        (
            {"extensions": {"classification": {"type": "ValidationError", "code": "SubscriptionAlreadyExists"}}},
            ("ValidationError", False, "SubscriptionAlreadyExists"),
        ),
        ({"message": "no extensions"}, ("Unknown", False, None)),
        ("not a dict", ("Unknown", False, None)),
    ],
)
def test_classify(error: object, expected: tuple[str, bool, str | None]) -> None:
    assert classify(error) == expected


def test_the_order_query_sends_the_order_identifier() -> None:
    order = {"id": "o-1", "metadata": {"executionState": "STARTED"}, "totalPrice": {"value": {"amount": 1}}}
    graphql, seen = client(httpx.Response(200, json={"data": {"order": order}}))
    assert graphql.order("o-1", access_token="t", installation_id="i") == order
    import json

    assert json.loads(seen[0].content)["variables"] == {"orderIdentifier": {"orderId": "o-1"}}
