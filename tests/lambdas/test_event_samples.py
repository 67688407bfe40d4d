"""The handler against the event samples of ``tests/events``: every documented shape, with and
without ``contextKeys``, stored once; new event types stored; an uninstalled installation's
event stored and marked; what can never succeed dead-lettered on its first receive."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bwp_workshop import aws
from bwp_workshop.core.events import parse_event
from bwp_workshop.names import METRIC_DEAD_LETTERED, METRIC_UNENRICHED
from bwp_workshop.settings import Settings
from tests import events as samples

from . import doubles
from .doubles import BP, counted, sqs_record, stored


@pytest.fixture(autouse=True)
def sample_order(bwp: Any) -> None:
    """The order the samples name, known to the API double."""
    bwp.orders["order-sample-1"] = {**bwp.orders["o-1"], "id": "order-sample-1"}


def sample(name: str, **options: Any) -> str:
    return samples.body(name, installation="inst-1", business_product=BP, **options)


def invoke(handler_module: Any, processor: Any, *bodies: str, receive_count: int = 1) -> dict[str, Any]:
    records = [sqs_record(body, receive_count=receive_count, message_id=f"m-{n}") for n, body in enumerate(bodies)]
    return doubles.invoke(handler_module, processor, {"Records": records})


@pytest.mark.parametrize("shape", sorted(samples.SHAPES))
def test_each_documented_shape_is_stored_once(
    handler_module: Any, processor: Any, tables: dict[str, Any], shape: str
) -> None:
    body = sample(samples.SHAPES[shape])
    assert invoke(handler_module, processor, body, body) == {"batchItemFailures": []}
    assert invoke(handler_module, processor, body) == {"batchItemFailures": []}  # redelivered later
    items = stored(tables)
    key = samples.key(json.loads(body))
    assert list(items) == [key]
    item = items[key]
    assert (item["installation_id"], item["enriched"], item["site_id"]) == ("inst-1", True, "site-1")
    assert item["order_id"] == "order-sample-1"
    carries_context_keys = "contextKeys" in (json.loads(body)["detail"] or {})
    assert item["installation_from"] == ("contextKeys" if carries_context_keys else "businessProduct")
    assert item["shape"] == shape.split(" ")[0]


@pytest.mark.parametrize("name", ["new_event_type_2024_11_01.json", "new_event_type_unknown_detail.json"])
def test_a_new_event_type_is_stored(handler_module: Any, processor: Any, tables: dict[str, Any], name: str) -> None:
    body = sample(name)
    assert invoke(handler_module, processor, body) == {"batchItemFailures": []}
    item = stored(tables)[samples.key(json.loads(body))]
    assert item["event_type"] == json.loads(body)["detail-type"]
    assert (item["installation_id"], item["enriched"], item["business_product_id"]) == ("inst-1", True, BP)
    assert "order_id" not in item  # no order: no order enrichment


def test_an_event_without_an_order_is_stored_without_order_facts(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: Any
) -> None:
    body = sample("buyability_changed_2024_11_01_no_context_keys.json")
    assert invoke(handler_module, processor, body) == {"batchItemFailures": []}
    item = stored(tables)[samples.key(json.loads(body))]
    assert item["resource_ids"] == {"items": "sku-sample-1"} and "order_execution_state" not in item
    assert bwp.queries("order(") == 0


def test_an_uninstalled_installations_event_is_stored_and_marked(
    handler_module: Any, processor: Any, tables: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    tables["business_products"].put("bp-uninstalled", "inst-sample-uninstalled")  # its token is gone
    body = samples.body("order_confirmed_uninstalled_installation.json", business_product="bp-uninstalled")
    assert invoke(handler_module, processor, body) == {"batchItemFailures": []}
    item = stored(tables)[samples.key(json.loads(body))]
    assert (item["installation_id"], item["enriched"]) == ("inst-sample-uninstalled", False)
    assert "no token" in item["unenriched_reason"]
    assert counted(capsys.readouterr().out)[METRIC_UNENRICHED] == 1


@pytest.mark.parametrize("name", samples.POISON)
def test_what_can_never_succeed_is_dead_lettered_on_its_first_receive(
    handler_module: Any,
    make_processor: Any,
    tables: dict[str, Any],
    event_queues: dict[str, str],
    lambda_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    processor = make_processor()
    processor.config = type(processor.config)(
        **{**processor.config.__dict__, "dead_letter_queue_url": event_queues["dlq_url"]}
    )
    processor.sqs = aws.client("sqs", lambda_settings)
    body = sample(name)
    # Reported as handled (the queue deletes it) once the handler has put it in the DLQ itself.
    assert invoke(handler_module, processor, body, receive_count=1) == {"batchItemFailures": []}
    assert not stored(tables) and counted(capsys.readouterr().out)[METRIC_DEAD_LETTERED] == 1
    messages = processor.sqs.receive_message(
        QueueUrl=event_queues["dlq_url"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert [message["Body"] for message in messages] == [body]
    reason = messages[0]["MessageAttributes"][handler_module.FAILURE_REASON_ATTRIBUTE]["StringValue"]
    expected = {
        "foreign_source.json": "not a Buy with Prime event",
        "not_json.txt": "not JSON",
        "no_tenant.json": "names no tenant",
        "unknown_business_product.json": "bp-sample-unknown maps to no installation",
    }[name]
    assert expected in reason


@pytest.mark.parametrize(
    "source",
    ["aws.partner/buywithprime-evil/x", "aws.partner/buywithprimeZZZ", "aws.partner/buywithprime/another-partner"],
)
def test_a_source_other_than_the_subscribed_one_is_dead_lettered_on_its_first_receive(
    handler_module: Any,
    make_processor: Any,
    tables: dict[str, Any],
    event_queues: dict[str, str],
    lambda_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    source: str,
) -> None:
    """The review's look-alike sources: well formed, naming a real tenant, never stored."""
    processor = make_processor()
    processor.config = type(processor.config)(
        **{**processor.config.__dict__, "dead_letter_queue_url": event_queues["dlq_url"]}
    )
    processor.sqs = aws.client("sqs", lambda_settings)
    body = sample("order_confirmed_2024_11_01.json").replace(samples.SOURCE, source)
    assert invoke(handler_module, processor, body, receive_count=1) == {"batchItemFailures": []}
    assert not stored(tables) and counted(capsys.readouterr().out)[METRIC_DEAD_LETTERED] == 1
    (message,) = processor.sqs.receive_message(QueueUrl=event_queues["dlq_url"], MessageAttributeNames=["All"])[
        "Messages"
    ]
    reason = message["MessageAttributes"][handler_module.FAILURE_REASON_ATTRIBUTE]["StringValue"]
    assert f"not a Buy with Prime event (source {source!r} is not the subscribed {samples.SOURCE!r})" in reason


