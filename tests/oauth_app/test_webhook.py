"""The app's webhook end to end, in process: the sandbox (a webhook subscription, with an auth
profile of each kind) POSTs an order's event to the app (TestClient), which checks the auth and
puts the event on the webhook bus of moto in process, whose rule moves it to a queue. A refused
auth is a 401 and puts nothing; the app's own checks (token endpoint, malformed bodies) too.

Pages: steps-to-subscribe-to-buy-with-prime-events-using-webhook-events,
events-mutations-createauthprofile, create-and-delete-event-subscriptions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwp_workshop import aws, names
from bwp_workshop.core import webhook_auth
from bwp_workshop.settings import Settings
from bwp_workshop.testing.sandbox import SandboxHandle
from bwp_workshop.testing.tables import create_token_table
from oauth_app.app import create_app
from tests.sandbox.flow import new_flow
from tests.sandbox.graphql_api import Api

from .conftest import BASE_URL, CLIENT_ID, CLIENT_SECRET, AppLogs, config

WEBHOOK_SECRET = webhook_auth.webhook_secret(CLIENT_SECRET)
AUTH_PROFILE = "mutation($input: CreateAuthProfileInput!) { createAuthProfile(input: $input) { authProfileId } }"
SUBSCRIBE = """mutation($input: CreateEventSubscriptionInput!) {
  createEventSubscription(input: $input) { subscriptionId } }"""


@dataclass
class Webhook:
    url: str
    queue_url: str
    settings: Settings
    http: TestClient

    def messages(self, wait: int = 0) -> list[dict[str, Any]]:
        sqs = aws.client("sqs", self.settings)
        found = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        return [json.loads(message["Body"]) for message in found.get("Messages", [])]


@pytest.fixture
def webhook(aws_in_process: Settings, sandbox_app: SandboxHandle) -> Iterator[Webhook]:
    """The app in process (TestClient), its webhook bus ruled into a queue on moto in process; the
    in-process sandbox delivers its webhooks through the same client."""
    events, sqs = aws.client("events", aws_in_process), aws.client("sqs", aws_in_process)
    bus = "webhook-bus"
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=f"{bus}-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"source": [names.WEBHOOK_EVENT_SOURCE]})
    events.put_rule(Name=f"{bus}-rule", EventBusName=bus, EventPattern=pattern)
    events.put_targets(Rule=f"{bus}-rule", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    app = create_app(config(webhook_event_bus=bus), table=create_token_table(aws_in_process), events=events)
    with TestClient(app, base_url=BASE_URL) as http:
        sandbox_app.app.state.events.webhooks.http = http
        yield Webhook(url=BASE_URL, queue_url=queue_url, settings=aws_in_process, http=http)


def _deliver_an_order(sandbox: SandboxHandle, api: Api, auth_config: dict[str, Any], url: str) -> dict[str, Any]:
    """Subscribe ORDER_CONFIRMED to the webhook with an auth profile, place an order; the ledger entry."""
    profile = api(AUTH_PROFILE, {"input": {"authConfig": auth_config}})["data"]["createAuthProfile"]["authProfileId"]
    webhook = {"url": f"{url}{names.WEBHOOK_PATH}", "method": "POST", "authProfileId": profile}
    answer = api(SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": {"webhook": webhook}}})
    assert "errors" not in answer, answer
    sandbox.client.emit(orders=1, lifecycle="placed", installation_id=api.installation_id)
    assert sandbox.app.state.events.webhooks.wait(60)
    (entry,) = [entry for entry in sandbox.client.ledger() if entry["type"] == "ORDER_CONFIRMED"]
    return dict(entry)


def _oauth(endpoint: str, secret: str = WEBHOOK_SECRET) -> dict[str, Any]:
    return {
        "oAuthConfig": {
            "clientParameters": {"clientId": CLIENT_ID, "clientSecret": secret},
            "authEndpoint": endpoint,
            "httpMethod": "POST",
        }
    }


@pytest.mark.parametrize("kind", ["basic", "oauth"])
def test_an_event_delivered_with_each_auth_kind_is_put_on_the_bus(
    sandbox_app: SandboxHandle, webhook: Webhook, kind: str
) -> None:
    api = Api(new_flow(sandbox_app))
    basic = {"basicAuthConfig": {"username": CLIENT_ID, "password": WEBHOOK_SECRET}}
    auth = basic if kind == "basic" else _oauth(f"{webhook.url}{names.WEBHOOK_TOKEN_PATH}")
    entry = _deliver_an_order(sandbox_app, api, auth, webhook.url)
    assert entry["delivered"] and not entry["error"]
    (envelope,) = webhook.messages(wait=5)
    assert envelope["source"] == names.WEBHOOK_EVENT_SOURCE
    assert envelope["detail-type"] == "ORDER_CONFIRMED"
    detail = envelope["detail"]
    assert detail["eventId"] == entry["event_id"] and detail["apiVersion"] == "2024-11-01"
    assert detail["resources"] == entry["resources"]


@pytest.mark.parametrize("kind", ["basic", "oauth"])
def test_a_refused_auth_is_401_and_puts_nothing(sandbox_app: SandboxHandle, webhook: Webhook, kind: str) -> None:
    api = Api(new_flow(sandbox_app))
    basic = {"basicAuthConfig": {"username": CLIENT_ID, "password": "not-the-secret"}}
    auth = basic if kind == "basic" else _oauth(f"{webhook.url}{names.WEBHOOK_TOKEN_PATH}", "not-the-secret")
    entry = _deliver_an_order(sandbox_app, api, auth, webhook.url)
    assert not entry["delivered"]
    assert entry["error"] == ("the webhook" if kind == "basic" else "the auth endpoint") + " answered HTTP 401"
    assert webhook.messages() == []


def test_the_webhook_refuses_what_is_not_authenticated_or_not_an_event(webhook: Webhook, app_logs: AppLogs) -> None:
    url = f"{webhook.url}{names.WEBHOOK_PATH}"
    event = {"eventId": "e-1", "eventDescriptor": "ORDER_CONFIRMED", "resources": [], "data": {}}
    basic = (CLIENT_ID, WEBHOOK_SECRET)
    expired = webhook_auth.issue_token(WEBHOOK_SECRET, now=time.time() - 2 * webhook_auth.TOKEN_TTL_S)
    forged = webhook_auth.issue_token("another-secret")
    http = webhook.http
    assert http.post(url, json=event).status_code == 401
    assert http.post(url, json=event, auth=(CLIENT_ID, "wrong")).status_code == 401
    assert http.post(url, json=event, auth=("someone-else", WEBHOOK_SECRET)).status_code == 401
    for token in (expired, forged, "12.34", "garbage"):
        assert http.post(url, json=event, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert http.post(url, content=b"[1, 2]", auth=basic).status_code == 400
    assert http.post(url, json={"eventId": "e-2"}, auth=basic).status_code == 400
    assert webhook.messages() == []

    token_url = f"{webhook.url}{names.WEBHOOK_TOKEN_PATH}"
    grant = {"grant_type": "client_credentials"}
    assert http.post(token_url, data=grant, auth=(CLIENT_ID, "wrong")).status_code == 401
    assert http.post(token_url, data={"grant_type": "password"}, auth=basic).status_code == 400
    issued = http.post(token_url, data={**grant, "client_id": CLIENT_ID, "client_secret": WEBHOOK_SECRET})
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    assert http.post(url, json=event, headers=bearer).status_code == 202
    assert [message["detail"]["eventId"] for message in webhook.messages(wait=5)] == ["e-1"]
    assert app_logs.records, "the app logged nothing"
    assert WEBHOOK_SECRET not in app_logs.text and CLIENT_SECRET not in app_logs.text
