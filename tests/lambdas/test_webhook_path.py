"""The webhook path and the EventBridge path meet in one queue and one handler: an event the
app's webhook put on the webhook bus (source ``names.WEBHOOK_EVENT_SOURCE``, the 2024-11-01
payload as ``detail``) is stored as the partner bus's delivery of it would be, under its
``eventId``, so the same event is stored once whichever path brought it, or both. A source the
handler was not configured with is still refused."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from bwp_workshop import names
from tests import events as samples

from . import doubles
from .doubles import BP, sqs_record, stored


@pytest.fixture(autouse=True)
def sample_order(bwp: Any) -> None:
    bwp.orders["order-sample-1"] = {**bwp.orders["o-1"], "id": "order-sample-1"}


def _through_the_webhook(partner_body: str) -> str:
    """The same event as the webhook bus delivers it: another envelope, the webhook's source."""
    envelope = json.loads(partner_body)
    envelope.update(id=str(uuid.uuid4()), source=names.WEBHOOK_EVENT_SOURCE, resources=[])
    return json.dumps(envelope)


def invoke(handler_module: Any, processor: Any, *bodies: str) -> dict[str, Any]:
    records = [sqs_record(body, message_id=f"m-{n}") for n, body in enumerate(bodies)]
    return doubles.invoke(handler_module, processor, {"Records": records})


def test_the_same_event_by_both_paths_is_stored_once(
    handler_module: Any, processor: Any, tables: dict[str, Any]
) -> None:
    partner = samples.body(
        "order_confirmed_2024_11_01_no_context_keys.json", installation="inst-1", business_product=BP
    )
    webhook = _through_the_webhook(partner)
    assert invoke(handler_module, processor, webhook) == {"batchItemFailures": []}
    assert invoke(handler_module, processor, partner, webhook) == {"batchItemFailures": []}
    items = stored(tables)
    event_id = json.loads(partner)["detail"]["eventId"]
    assert list(items) == [event_id]
    item = items[event_id]
    assert (item["installation_id"], item["enriched"], item["order_id"]) == ("inst-1", True, "order-sample-1")
    assert item["installation_from"] == "businessProduct"  # from detail.resources: the webhook's envelope has none


def test_a_webhook_event_is_refused_where_the_webhook_source_is_not_configured(
    handler_module: Any, make_processor: Any, tables: dict[str, Any]
) -> None:
    processor = make_processor()
    processor.config = processor.config.__class__(**{**processor.config.__dict__, "webhook_event_source": ""})
    partner = samples.body(
        "order_confirmed_2024_11_01_no_context_keys.json", installation="inst-1", business_product=BP
    )
    answer = invoke(handler_module, processor, _through_the_webhook(partner))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}  # left to the redrive: no DLQ URL here
    assert stored(tables) == {}
