"""Tenant integrity: ``detail.contextKeys.installationId`` is only a hint. The rows of the
security review (M2), sent as the queue would deliver them: an event whose business product
belongs to another installation than the one it claims is dead-lettered on its first receive
with the reason ``tenant_mismatch``, and no installation's token is spent on it. A forged
message consistent in every field is refused earlier, by the queues' policies (only the rule
may send: tests/stacks/test_event_stack_template.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bwp_workshop import aws
from bwp_workshop.core.tokens import TokenSet
from bwp_workshop.names import METRIC_DUPLICATES, METRIC_STORED
from bwp_workshop.settings import Settings

from .doubles import BP, FakeBwp, counted, envelope, invoke, sqs_record, stored

#: inst-1 owns BP (the tables fixture); the attacker's installation owns its own.
VICTIM, VICTIM_BP = "inst-1", BP
ATTACKER, ATTACKER_BP = "inst-att", "bp-att"


@pytest.fixture
def dead_lettering_processor(
    make_processor: Any, tables: dict[str, Any], event_queues: dict[str, str], lambda_settings: Settings
) -> Any:
    tables["business_products"].put(ATTACKER_BP, ATTACKER)
    tables["tokens"].put(ATTACKER, TokenSet(access_token="at-att", refresh_token="rt-att", expires_in=900))
    processor = make_processor()
    processor.config = type(processor.config)(
        **{**processor.config.__dict__, "dead_letter_queue_url": event_queues["dlq_url"]}
    )
    processor.sqs = aws.client("sqs", lambda_settings)
    return processor


def dead_letter_reasons(processor: Any, handler_module: Any, dlq_url: str) -> list[str]:
    messages = processor.sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return [
        m["MessageAttributes"][handler_module.FAILURE_REASON_ATTRIBUTE]["StringValue"]
        for m in messages.get("Messages", [])
    ]


ROWS = {
    # The victim's installation claimed, with a business product that is nobody's.
    "forged-victim-ctx": (VICTIM, ["businessProduct/bp-forged/order/o-1"], "bp-forged belongs to no installation"),
    # The attacker's installation with the victim's business product and order.
    "ctx-att-bp-victim": (ATTACKER, [f"businessProduct/{VICTIM_BP}/order/o-1"], f"{VICTIM_BP} belongs to {VICTIM}"),
    # The victim's installation with the attacker's business product.
    "ctx-victim-bp-att": (VICTIM, [f"businessProduct/{ATTACKER_BP}/order/o-9"], f"{ATTACKER_BP} belongs to {ATTACKER}"),
    # Two business products of two installations in one event.
    "two-tenants": (
        None,
        [f"businessProduct/{ATTACKER_BP}/order/o-9", f"businessProduct/{VICTIM_BP}/order/o-1"],
        f"{VICTIM_BP} belongs to {VICTIM}, not to {ATTACKER}",
    ),
}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_a_business_product_of_another_installation_is_dead_lettered_as_tenant_mismatch(
    handler_module: Any,
    dead_lettering_processor: Any,
    tables: dict[str, Any],
    event_queues: dict[str, str],
    bwp: FakeBwp,
    row: str,
) -> None:
    installation, resources, detail = ROWS[row]
    body = envelope(installation=installation, resources=resources)
    record = sqs_record(body, receive_count=1, message_id=f"m-{row}")
    response = invoke(handler_module, dead_lettering_processor, {"Records": [record]})
    assert response == {"batchItemFailures": []}  # handled: dead-lettered on its first receive
    assert not stored(tables)
    (reason,) = dead_letter_reasons(dead_lettering_processor, handler_module, event_queues["dlq_url"])
    assert reason.startswith("tenant_mismatch: ") and detail in reason
    assert bwp.graphql_requests == [] and bwp.token_requests == 0  # no tenant's token was spent


def test_a_business_product_of_the_claimed_installation_is_stored(
    handler_module: Any, dead_lettering_processor: Any, tables: dict[str, Any], event_queues: dict[str, str]
) -> None:
    """The control: both fields agree, for each tenant."""
    bodies = [
        envelope(installation=VICTIM, resources=[f"businessProduct/{VICTIM_BP}/order/o-1"]),
        envelope(installation=ATTACKER, resources=[f"businessProduct/{ATTACKER_BP}/items/sku-1"]),
        envelope(installation=None, resources=[f"businessProduct/{ATTACKER_BP}/items/sku-2"]),
    ]
    records = [sqs_record(body, message_id=f"m-{n}") for n, body in enumerate(bodies)]
    assert invoke(handler_module, dead_lettering_processor, {"Records": records}) == {"batchItemFailures": []}
    items = sorted((item["installation_id"], item["installation_from"]) for item in stored(tables).values())
    assert items == [(VICTIM, "contextKeys"), (ATTACKER, "businessProduct"), (ATTACKER, "contextKeys")]
    assert dead_letter_reasons(dead_lettering_processor, handler_module, event_queues["dlq_url"]) == []


def test_without_a_business_product_table_a_claim_cannot_be_checked_and_is_refused(
    handler_module: Any, processor: Any, tables: dict[str, Any]
) -> None:
    processor.business_products = None
    record = sqs_record(envelope(), message_id="m")
    assert invoke(handler_module, processor, {"Records": [record]}) == {"batchItemFailures": [{"itemIdentifier": "m"}]}
    assert not stored(tables)


def test_one_tenants_event_id_does_not_suppress_anothers(
    handler_module: Any, dead_lettering_processor: Any, tables: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The review's p09: the attacker's event carries the id of the victim's coming event; the
    victim's event is still stored (records are keyed by installation and event id), and a
    redelivery of either is still refused by the conditional put."""
    event_id = "evt-c48cf247-known"
    forged = envelope("FORGED_FIRST", installation=ATTACKER, resources=[f"businessProduct/{ATTACKER_BP}/items/s-1"])
    genuine = envelope(installation=VICTIM, resources=[f"businessProduct/{VICTIM_BP}/order/o-1"])
    forged["detail"]["eventId"] = genuine["detail"]["eventId"] = event_id
    for body in (forged, genuine, genuine, forged):
        record = sqs_record(body)
        assert invoke(handler_module, dead_lettering_processor, {"Records": [record]}) == {"batchItemFailures": []}
    items = tables["data"].scan(ConsistentRead=True)["Items"]
    assert sorted((item["installation_id"], item["event_id"], item["event_type"]) for item in items) == [
        (VICTIM, event_id, "ORDER_CONFIRMED"),
        (ATTACKER, event_id, "FORGED_FIRST"),
    ]
    metrics = counted(capsys.readouterr().out)
    assert (metrics[METRIC_STORED], metrics[METRIC_DUPLICATES]) == (2, 2)
