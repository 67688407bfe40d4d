"""The event pipeline from a notebook or the CLI: send test events, wait until the event
Lambda has recorded them, read the data table, peek at the dead-letter queue and move its
messages back to the event queue (redrive).

On the local target the Buy with Prime sandbox emits the events (merchant activity: orders
walking their lifecycle), so they travel the whole way: partner bus, rule, queue, the local
event runner, the handler, the data table. ``via="eventbridge"`` (the way on aws) sends
synthetic catalog events of one installation through EventStack's test bus, and
``via="queue"`` (local only) straight onto the queue, to check the consumer alone
(:mod:`.test_events`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from .. import aws, names
from ..core.data_record import plain
from ..errors import ConfigurationError, WorkshopError
from ..outputs import stack_output
from ..settings import Settings
from ..targets import choose_target


def data_table_name(settings: Settings) -> str:
    return stack_output(settings, names.EVENT_STACK, names.OUT_DATA_TABLE)


def data_records(settings: Settings) -> list[dict[str, Any]]:
    """Every item of the data table (one per recorded event), oldest received first."""
    client = aws.client("dynamodb", settings)
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=data_table_name(settings), ConsistentRead=True):
        for raw in page.get("Items", []):
            items.append(plain({key: deserializer.deserialize(value) for key, value in raw.items()}))
    return sorted(items, key=_arrival)


def count_records(settings: Settings) -> int:
    client = aws.client("dynamodb", settings)
    total = 0
    for page in client.get_paginator("scan").paginate(
        TableName=data_table_name(settings), Select="COUNT", ConsistentRead=True
    ):
        total += int(page.get("Count", 0))
    return total


#: BatchGetItem takes at most this many keys per call.
_BATCH_GET_MAX_KEYS = 100
#: How many of the missing ids a look at the data table asks for first.
_WAIT_PROBE_KEYS = 10
#: The first pause between two looks at the data table, and the longest.
_WAIT_FIRST_DELAY_S = 0.005
_WAIT_MAX_DELAY_S = 0.25


#: A data record's key: its installation and its event id.
RecordKey = tuple[str, str]


def record_keys(events: Iterable[str | RecordKey | list[str]], installation_id: str | None = None) -> list[RecordKey]:
    """The data-table keys of ``events``: ``(installation_id, event_id)`` pairs as they are (the
    ``keys`` that :func:`send_test_events` returns), or event ids of ``installation_id``."""
    keys: list[RecordKey] = []
    for event in events:
        if isinstance(event, str):
            if not installation_id:
                raise ConfigurationError(
                    "The data table is keyed by installation and event id: which installation's events?",
                    hint="Pass the keys send_test_events returns (sent['keys']), or installation_id=...",
                )
            keys.append((installation_id, event))
        else:
            installation, event_id = event
            keys.append((str(installation), str(event_id)))
    return list(dict.fromkeys(keys))


def _key(record: dict[str, Any]) -> RecordKey:
    return (str(record[names.DATA_PK]), str(record[names.DATA_SK]))


def _stored(client: Any, table: str, keys: list[RecordKey], *, keys_only: bool = False) -> list[dict[str, Any]]:
    """The data records of those of ``keys`` (at most 100) that are stored: one BatchGetItem by
    key, strongly consistent; unprocessed keys are asked again. With ``keys_only`` each record
    holds its key alone (a much smaller answer)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    found: list[dict[str, Any]] = []
    spec: dict[str, Any] = {
        "Keys": [
            {names.DATA_PK: {"S": installation}, names.DATA_SK: {"S": event_id}} for installation, event_id in keys
        ],
        "ConsistentRead": True,
    }
    if keys_only:
        spec.update(
            ProjectionExpression="#pk, #sk", ExpressionAttributeNames={"#pk": names.DATA_PK, "#sk": names.DATA_SK}
        )
    request: dict[str, Any] = {table: spec}
    while request:
        answer = client.batch_get_item(RequestItems=request)
        for raw in answer.get("Responses", {}).get(table, []):
            found.append(plain({key: deserializer.deserialize(value) for key, value in raw.items()}))
        request = answer.get("UnprocessedKeys") or {}
    return found


