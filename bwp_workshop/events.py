"""The event pipeline from a notebook or the CLI: send test events, wait until the event
Lambda has recorded them, read the data table, peek at the dead-letter queue and move its
messages back to the event queue (redrive).

On the local target the Buy with Prime sandbox emits the events (merchant activity: orders
walking their lifecycle), so they travel the whole way: partner bus, rule, queue, the local
event runner, the handler, the data table. ``via="queue"`` instead puts synthetic catalog
events for one installation straight onto the EventStack queue (on either target), to check
the consumer alone.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from . import aws, names
from .errors import ConfigurationError, WorkshopError
from .outputs import stack_output
from .settings import Settings, get_settings


def _plain(value: Any) -> Any:
    """DynamoDB values as plain Python (Decimal -> int or float), for pandas and JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(item) for item in value]
    return value


def data_table_name(settings: Settings | None = None) -> str:
    return stack_output(settings or get_settings(), names.EVENT_STACK, names.OUT_DATA_TABLE)


def data_records(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every item of the data table (one per recorded event), oldest received first."""
    settings = settings or get_settings()
    client = aws.client("dynamodb", settings)
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=data_table_name(settings), ConsistentRead=True):
        for raw in page.get("Items", []):
            items.append(_plain({key: deserializer.deserialize(value) for key, value in raw.items()}))
    return sorted(items, key=lambda item: (str(item.get("received_at", "")), str(item.get(names.DATA_PK))))


def count_records(settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    client = aws.client("dynamodb", settings)
    total = 0
    for page in client.get_paginator("scan").paginate(
        TableName=data_table_name(settings), Select="COUNT", ConsistentRead=True
    ):
        total += int(page.get("Count", 0))
    return total


def wait_for_records(
    n: int, timeout: float = 60.0, progress: bool = True, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Wait until the data table holds at least ``n`` records (with a progress bar), then
    return them all. Raises a :class:`WorkshopError` that says where to look on timeout."""
    settings = settings or get_settings()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="records", unit="event")
    deadline = time.monotonic() + timeout
    delay = 0.1
    try:
        while True:
            count = count_records(settings)
            if bar is not None:
                bar.update(min(count, n) - bar.n)
            if count >= n:
                return data_records(settings)
            if time.monotonic() > deadline:
                where = (
                    "Is the event runner up (`bwp-workshop local status`)? Its log is .bwp/logs/event-runner.log."
                    if settings.is_local
                    else "Check the Lambda's log group and the event source mapping in the console."
                )
                raise WorkshopError(
                    f"Only {count} of {n} records arrived in the data table within {timeout:.0f} s.",
                    hint=f"{where} Failed events wait in the dead-letter queue: `bwp-workshop events dlq`.",
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
    finally:
        if bar is not None:
            bar.close()


def dlq_messages(settings: Settings | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """A look at the dead-letter queue without removing anything: up to ``limit`` messages
    with their id, receive count, sent time and body (parsed when it is JSON)."""
    settings = settings or get_settings()
    sqs = aws.client("sqs", settings)
    url = stack_output(settings, names.EVENT_STACK, names.OUT_DLQ_URL)
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    try:
        while len(seen) < limit:
            # Received messages stay hidden while we look, so each receive returns new ones;
            # they are made visible again below (a peek on SQS still counts as a receive).
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=30,
                AttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                try:
                    body: Any = json.loads(message.get("Body", ""))
                except ValueError:
                    body = message.get("Body", "")
                attributes = message.get("Attributes", {})
                sent = int(attributes.get("SentTimestamp", "0")) / 1000
                seen[message["MessageId"]] = {
                    "message_id": message["MessageId"],
                    "receive_count": int(attributes.get("ApproximateReceiveCount", "0")),
                    "sent_at": datetime.fromtimestamp(sent, UTC).isoformat(timespec="seconds") if sent else "",
                    "body": body,
                }
    finally:
        for start in range(0, len(handles), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(handles[start : start + 10])
            ]
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    return list(seen.values())


#: How a redrive moves messages: SQS's own message move task, or receive, send and delete.
REDRIVE_METHODS = ("auto", "move-task", "copy")


def redrive_dead_letters(
    settings: Settings | None = None, *, method: str = "auto", timeout: float = 300.0
) -> dict[str, Any]:
    """Move every message of the dead-letter queue back to the event queue, where the event
    Lambda gets it again; returns ``{"method", "moved", "failed"}``.

    ``method="auto"`` uses SQS's message move task (``StartMessageMoveTask``) on aws and waits
    for it to finish; the local AWS (moto 5.2.5) has no move task, so there each message is
    received, sent to the event queue and only then deleted from the dead-letter queue
    (``"copy"``): a failure leaves it where it was, nothing is lost. A message moved twice
    (a delete that failed after its send) is harmless: the data table's conditional put stores
    an event once. A message that can never succeed comes back to the dead-letter queue; one
    that arrives there after the redrive began is left for the next redrive (so a running
    consumer and the redrive never pass a message back and forth)."""
    settings = settings or get_settings()
    if method not in REDRIVE_METHODS:
        raise ConfigurationError(
            f"Unknown redrive method {method!r}.", hint=f"Use one of {', '.join(REDRIVE_METHODS)}."
        )
    if method == "auto":
        method = "copy" if settings.is_local else "move-task"
    sqs = aws.client("sqs", settings)
    dlq_url = stack_output(settings, names.EVENT_STACK, names.OUT_DLQ_URL)
    queue_url = stack_output(settings, names.EVENT_STACK, names.OUT_QUEUE_URL)
    if method == "move-task":
        return _redrive_with_move_task(sqs, dlq_url, queue_url, timeout)
    return _redrive_by_copy(sqs, dlq_url, queue_url, timeout)


def _redrive_with_move_task(sqs: Any, dlq_url: str, queue_url: str, timeout: float) -> dict[str, Any]:
    def arn(url: str) -> str:
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    source, destination = arn(dlq_url), arn(queue_url)
    task = sqs.start_message_move_task(SourceArn=source, DestinationArn=destination)["TaskHandle"]
    deadline = time.monotonic() + timeout
    delay = 1.0
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source, MaxResults=10).get("Results", [])
        current = next((t for t in tasks if t.get("TaskHandle") == task), tasks[0] if tasks else {})
        status = current.get("Status", "")
        if status in {"COMPLETED", "FAILED", "CANCELLED"}:
            moved = int(current.get("ApproximateNumberOfMessagesMoved", 0))
            if status != "COMPLETED":
                raise WorkshopError(
                    f"The redrive stopped ({status}) after {moved} messages: {current.get('FailureReason', '')}",
                    hint="What was not moved is still in the dead-letter queue; run the redrive again.",
                )
            return {"method": "move-task", "moved": moved, "failed": 0}
        if time.monotonic() > deadline:
            raise WorkshopError(
                f"The redrive is still running after {timeout:.0f} s "
                f"({current.get('ApproximateNumberOfMessagesMoved', 0)} moved so far).",
                hint="It goes on in SQS; look at the dead-letter queue in the console.",
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 5.0)


def _redrive_by_copy(sqs: Any, dlq_url: str, queue_url: str, timeout: float) -> dict[str, Any]:
    moved = failed = 0
    seen: set[str] = set()
    started_ms = int(time.time() * 1000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Hidden while they are moved; a message whose send fails shows again after 60 s, and so
        # does one that arrived after the redrive began (it is not moved).
        response = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
            AttributeNames=["SentTimestamp"],
            MessageAttributeNames=["All"],
        )
        received = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not received:
            break
        seen.update(m["MessageId"] for m in received)
        messages = [m for m in received if int(m.get("Attributes", {}).get("SentTimestamp", 0)) < started_ms]
        if not messages:
            continue
        entries = []
        for n, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(n), "MessageBody": message.get("Body", "")}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent = {entry["Id"] for entry in answer.get("Successful", [])}
        failed += len(messages) - len(sent)
        done = [
            {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]}
            for n, message in enumerate(messages)
            if str(n) in sent
        ]
        if done:
            deleted = sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
            moved += len(deleted.get("Successful", []))
    return {"method": "copy", "moved": moved, "failed": failed}


