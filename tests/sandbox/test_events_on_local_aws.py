"""Events end to end on the local AWS: subscribe through GraphQL (the partner event source
appears), associate a bus, route it with a rule to a queue, emit, and receive exactly what
the ledger says was sent."""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from typing import Any

from bwp_workshop import aws
from bwp_workshop.core.graphql import ORDER_QUERY
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.sandbox.event_shapes import FOREIGN_SOURCE
from bwp_workshop.sandbox.order_lifecycles import LIFECYCLES
from bwp_workshop.steps.subscriptions import CREATE_SUBSCRIPTION
from bwp_workshop.testing.sandbox import Installed, SandboxHandle, installed_app

SUBSCRIBE = CREATE_SUBSCRIPTION


def subscribe(installed: Installed, event_type: str, name: str, account: str, region: str) -> dict[str, Any]:
    destination = {"eventBridge": {"partnerEventSource": {"account": account, "name": name}, "region": region}}
    return installed.graphql(SUBSCRIBE, {"input": {"eventType": event_type, "destination": destination}}).json()


def drain(sqs: Any, queue_url: str, expected: int, timeout: float = 30) -> list[dict[str, Any]]:
    """Receive until ``expected`` messages arrived (and a short extra poll found no more)."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wait = 1 if len(messages) >= expected else 2
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get(
            "Messages", []
        )
        if not batch and len(messages) >= expected:
            break
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def route_to_queue(settings: Any, source_name: str) -> tuple[Any, str]:
    events, sqs = aws.client("events", settings), aws.client("sqs", settings)
    events.create_event_bus(Name=source_name, EventSourceName=source_name)
    queue_url = sqs.create_queue(QueueName=f"bwp-events-{secrets.token_hex(4)}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="bwp-to-queue",
        EventBusName=source_name,
        EventPattern=json.dumps({"source": [{"prefix": "aws.partner/buywithprime/"}]}),
    )
    events.put_targets(Rule="bwp-to-queue", EventBusName=source_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return sqs, queue_url


def test_the_queue_receives_exactly_the_ledger(local_sandbox: SandboxHandle) -> None:
    settings = local_sandbox.settings
    account, region = aws.LOCAL_ACCOUNT_ID, settings.region
    name = f"supadupa-{secrets.token_hex(4)}"
    source_name = f"aws.partner/buywithprime/{name}"
    with installed_app(local_sandbox) as installed:
        event_types = sorted({t for steps in LIFECYCLES.values() for t in _types(steps)})
        for event_type in event_types:
            answer = subscribe(installed, event_type, name, account, region)
            assert "errors" not in answer, answer
        # BwP created the partner event source; the workshop associates a bus with it.
        described = aws.client("events", settings).describe_event_source(Name=source_name)
        assert described["Name"] == source_name and described["State"] == "ACTIVE"
        sqs, queue_url = route_to_queue(settings, source_name)

        client = local_sandbox.client
        client.update_config(event_context_keys=True)  # the original workshop's partner events
        result = client.emit(
            orders=4,
            duplicates=3,
            malformed=["missing_installation", "unknown_installation", "garbage_detail", "foreign_source"],
            shapes=["2024-11-01", "legacy", "2024-01-01"],
            seed=11,
        )
        ledger = client.ledger()
        assert result["undelivered"] == 0
        assert [entry["event_id"] for entry in ledger] == [entry["event_id"] for entry in result["entries"]]
        assert {entry["shape"] for entry in ledger} == {"2024-11-01", "legacy", "2024-01-01"}
        assert sum(1 for entry in ledger if entry["deliveries"] == 2) == 3
        assert {entry["malformed"] for entry in ledger} - {None} == {
            "missing_installation",
            "unknown_installation",
            "garbage_detail",
            "foreign_source",
        }

        # The rule matches BwP sources only, so the foreign-source event never reaches the queue.
        expected = Counter(
            envelope for entry in ledger if entry["source"] != FOREIGN_SOURCE for envelope in entry["envelope_ids"]
        )
        messages = drain(sqs, queue_url, sum(expected.values()))
        assert Counter(message["id"] for message in messages) == expected

        by_envelope = {envelope: entry for entry in ledger for envelope in entry["envelope_ids"]}
        for message in messages:
            entry = by_envelope[message["id"]]
            assert message["source"] == source_name
            assert message["detail-type"] == entry["type"]
            assert message["resources"] == entry["resources"]
            detail = message["detail"]
            if entry["malformed"] == "garbage_detail":
                assert "eventId" not in detail
            elif entry["shape"] == "2024-11-01":
                assert detail["eventId"] == entry["event_id"]
                assert detail["eventDescriptor"] == entry["type"]
                assert detail["subscriptionId"] == entry["subscription_id"]
                assert detail["apiVersion"] == "2024-11-01"
                if entry["malformed"] is None:
                    assert detail["contextKeys"] == {"installationId": installed.installation_id}
            elif entry["shape"] == "legacy":
                assert detail["eventType"] == entry["type"]
                assert detail["contextKeys"]["installationId"] == installed.installation_id
            else:
                assert detail == {}

        # An order event names an order the API can return to the consumer.
        order_entry = next(e for e in ledger if e["type"] == "ORDER_CONFIRMED" and e["malformed"] is None)
        order = installed.graphql(ORDER_QUERY, {"orderIdentifier": {"orderId": order_entry["order_id"]}}).json()
        assert order["data"]["order"]["id"] == order_entry["order_id"]


def test_events_without_an_associated_bus_are_recorded_as_undelivered(local_sandbox: SandboxHandle) -> None:
    settings = local_sandbox.settings
    with installed_app(local_sandbox) as installed:
        name = f"nobus-{secrets.token_hex(4)}"
        answer = subscribe(installed, "ORDER_CONFIRMED", name, aws.LOCAL_ACCOUNT_ID, settings.region)
        assert "errors" not in answer
        result = local_sandbox.client.emit(orders=2, lifecycle="delivered", shapes=["2024-11-01"])
    assert result["published"] == 2
    assert result["undelivered"] == 2
    assert all("no event bus is associated" in entry["error"] for entry in result["entries"])


def _types(steps: list[Any]) -> list[str]:
    from bwp_workshop.sandbox.order_lifecycles import lifecycle_types

    for name, candidate in LIFECYCLES.items():
        if candidate is steps:
            return lifecycle_types(name)
    return []


def test_subscriptions_can_be_read_listed_and_deleted(local_sandbox: SandboxHandle) -> None:
    settings = local_sandbox.settings
    name = f"crud-{secrets.token_hex(4)}"
    with installed_app(local_sandbox) as installed:
        ids = [
            subscribe(installed, event_type, name, aws.LOCAL_ACCOUNT_ID, settings.region)["data"][
                "createEventSubscription"
            ]["subscriptionId"]
            for event_type in ("ORDER_CONFIRMED", "REFUND_COMPLETED", "PACKAGE_DELIVERED")
        ]
        one = installed.graphql(
            """query($id: String!) { eventSubscription(subscriptionId: $id) {
                subscriptionId targetId
                eventSubscriptionDetails { eventType destination { ... on EventBridgeData { arn } } }
            } }""",
            {"id": ids[1]},
        ).json()["data"]["eventSubscription"]
        merchant = local_sandbox.client.merchants()[0]
        assert one == {
            "subscriptionId": ids[1],
            "targetId": merchant["businessProductId"],
            "eventSubscriptionDetails": {
                "eventType": "REFUND_COMPLETED",
                "destination": {
                    "arn": f"arn:aws:events:{settings.region}::event-source/aws.partner/buywithprime/{name}"
                },
            },
        }
        page = installed.graphql(
            "{ eventSubscriptions(first: 2) { totalCount edges { node { id } } pageInfo { hasNextPage } } }"
        ).json()["data"]["eventSubscriptions"]
        assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"]
        assert [edge["node"]["id"] for edge in page["edges"]] == sorted(ids[:2], key=ids.index)
        deleted = installed.graphql(
            "mutation($id: String!) { deleteEventSubscription(subscriptionId: $id) { subscriptionId } }",
            {"id": ids[0]},
        ).json()
        assert deleted == {"data": {"deleteEventSubscription": {"subscriptionId": ids[0]}}}
        assert [s["subscriptionId"] for s in local_sandbox.client.subscriptions(installed.installation_id)] == ids[1:]
        # An ORDER_CONFIRMED event now has no subscription to go to.
        result = local_sandbox.client.emit(orders=1, lifecycle="delivered")
        assert {entry["type"] for entry in result["entries"]} == {"PACKAGE_DELIVERED"}


def test_subscribing_again_after_a_local_aws_reset_recreates_the_source(
    local_sandbox: SandboxHandle, local_aws: LocalRuntime
) -> None:
    settings = local_sandbox.settings
    name = f"reset-{secrets.token_hex(4)}"
    source_name = f"aws.partner/buywithprime/{name}"
    events = aws.client("events", settings)
    with installed_app(local_sandbox) as installed:
        assert "errors" not in subscribe(installed, "ORDER_CONFIRMED", name, aws.LOCAL_ACCOUNT_ID, settings.region)
        local_aws.reset()
        assert "errors" not in subscribe(installed, "REFUND_COMPLETED", name, aws.LOCAL_ACCOUNT_ID, settings.region)
    assert events.describe_event_source(Name=source_name)["Name"] == source_name


def test_spread_hours_places_each_order_history_in_the_past(local_sandbox: SandboxHandle) -> None:
    from datetime import UTC, datetime, timedelta

    settings = local_sandbox.settings
    with installed_app(local_sandbox) as installed:
        name = f"history-{secrets.token_hex(4)}"
        for event_type in ("ORDER_CONFIRMED", "PACKAGE_DELIVERY_IN_TRANSIT", "PACKAGE_DELIVERED"):
            assert "errors" not in subscribe(installed, event_type, name, aws.LOCAL_ACCOUNT_ID, settings.region)
        result = local_sandbox.client.emit(orders=4, lifecycle="delivered", spread_hours=48, seed=3)
    now = datetime.now(UTC)
    by_order: dict[str, list[datetime]] = {}
    for entry in result["entries"]:
        when = datetime.fromisoformat(entry["published_at"].replace("Z", "+00:00"))
        assert now - timedelta(hours=48, minutes=1) <= when <= now
        by_order.setdefault(entry["order_id"], []).append(when)
    assert len(by_order) == 4
    assert all(times == sorted(times) for times in by_order.values())
    assert min(min(times) for times in by_order.values()) < now - timedelta(hours=1)


class _FlakyEvents:
    """The local AWS's EventBridge client, except that the first PutEvents refuses the entries
    whose detail says ``"flaky": true`` (they are not sent; their results carry an error, as
    a throttled PutEvents reports them) and the second raises before sending anything. Each
    call first checks that the ledger already holds every entry of the batch."""

    def __init__(self, real: Any, ledger: Any) -> None:
        self.real, self.ledger, self.calls = real, ledger, 0
        self.exceptions = real.exceptions

    def describe_event_bus(self, **kwargs: Any) -> Any:
        return self.real.describe_event_bus(**kwargs)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        recorded = {json.loads(entry["detail"])["n"] for entry in (e["data"] for e in self.ledger())}
        assert {json.loads(e["Detail"])["n"] for e in Entries} <= recorded, "PutEvents before the ledger entry"
        if self.calls == 2:
            raise ConnectionError("the local AWS went away for a moment")
        if self.calls > 1:
            return self.real.put_events(Entries=Entries)
        sent = [e for e in Entries if not json.loads(e["Detail"]).get("flaky")]
        answer = iter(self.real.put_events(Entries=sent)["Entries"]) if sent else iter(())
        return {
            "Entries": [
                {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
                if json.loads(e["Detail"]).get("flaky")
                else next(answer)
                for e in Entries
            ]
        }


def test_publishing_records_the_ledger_first_and_retries_failed_entries(
    local_settings: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    from types import SimpleNamespace

    from bwp_workshop.sandbox import event_source
    from bwp_workshop.sandbox.database import SandboxDatabase

    monkeypatch.setattr(event_source, "PUBLISH_BACKOFF_S", 0.001)
    source_name = f"aws.partner/buywithprime/retry-{secrets.token_hex(4)}"
    aws.client("events", local_settings).create_partner_event_source(Name=source_name, Account=aws.LOCAL_ACCOUNT_ID)
    sqs, queue_url = route_to_queue(local_settings, source_name)
    db = SandboxDatabase(tmp_path / "sandbox")
    publisher = event_source.EventSource.__new__(event_source.EventSource)
    publisher.db = db
    publisher.sandbox = SimpleNamespace(settings=local_settings)  # type: ignore[assignment]
    flaky = _FlakyEvents(
        aws.client("events", local_settings),
        lambda: [{"data": {"detail": entry["detail"]}} for entry in db.ledger()],
    )
    publisher.subscriptions = SimpleNamespace(events_client=lambda region: flaky)  # type: ignore[assignment]
    outgoing = []
    for n in range(12):
        detail = json.dumps({"n": n, "flaky": n % 4 == 0})
        outgoing.append(
            {
                "region": local_settings.region,
                "bus": source_name,
                "entry": {"Source": source_name, "DetailType": "T", "Detail": detail},
                "ledger": {
                    "n": n,
                    "detail": detail,
                    "deliveries": 0,
                    "envelope_ids": [],
                    "delivered": False,
                    "error": "",
                },
            }
        )
    entries = publisher._publish_recorded(outgoing, outgoing)
    assert flaky.calls >= 3  # the refused entries went again, after a failed call too
    ledger = db.ledger()
    assert [entry["n"] for entry in ledger] == list(range(12))
    assert all(entry["delivered"] and entry["deliveries"] == 1 and entry["error"] == "" for entry in ledger)
    assert entries == [{k: v for k, v in entry.items() if k != "seq"} for entry in ledger]
    received = drain(sqs, queue_url, 12)
    assert sorted(message["detail"]["n"] for message in received) == list(range(12))
