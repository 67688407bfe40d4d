"""Hostile events (the security review's L6) are permanent failures: dead-lettered on their
first receive with a reason, never retried until the queue's maximum receive count; one of
them in a batch costs its batch nothing (each record is guarded on its own while the batch is
prepared)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bwp_workshop import aws
from bwp_workshop.names import METRIC_DEAD_LETTERED
from bwp_workshop.settings import Settings

from .doubles import FakeBwp, counted, envelope, invoke, sqs_record, stored


@pytest.fixture
def dead_lettering_processor(make_processor: Any, event_queues: dict[str, str], lambda_settings: Settings) -> Any:
    processor = make_processor()
    processor.config = type(processor.config)(
        **{**processor.config.__dict__, "dead_letter_queue_url": event_queues["dlq_url"]}
    )
    processor.sqs = aws.client("sqs", lambda_settings)
    return processor


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _with_detail_text(field: str, escaped: str) -> str:
    """An envelope whose ``detail[field]`` is the JSON text ``escaped`` (e.g. a lone surrogate,
    which only a JSON escape can carry)."""
    body = envelope()
    body["detail"][field] = "PLACEHOLDER"
    return json.dumps(body).replace('"PLACEHOLDER"', escaped)


def _installation(escaped: str) -> str:
    body = envelope()
    body["detail"]["contextKeys"]["installationId"] = "PLACEHOLDER"
    return json.dumps(body).replace('"PLACEHOLDER"', escaped)


POISON = {
    "deep-nesting-detail": (
        json.dumps(envelope()).replace('"data": {}', f'"data": {{"x": {_deep(50_000)}}}'),
        "nested too deep",
    ),
    "eventid-3000": (json.dumps({**envelope(), "detail": {**envelope()["detail"], "eventId": "e" * 3000}}), "3000"),
    "eventid-lone-surrogate": (_with_detail_text("eventId", '"evt-\\ud800"'), "not valid Unicode"),
    "iid-lone-surrogate": (_installation('"inst-\\udc00"'), "not valid Unicode"),
    "resource-control-character": (
        json.dumps(envelope(resources=["businessProduct/bp-0001/order/o-1\n2026 forged"])),
        "not printable",
    ),
}


@pytest.mark.parametrize("name", sorted(POISON))
def test_a_hostile_event_is_dead_lettered_on_its_first_receive_with_a_reason(
    handler_module: Any,
    dead_lettering_processor: Any,
    tables: dict[str, Any],
    event_queues: dict[str, str],
    handler_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    body, words = POISON[name]
    record = sqs_record(body, receive_count=1, message_id=f"m-{name}")
    response = invoke(handler_module, dead_lettering_processor, {"Records": [record]})
    assert response == {"batchItemFailures": []}  # handled now, not after ten receives
    captured = capsys.readouterr()
    assert not stored(tables) and counted(captured.out)[METRIC_DEAD_LETTERED] == 1
    (message,) = dead_lettering_processor.sqs.receive_message(
        QueueUrl=event_queues["dlq_url"], MessageAttributeNames=["All"]
    )["Messages"]
    reason = message["MessageAttributes"][handler_module.FAILURE_REASON_ATTRIBUTE]["StringValue"]
    assert reason.startswith("malformed event: ") and words in reason
    assert "batch preparation failed" not in handler_logs.getvalue()
    assert "Logging error" not in captured.err + capsys.readouterr().err  # every line was written


def test_a_hostile_event_costs_its_batch_nothing(
    handler_module: Any,
    dead_lettering_processor: Any,
    tables: dict[str, Any],
    bwp: FakeBwp,
    handler_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    poison, _ = POISON["deep-nesting-detail"]
    good = [envelope(), envelope()]
    records = [sqs_record(poison, message_id="m-poison")] + [
        sqs_record(b, message_id=f"m-{n}") for n, b in enumerate(good)
    ]
    assert invoke(handler_module, dead_lettering_processor, {"Records": records}) == {"batchItemFailures": []}
    assert len(stored(tables)) == 2 and counted(capsys.readouterr().out)[METRIC_DEAD_LETTERED] == 1
    assert bwp.queries("order(") == 1  # the batch was prepared: its order asked once
    assert "batch preparation failed" not in handler_logs.getvalue()


class RefusingTable:
    """A data table that refuses every item as DynamoDB refuses one it can never hold."""

    def put_item(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "refused"}}, "PutItem")


def test_an_item_the_data_table_refuses_is_a_permanent_failure(
    handler_module: Any, dead_lettering_processor: Any, event_queues: dict[str, str]
) -> None:
    dead_lettering_processor.data_table = RefusingTable()
    record = sqs_record(envelope(), receive_count=1, message_id="m")
    assert invoke(handler_module, dead_lettering_processor, {"Records": [record]}) == {"batchItemFailures": []}
    (message,) = dead_lettering_processor.sqs.receive_message(
        QueueUrl=event_queues["dlq_url"], MessageAttributeNames=["All"]
    )["Messages"]
    reason = message["MessageAttributes"][handler_module.FAILURE_REASON_ATTRIBUTE]["StringValue"]
    assert reason == "the data table refused the write (ValidationException)"