def queue_depths(settings: Settings | None = None) -> dict[str, int]:
    """Messages waiting (visible + in flight) in the event queue and the dead-letter queue."""
    settings = settings or get_settings()
    sqs = aws.client("sqs", settings)
    depths = {}
    for name, key in (("queue", names.OUT_QUEUE_URL), ("dead_letter_queue", names.OUT_DLQ_URL)):
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack_output(settings, names.EVENT_STACK, key),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return depths


def catalog_event(installation_id: str, *, business_product_id: str = "unknown", sku: str = "test-sku") -> dict:
    """A BUYABILITY_CHANGED event in the 2024-11-01 shape, as the partner bus delivers it."""
    event_id = str(uuid.uuid4())
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    resources = [f"businessProduct/{business_product_id}/items/{sku}"]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "BUYABILITY_CHANGED",
        "source": f"{names.PARTNER_SOURCE_PREFIX}/workshop-test",
        "account": "000000000000",
        "time": now,
        "region": "us-east-1",
        "resources": resources,
        "detail": {
            "eventId": event_id,
            "idempotencyKey": event_id,
            "eventDescriptor": "BUYABILITY_CHANGED",
            "resources": resources,
            "apiVersion": "2024-11-01",
            "eventTime": now,
            "data": {},
            "contextKeys": {"installationId": installation_id},
        },
    }


