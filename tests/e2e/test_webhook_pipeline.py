"""The webhook path end to end on the local target: the served sandbox delivers ORDER_CONFIRMED
to the app's webhook (an auth profile with the app's webhook credentials), the app puts each event
on the webhook bus, its rule moves it to the event queue the partner bus's rule feeds, and the
event runner's handler stores it. Every event of either path is stored once, and an event that
comes again by the other path (the partner bus) is a duplicate, not a second record
(steps-to-subscribe-to-buy-with-prime-events-using-webhook-events)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bwp_workshop import aws, names
from bwp_workshop.core import webhook_auth
from bwp_workshop.outputs import stack_output
from bwp_workshop.sandbox.event_shapes import record_key
from bwp_workshop.steps import pipeline as event_pipeline
from bwp_workshop.testing.pipeline_harness import Pipeline, provision, running, settle
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app
from oauth_app.app import create_app
from oauth_app.config import AppConfig
from tests.oauth_app.serving import in_thread

AUTH_PROFILE = "mutation($input: CreateAuthProfileInput!) { createAuthProfile(input: $input) { authProfileId } }"
SUBSCRIBE = """mutation($input: CreateEventSubscriptionInput!) {
  createEventSubscription(input: $input) { subscriptionId } }"""


def _webhook_bus(pipeline: Pipeline) -> str:
    """The webhook bus and its rule into the pipeline's queue, as EventStack makes them."""
    events, sqs = aws.client("events", pipeline.settings), aws.client("sqs", pipeline.settings)
    bus = f"webhook-{free_port()}"
    events.create_event_bus(Name=bus)
    attributes = ["QueueArn"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=pipeline.queue_url, AttributeNames=attributes)["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=pipeline.dlq_url, AttributeNames=attributes)["Attributes"]
    events.put_rule(
        Name=f"{bus}-rule", EventBusName=bus, EventPattern=json.dumps({"source": [names.WEBHOOK_EVENT_SOURCE]})
    )
    target = {"Id": "queue", "Arn": queue_arn["QueueArn"], "DeadLetterConfig": {"Arn": dlq_arn["QueueArn"]}}
    events.put_targets(Rule=f"{bus}-rule", EventBusName=bus, Targets=[target])
    return bus


@contextmanager
def _serving_app(pipeline: Pipeline, client_id: str, client_secret: str, bus: str) -> Iterator[str]:
    settings = pipeline.settings
    port = free_port()
    table = stack_output(settings, names.INFRA_STACK, names.OUT_TOKEN_TABLE)
    config = AppConfig(
        token_table_name=table,
        app_base_url=f"http://127.0.0.1:{port}",
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=settings.authorize_url,
        token_url=settings.token_url,
        webhook_event_bus=bus,
    )
    app = create_app(
        config, table=aws.resource("dynamodb", settings).Table(table), events=aws.client("events", settings)
    )
    with in_thread(app, port) as url:
        yield url


def _delivered(sandbox: SandboxHandle, subscription_id: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The webhook subscription's ledger entries once ``count`` of them are delivered."""
    deadline, delay = time.monotonic() + timeout, 0.01
    while True:
        entries = [e for e in sandbox.client.ledger() if e["subscription_id"] == subscription_id]
        if len(entries) >= count and all(e["delivered"] or e["error"] for e in entries):
            assert all(e["delivered"] for e in entries), [e["error"] for e in entries]
            return entries
        assert time.monotonic() < deadline, f"{len(entries)} webhook entries after {timeout} s"
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def test_events_by_webhook_and_by_eventbridge_are_stored_once(local_sandbox: SandboxHandle) -> None:
    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed)  # every type subscribed to the partner event source too
        bus = _webhook_bus(pipeline)
        with _serving_app(pipeline, installed.client_id, installed.client_secret, bus) as app_url:
            secret = webhook_auth.webhook_secret(installed.client_secret)
            basic = {"basicAuthConfig": {"username": installed.client_id, "password": secret}}
            profile = installed.graphql(AUTH_PROFILE, {"input": {"authConfig": basic}}).json()
            webhook = {
                "url": f"{app_url}{names.WEBHOOK_PATH}",
                "method": "POST",
                "authProfileId": profile["data"]["createAuthProfile"]["authProfileId"],
            }
            answer = installed.graphql(
                SUBSCRIBE, {"input": {"eventType": "ORDER_CONFIRMED", "destination": {"webhook": webhook}}}
            ).json()
            subscription_id = answer["data"]["createEventSubscription"]["subscriptionId"]
            local_sandbox.client.emit(orders=3, lifecycle="placed", installation_id=installed.installation_id)
            by_webhook = _delivered(local_sandbox, subscription_id, 3)

        # One webhook event again, as the partner bus delivers an event: the same eventId.
        again = by_webhook[0]
        detail = {
            "eventId": again["event_id"],
            "eventDescriptor": again["type"],
            "resources": again["resources"],
            "apiVersion": "2024-11-01",
            "subscriptionId": subscription_id,
            "eventTime": again["published_at"],
            "data": {},
        }
        entry = {"Source": pipeline.source_name, "DetailType": again["type"], "Detail": json.dumps(detail)}
        put = aws.client("events", pipeline.settings).put_events(
            Entries=[{**entry, "EventBusName": pipeline.source_name}]
        )
        assert put["FailedEntryCount"] == 0

        ledger = [e for e in local_sandbox.client.ledger() if e["malformed"] is None]
        expected = [key for key in (record_key(e) for e in ledger) if key]
        assert {e["event_id"] for e in by_webhook} <= set(expected)
        with running(pipeline):
            settle(pipeline, expected, 0)
        assert event_pipeline.count_records(pipeline.settings) == len(expected)
        assert pipeline.counters is not None and pipeline.counters["duplicates_skipped"] >= 1