def test_the_workshops_test_source_is_accepted_only_when_configured(
    handler_module: Any, make_processor: Any, tables: dict[str, Any]
) -> None:
    """Test events reach the queue through EventStack's test bus (only its operator role may put
    events there), with their own source; the stack configures the handler to accept it."""
    from bwp_workshop.names import TEST_EVENT_SOURCE

    body = sample("order_confirmed_2024_11_01.json").replace(samples.SOURCE, TEST_EVENT_SOURCE)
    processor = make_processor()
    assert invoke(handler_module, processor, body) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    processor.config = type(processor.config)(**{**processor.config.__dict__, "test_event_source": TEST_EVENT_SOURCE})
    assert invoke(handler_module, processor, body) == {"batchItemFailures": []}
    assert [item["installation_id"] for item in stored(tables).values()] == ["inst-1"]


def test_without_a_dead_letter_queue_a_poison_record_is_reported_failed(
    handler_module: Any, processor: Any, tables: dict[str, Any]
) -> None:
    response = invoke(
        handler_module, processor, sample("foreign_source.json"), sample("order_confirmed_2024_11_01.json")
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert len(stored(tables)) == 1


def test_every_sample_parses_or_says_why() -> None:
    from bwp_workshop.core.events import MalformedEvent

    for name in samples.names():
        body = samples.body(name)
        if name in {"foreign_source.json", "not_json.txt"}:
            with pytest.raises(MalformedEvent):
                parse_event(body)
        else:
            assert parse_event(body).event_type