def wait_for_events(
    settings: Settings,
    event_ids: Iterable[str | RecordKey | list[str]],
    timeout: float = 60.0,
    progress: bool = True,
    *,
    installation_id: str | None = None,
) -> int:
    """Wait until the data table holds a record for each of ``event_ids`` (keys, or event ids
    of ``installation_id``, default BWP_INSTALLATION_ID: see :func:`record_keys`), with a
    progress bar that counts those events only; returns how many there are. Only the ids still missing are
    looked up again, by key (BatchGetItem asking for the key alone; never a Scan), after a
    pause that starts at a few milliseconds and doubles up to a quarter second. Raises a
    :class:`WorkshopError` that says where to look on timeout."""
    wanted = record_keys(event_ids, installation_id or settings.installation_id)
    missing = list(wanted)
    client = aws.client("dynamodb", settings)
    table = data_table_name(settings)
    bar = None
    if progress:
        from ..notebook.progress import bar as progress_bar

        bar = progress_bar(len(wanted), desc="records", unit="event")
    deadline = time.monotonic() + timeout
    delay = _WAIT_FIRST_DELAY_S
    try:
        while True:
            # Look up the missing ids oldest first: a probe of the first few, then (while each
            # look finds all it asked for) a hundred at a time. Events arrive about in the
            # order they were sent, so a look while they are still coming costs one small call,
            # not one per hundred ids still to come.
            arrived: set[RecordKey] = set()
            start, size = 0, _WAIT_PROBE_KEYS
            while start < len(missing):
                chunk = missing[start : start + size]
                got = {_key(record) for record in _stored(client, table, chunk, keys_only=True)}
                arrived |= got
                if len(got) < len(chunk):
                    break
                start, size = start + size, _BATCH_GET_MAX_KEYS
            missing = [key for key in missing if key not in arrived]
            if bar is not None:
                bar.update(len(wanted) - len(missing) - bar.n)
            if not missing:
                return len(wanted)
            if time.monotonic() > deadline:
                raise _not_arrived(settings, len(wanted) - len(missing), len(wanted), timeout)
            time.sleep(delay)
            delay = min(delay * 2, _WAIT_MAX_DELAY_S)
    finally:
        if bar is not None:
            bar.close()


def wait_for_records(
    settings: Settings,
    event_ids: Iterable[str | RecordKey | list[str]],
    timeout: float = 60.0,
    progress: bool = True,
    *,
    installation_id: str | None = None,
) -> list[dict[str, Any]]:
    """Wait until the data table holds a record for each of ``event_ids`` (the ``keys`` that
    :func:`send_test_events` returns, or event ids of ``installation_id``) as
    :func:`wait_for_events` does, progress bar included (it counts those events only and ends
    at 100 %); then returns their records, oldest received first (read once, by key)."""
    wanted = record_keys(event_ids, installation_id or settings.installation_id)
    wait_for_events(settings, wanted, timeout=timeout, progress=progress)
    client = aws.client("dynamodb", settings)
    table = data_table_name(settings)
    records: list[dict[str, Any]] = []
    for start in range(0, len(wanted), _BATCH_GET_MAX_KEYS):
        records += _stored(client, table, wanted[start : start + _BATCH_GET_MAX_KEYS])
    return sorted(records, key=_arrival)


def _arrival(record: dict[str, Any]) -> tuple[str, str]:
    return (str(record.get("received_at", "")), str(record.get(names.DATA_SK)))


def _not_arrived(settings: Settings, count: int, n: int, timeout: float) -> WorkshopError:
    where = choose_target(settings).events_not_arriving_hint()
    return WorkshopError(
        f"Only {count} of {n} records arrived in the data table within {timeout:.0f} s.",
        hint=f"{where} Failed events wait in the dead-letter queue: `bwp-workshop events dlq`.",
    )


def queue_depths(settings: Settings) -> dict[str, int]:
    """Messages waiting (visible + in flight) in the event queue and the dead-letter queue."""
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


def send_to_queue(bodies: list[str], settings: Settings) -> list[str]:
    """Put message bodies straight onto the EventStack queue; their message ids. Local only: on
    aws the queue takes messages only from EventStack's rules (test events go through the test
    bus: :mod:`.test_events`)."""
    if not choose_target(settings).queue_accepts_direct_sends:
        raise ConfigurationError(
            "On aws the event queue takes messages only from EventStack's rules.",
            hint="Send test events through EventBridge: send_test_events(via='eventbridge').",
        )
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
    settings: Settings,
    installation_id: str | None = None,
    duplicates: int = 0,
    malformed: int = 0,
    via: str = "auto",
    history_hours: float = 0.0,
) -> dict[str, Any]:
    """Send test events; returns ``{"via", "event_ids", "keys", "malformed", "messages",
    "sent_at", "dead_letter_depth"}`` where ``event_ids`` are the distinct valid events the data
    table should end up holding and ``keys`` their data-table keys ``(installation_id,
    event_id)`` (wait for them with :func:`wait_for_records`, for the malformed ones with
    :func:`wait_for_dead_letters`).

    ``via="sandbox"`` (the default on local): the sandbox simulates ``count`` orders of the
    installation's merchant walking their lifecycles; ``duplicates`` of the events are
    delivered twice, and ``malformed`` broken events are added; ``history_hours`` places the
    orders at random times over that many past hours. ``via="eventbridge"`` (the default on
    aws) and ``via="queue"`` (local only): ``count`` synthetic BUYABILITY_CHANGED events of
    ``installation_id`` (default: BWP_INSTALLATION_ID), plus ``duplicates`` repeats and
    ``malformed`` bodies that are not events, through EventStack's test bus or straight onto
    the queue (:mod:`.test_events`)."""
    target = choose_target(settings)
    if via == "auto":
        via = target.default_event_route
    target.prepare_event_delivery()
    before = {"sent_at": time.time(), "dead_letter_depth": queue_depths(settings)["dead_letter_queue"]}
    if via == "sandbox":
        return {**before, **target.send_merchant_activity(count, installation_id, duplicates, malformed, history_hours)}
    from .test_events import send_synthetic

    return {**before, **send_synthetic(settings, count, installation_id, duplicates, malformed, via)}