def send_to_queue(bodies: list[str], settings: Settings | None = None) -> list[str]:
    """Put message bodies straight onto the EventStack queue; their message ids."""
    settings = settings or get_settings()
    sqs = aws.client("sqs", settings)
    url = stack_output(settings, names.EVENT_STACK, names.OUT_QUEUE_URL)
    ids: list[str] = []
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        answer = sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
        )
        if answer.get("Failed"):
            raise WorkshopError(f"The queue refused {len(answer['Failed'])} messages.", hint="Try again.")
        ids.extend(entry["MessageId"] for entry in answer.get("Successful", []))
    return ids


def send_test_events(
    count: int = 5,
    *,
    settings: Settings | None = None,
    installation_id: str | None = None,
    duplicates: int = 0,
    malformed: int = 0,
    via: str = "auto",
    history_hours: float = 0.0,
) -> dict[str, Any]:
    """Send test events; returns ``{"via", "event_ids", "malformed", "messages"}`` where
    ``event_ids`` are the distinct valid events the data table should end up holding.

    ``via="sandbox"`` (the default on local): the sandbox simulates ``count`` orders of the
    installation's merchant walking their lifecycles; ``duplicates`` of the events are
    delivered twice, and ``malformed`` broken events are added; ``history_hours`` places the
    orders at random times over that many past hours. ``via="queue"``: ``count``
    synthetic BUYABILITY_CHANGED events of ``installation_id`` (default: BWP_INSTALLATION_ID)
    go straight onto the queue, plus ``duplicates`` repeats and ``malformed`` bodies that are
    not events."""
    settings = settings or get_settings()
    if via == "auto":
        via = "sandbox" if settings.is_local else "queue"
    if via == "sandbox":
        return _send_through_sandbox(settings, count, installation_id, duplicates, malformed, history_hours)
    if via != "queue":
        raise ConfigurationError(f"Unknown way to send events: {via!r}.", hint="Use 'sandbox' or 'queue'.")
    installation_id = installation_id or settings.installation_id
    if not installation_id:
        raise ConfigurationError(
            "No installation to send test events for.",
            hint="Set BWP_INSTALLATION_ID (the id an install gave you) or pass installation_id=...",
        )
    events = [catalog_event(installation_id) for _ in range(count)]
    bodies = [json.dumps(event) for event in events]
    bodies += bodies[:duplicates]
    bodies += [json.dumps({"test": "not a Buy with Prime event", "n": i}) for i in range(malformed)]
    messages = send_to_queue(bodies, settings)
    return {
        "via": "queue",
        "event_ids": [event["detail"]["eventId"] for event in events],
        "malformed": malformed,
        "messages": len(messages),
    }


def _send_through_sandbox(
    settings: Settings,
    orders: int,
    installation_id: str | None,
    duplicates: int,
    malformed: int,
    history_hours: float = 0.0,
) -> dict[str, Any]:
    if not settings.is_local:
        raise ConfigurationError(
            "The Buy with Prime sandbox exists only on the local target.",
            hint="On aws, real events come from your store; use via='queue' to test the consumer alone.",
        )
    from .sandbox.client import SandboxClient
    from .sandbox.events import MALFORMATIONS, record_key

    kinds = [MALFORMATIONS[i % len(MALFORMATIONS)] for i in range(malformed)]
    with SandboxClient(settings) as sandbox:
        result = sandbox.emit(
            orders,
            installation_id=installation_id or settings.installation_id or None,
            duplicates=duplicates,
            malformed=kinds,
            spread_hours=history_hours,
        )
    entries = result.get("entries", [])
    valid = [e for e in entries if e.get("malformed") is None and record_key(e) is not None]
    return {
        "via": "sandbox",
        "event_ids": [record_key(entry) for entry in valid],
        "malformed": len(entries) - len(valid),
        "messages": int(result.get("deliveries", len(entries))),
        "undelivered": int(result.get("undelivered", 0)),
    }
