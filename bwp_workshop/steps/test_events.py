"""The workshop's synthetic test events: BUYABILITY_CHANGED events of one installation (named
by its own business product, as Buy with Prime would), repeats, and bodies that are not events,
to check the consumer alone.

``via="eventbridge"`` (the way on aws): PutEvents onto EventStack's test bus, as the stack's
operator role (the bus takes events from no one else); the test rule delivers them to the event
queue as the partner bus's rule delivers Buy with Prime's, with the source
``bwp-workshop.test-events`` (the handler accepts it besides the subscribed partner source).
Never straight onto the queue on aws: its policy takes messages only from the rules.
``via="queue"`` (local only): the same events as the partner bus would deliver them, straight
onto the queue.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from .. import aws, environments, names
from ..errors import ConfigurationError, WorkshopError
from ..outputs import load_outputs, stack_output
from ..settings import Settings
from .operator_role import operator_client
from .pipeline import send_to_queue

#: The detail-type of a test body that is not an event (no tenant: dead-lettered).
NOT_AN_EVENT = "NOT_A_BUY_WITH_PRIME_EVENT"
#: PutEvents takes at most this many entries per call.
_PUT_EVENTS_MAX = 10


def catalog_event(
    installation_id: str, *, source: str, business_product_id: str = "unknown", sku: str = "test-sku"
) -> dict:
    """A BUYABILITY_CHANGED event in the 2024-11-01 shape, as the partner bus ``source``
    delivers it."""
    event_id = str(uuid.uuid4())
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    resources = [f"businessProduct/{business_product_id}/items/{sku}"]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "BUYABILITY_CHANGED",
        "source": source,
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


def installation_business_product(settings: Settings, installation_id: str) -> str:
    """The business product the OAuth app recorded for ``installation_id`` at install: the
    handler stores an event under an installation only when its business product is that
    installation's."""
    from ..core.business_products import BusinessProductMap

    table = stack_output(settings, names.INFRA_STACK, names.OUT_BUSINESS_PRODUCT_TABLE)
    products = BusinessProductMap(aws.resource("dynamodb", settings).Table(table)).of_installation(installation_id)
    if not products:
        raise ConfigurationError(
            f"The installation {installation_id} has no business product recorded.",
            hint="Install the app again (its install records the store's business product), then send.",
        )
    return sorted(products)[0]


def send_to_test_bus(entries: list[dict[str, Any]], settings: Settings) -> int:
    """PutEvents ``entries`` onto EventStack's test bus as its operator role; how many."""
    bus = load_outputs(settings).get(names.EVENT_STACK, {}).get(names.OUT_TEST_EVENT_BUS)
    if not bus:
        raise ConfigurationError(
            "The deployed EventStack has no test event bus.", hint="Deploy EventStack again (notebook 05)."
        )
    client = operator_client("events", settings)
    for start in range(0, len(entries), _PUT_EVENTS_MAX):
        chunk = [{**entry, "EventBusName": bus} for entry in entries[start : start + _PUT_EVENTS_MAX]]
        answer = client.put_events(Entries=chunk)
        if answer.get("FailedEntryCount"):
            codes = sorted({e.get("ErrorCode", "") for e in answer.get("Entries", []) if e.get("ErrorCode")})
            raise WorkshopError(
                f"The test bus refused {answer['FailedEntryCount']} events ({', '.join(codes)}).", hint="Try again."
            )
    return len(entries)


def send_synthetic(
    settings: Settings, count: int, installation_id: str | None, duplicates: int, malformed: int, via: str
) -> dict[str, Any]:
    """Send ``count`` synthetic events (plus ``duplicates`` repeats and ``malformed`` bodies)
    ``via`` ``"eventbridge"`` or ``"queue"``; the part of :func:`~.pipeline.send_test_events`'s
    answer that describes them."""
    if via not in {"eventbridge", "queue"}:
        raise ConfigurationError(
            f"Unknown way to send events: {via!r}.", hint="Use 'sandbox' (local), 'eventbridge' or 'queue' (local)."
        )
    installation_id = installation_id or settings.installation_id
    if not installation_id:
        raise ConfigurationError(
            "No installation to send test events for.",
            hint="Set BWP_INSTALLATION_ID (the id an install gave you) or pass installation_id=...",
        )
    business_product = installation_business_product(settings, installation_id)
    source = names.TEST_EVENT_SOURCE if via == "eventbridge" else environments.deployed_event_source(settings)
    events = [catalog_event(installation_id, source=source, business_product_id=business_product) for _ in range(count)]
    sent = events + events[:duplicates]
    junk = [{"test": "not a Buy with Prime event", "n": i} for i in range(malformed)]
    if via == "eventbridge":
        entries = [
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
            }
            for event in sent
        ]
        entries += [{"Source": source, "DetailType": NOT_AN_EVENT, "Detail": json.dumps(body)} for body in junk]
        messages = send_to_test_bus(entries, settings)
    else:
        messages = len(send_to_queue([json.dumps(body) for body in sent + junk], settings))
    return {
        "via": via,
        "event_ids": [event["detail"]["eventId"] for event in events],
        "keys": [(installation_id, event["detail"]["eventId"]) for event in events],
        "malformed": malformed,
        "messages": messages,
    }
