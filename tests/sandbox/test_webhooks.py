"""Webhook destinations (steps-to-subscribe-to-buy-with-prime-events-using-webhook-events,
events-mutations-createauthprofile, create-and-delete-event-subscriptions): an auth profile or
an inline auth config, the 2024-11-01 payload POSTed to a real HTTP receiver with that auth,
in the background, retried with backoff after a 5xx and not after a 4xx; http only to a
loopback host."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bwp_workshop.sandbox import webhooks
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle
from tests.oauth_app.serving import in_thread
from tests.sandbox.flow import new_flow
from tests.sandbox.graphql_api import Api

pytestmark = pytest.mark.server  # a receiver listens on a port

AUTH_PROFILE = "mutation($input: CreateAuthProfileInput!) { createAuthProfile(input: $input) { authProfileId } }"
SUBSCRIBE = """mutation($input: CreateEventSubscriptionInput!) {
  createEventSubscription(input: $input) { subscriptionId } }"""
#: query-event-subscriptions' form: a destination is read through ``... on EventBridgeData``.
SUBSCRIPTION = """query($id: String!) { eventSubscription(subscriptionId: $id) {
  subscriptionId eventSubscriptionDetails { eventType destination { __typename ... on EventBridgeData { arn } } } } }"""
UPDATE_AUTH_PROFILE = """mutation($input: UpdateAuthProfileInput) {
  updateAuthProfile(input: $input) { authProfileId } }"""
DELETE_AUTH_PROFILE = """mutation($id: String!) { deleteAuthProfile(authProfileId: $id) { authProfileId } }"""


@dataclass
class Receiver:
    """A webhook and an OAuth token endpoint on a free port, recording what they got."""

    url: str = ""
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    #: Answers the webhook gives before it answers 200.
    failures: list[int] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            form = dict(parse_qsl((await request.body()).decode()))
            self.token_requests.append({"form": form, "headers": dict(request.headers)})
            return JSONResponse({"access_token": "token-from-the-endpoint", "token_type": "Bearer"})

        @app.post("/hook")
        async def hook(request: Request) -> JSONResponse:
            self.deliveries.append({"headers": dict(request.headers), "body": json.loads(await request.body())})
            if self.failures:
                return JSONResponse({"error": "not now"}, status_code=self.failures.pop(0))
            return JSONResponse({"ok": True})

        return app


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    with in_thread(found.app(), free_port()) as url:
        found.url = url
        yield found


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "DELIVERY_BACKOFF_S", 0.01)
    monkeypatch.setattr(webhooks, "DELIVERY_BACKOFF_MAX_S", 0.05)


def _subscribe(api: Api, webhook: dict[str, Any]) -> str:
    answer = api(SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": {"webhook": webhook}}})
    assert "errors" not in answer, answer
    return str(answer["data"]["createEventSubscription"]["subscriptionId"])


def _place_order(sandbox: SandboxHandle, api: Api) -> list[dict[str, Any]]:
    sandbox.client.emit(orders=1, lifecycle="placed", installation_id=api.installation_id)
    assert sandbox.app.state.events.webhooks.wait(30)
    return [entry for entry in sandbox.client.ledger() if entry["type"] == "ORDER_CONFIRMED"]


def test_a_basic_auth_profile_delivers_the_payload_with_basic_auth(
    sandbox_app: SandboxHandle, receiver: Receiver
) -> None:
    api = Api(new_flow(sandbox_app))
    profile = {"authConfig": {"basicAuthConfig": {"username": "bwp", "password": "s3cret-pass"}}}
    answer = api(AUTH_PROFILE, {"input": {"authProfileAliasId": "hook-basic", **profile}})
    assert answer["data"]["createAuthProfile"]["authProfileId"] == "hook-basic"
    subscription_id = _subscribe(
        api, {"url": f"{receiver.url}/hook", "httpMethod": "POST", "authProfileId": "hook-basic"}
    )

    entries = _place_order(sandbox_app, api)

    assert len(receiver.deliveries) == 1 and len(entries) == 1
    delivery = receiver.deliveries[0]
    assert delivery["headers"]["authorization"] == "Basic " + base64.b64encode(b"bwp:s3cret-pass").decode()
    body = delivery["body"]
    assert body["apiVersion"] == "2024-11-01" and body["eventDescriptor"] == "ORDER_CONFIRMED"
    assert body["subscriptionId"] == subscription_id and body["eventId"] == entries[0]["event_id"]
    assert {"idempotencyKey", "resources", "eventTime", "data"} <= body.keys()
    assert entries[0]["delivered"] and entries[0]["deliveries"] == 1
    # No page shows a webhook destination read back: the subscription is there, its destination null.
    read = api(SUBSCRIPTION, {"id": subscription_id})
    assert read == {
        "data": {
            "eventSubscription": {
                "subscriptionId": subscription_id,
                "eventSubscriptionDetails": {"eventType": "ORDER_CONFIRMED", "destination": None},
            }
        }
    }


def test_an_updated_auth_profile_applies_to_the_next_delivery_and_a_deleted_one_ends_them(
    sandbox_app: SandboxHandle, receiver: Receiver
) -> None:
    """events-mutations-updateauthprofile (new credentials under the same id) and
    events-mutations-deleteauthprofile (an unknown id: AccessDeniedError, data null)."""
    api = Api(new_flow(sandbox_app))
    basic = {"basicAuthConfig": {"username": "bwp", "password": "first-pass"}}
    api(AUTH_PROFILE, {"input": {"authProfileAliasId": "rotated", "authConfig": basic}})
    _subscribe(api, {"url": f"{receiver.url}/hook", "method": "POST", "authProfileId": "rotated"})
    rotated = {"basicAuthConfig": {"username": "bwp", "password": "second-pass"}}

    answer = api(UPDATE_AUTH_PROFILE, {"input": {"authProfileId": "rotated", "authConfig": rotated}})
    assert answer == {"data": {"updateAuthProfile": {"authProfileId": "rotated"}}}
    _place_order(sandbox_app, api)
    assert [d["headers"]["authorization"] for d in receiver.deliveries] == [
        "Basic " + base64.b64encode(b"bwp:second-pass").decode()
    ]

    assert api(DELETE_AUTH_PROFILE, {"id": "rotated"}) == {"data": {"deleteAuthProfile": {"authProfileId": "rotated"}}}
    for document, variables in (
        (DELETE_AUTH_PROFILE, {"id": "rotated"}),
        (UPDATE_AUTH_PROFILE, {"input": {"authProfileId": "rotated", "authConfig": rotated}}),
    ):
        gone = api(document, variables)
        assert gone["data"] is None
        assert gone["errors"][0]["extensions"]["classification"]["type"] == "AccessDeniedError"
    (_, undelivered) = _place_order(sandbox_app, api)
    assert len(receiver.deliveries) == 1 and not undelivered["delivered"]
    assert "auth profile 'rotated' is gone" in undelivered["error"]


def test_an_auth_profile_is_its_installations_own(sandbox_app: SandboxHandle) -> None:
    mine, theirs = Api(new_flow(sandbox_app)), Api(new_flow(sandbox_app))
    basic = {"basicAuthConfig": {"username": "bwp", "password": "a-pass"}}
    mine(AUTH_PROFILE, {"input": {"authProfileAliasId": "mine-only", "authConfig": basic}})
    update = {"input": {"authProfileId": "mine-only", "authConfig": basic}}
    for answer in (theirs(UPDATE_AUTH_PROFILE, update), theirs(DELETE_AUTH_PROFILE, {"id": "mine-only"})):
        assert answer["errors"][0]["extensions"]["classification"]["type"] == "AccessDeniedError"
    assert mine(DELETE_AUTH_PROFILE, {"id": "mine-only"})["data"]["deleteAuthProfile"] == {"authProfileId": "mine-only"}


def test_an_inline_oauth_config_gets_a_token_and_sends_it_as_bearer(
    sandbox_app: SandboxHandle, receiver: Receiver
) -> None:
    api = Api(new_flow(sandbox_app))
    oauth = {
        "clientParameters": {"clientId": "hook-client", "clientSecret": "hook-secret"},
        "authEndpoint": f"{receiver.url}/token",
        "httpMethod": "POST",
        "httpParameters": {"bodyParameters": [{"key": "scope", "value": "write:order"}]},
    }
    _subscribe(api, {"url": f"{receiver.url}/hook", "method": "POST", "authConfig": {"oAuthConfig": oauth}})

    _place_order(sandbox_app, api)

    assert [d["headers"]["authorization"] for d in receiver.deliveries] == ["Bearer token-from-the-endpoint"]
    (token_request,) = receiver.token_requests
    assert token_request["form"] == {"grant_type": "client_credentials", "scope": "write:order"}
    assert token_request["headers"]["authorization"] == "Basic " + base64.b64encode(b"hook-client:hook-secret").decode()


def test_a_failing_webhook_is_retried_with_backoff_and_a_refusal_is_not(
    sandbox_app: SandboxHandle, receiver: Receiver, fast_backoff: None
) -> None:
    api = Api(new_flow(sandbox_app))
    _subscribe(api, {"url": f"{receiver.url}/hook"})
    receiver.failures = [503, 500]
    (entry,) = _place_order(sandbox_app, api)
    assert len(receiver.deliveries) == 3 and entry["delivered"] and not entry["error"]

    receiver.deliveries.clear()
    receiver.failures = [401]
    (_, refused) = _place_order(sandbox_app, api)
    assert len(receiver.deliveries) == 1  # a 4xx is the receiver's answer: not tried again
    assert not refused["delivered"] and refused["error"] == "the webhook answered HTTP 401"


def test_the_mutation_does_not_wait_for_the_webhook(sandbox_app: SandboxHandle, receiver: Receiver) -> None:
    api = Api(new_flow(sandbox_app))
    _subscribe(api, {"url": f"{receiver.url}/hook"})
    gate = threading.Event()
    original = sandbox_app.app.state.events.webhooks.deliver
    sandbox_app.app.state.events.webhooks.deliver = lambda event: (gate.wait(10), original(event))
    sandbox_app.client.emit(orders=1, lifecycle="placed", installation_id=api.installation_id)
    assert receiver.deliveries == []  # emit has answered; the delivery waits in the background
    gate.set()
    assert sandbox_app.app.state.events.webhooks.wait(30)
    assert len(receiver.deliveries) == 1


@pytest.mark.parametrize(
    ("webhook", "issue"),
    [
        ({"url": "http://hooks.example.com/x"}, "url must be an https URL"),
        ({"url": "https://hooks.example.com/x", "authProfileId": "nobody-made-it"}, "no auth profile"),
        (
            {
                "url": "https://hooks.example.com/x",
                "authConfig": {"basicAuthConfig": {"username": "u", "password": "p"}, "oAuthConfig": None},
                "authProfileId": "p",
            },
            "not both",
        ),
    ],
)
def test_a_bad_webhook_destination_is_a_validation_error(
    sandbox_app: SandboxHandle, webhook: dict[str, Any], issue: str
) -> None:
    api = Api(new_flow(sandbox_app))
    answer = api(SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": {"webhook": webhook}}})
    (error,) = answer["errors"]
    assert error["extensions"]["classification"]["type"] == "ValidationError"
    assert issue in error["message"]


def test_an_auth_endpoint_over_http_is_refused(sandbox_app: SandboxHandle) -> None:
    """events-mutations-createauthprofile, "Create Oauth Auth Profile With Invalid Auth Endpoint"."""
    api = Api(new_flow(sandbox_app))
    oauth = {"clientParameters": {"clientId": "c", "clientSecret": "s"}, "authEndpoint": "http://auth-endpoint.com",
             "httpMethod": "POST"}  # fmt: skip
    answer = api(AUTH_PROFILE, {"input": {"authConfig": {"oAuthConfig": oauth}}})
    (error,) = answer["errors"]
    assert error["extensions"]["classification"]["type"] == "ValidationError"
    assert "authEndpoint must be an https URL" in error["message"]
    assert "s3cret" not in json.dumps(answer)
