"""The event Lambda's metrics and log context, read from what it prints: EMF documents for every
outcome of a record (in total and per event type, in the stack's namespace), the cold start, and
log lines that carry the invocation's request id."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.logging import logger as powertools_logger
from aws_lambda_powertools.metrics.provider import cold_start

from bwp_workshop import aws
from bwp_workshop.local import emf
from bwp_workshop.local.lambda_host import LambdaContext
from bwp_workshop.names import (
    EVENT_HANDLER_SERVICE,
    METRIC_DEAD_LETTERED,
    METRIC_DUPLICATES,
    METRIC_EVENT_TYPE,
    METRIC_FAILED,
    METRIC_STORED,
    METRIC_UNENRICHED,
    METRICS_NAMESPACE,
    OUTCOME_METRICS,
)
from bwp_workshop.settings import Settings

from .doubles import BP, FakeBwp, counted, envelope, failed_ids, invoke, sqs_record


@pytest.fixture
def dead_lettering_processor(make_processor: Any, event_queues: dict[str, str], lambda_settings: Settings) -> Any:
    processor = make_processor()
    processor.config = type(processor.config)(
        **{**processor.config.__dict__, "dead_letter_queue_url": event_queues["dlq_url"]}
    )
    processor.sqs = aws.client("sqs", lambda_settings)
    return processor


def test_every_outcome_is_a_metric_in_total_and_per_event_type(
    handler_module: Any,
    dead_lettering_processor: Any,
    tables: dict[str, Any],
    bwp: FakeBwp,
    capsys: pytest.CaptureFixture[str],
    handler_logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This process's first invocation, as far as the metric and the log lines go.
    cold_start.reset_cold_start_flag()
    monkeypatch.setattr(powertools_logger, "is_cold_start", True)
    tables["business_products"].put("bp-ghost", "ghost")  # an installation without a token
    confirmed = envelope("ORDER_CONFIRMED")
    records = [
        sqs_record(confirmed, message_id="m-stored"),
        sqs_record(confirmed, message_id="m-duplicate"),
        sqs_record(
            envelope("REFUND_REQUESTED", installation="ghost", resources=["businessProduct/bp-ghost/order/o-1"]),
            message_id="m-unenriched",
        ),
        sqs_record("not json", message_id="m-dead"),
    ]
    context = LambdaContext()
    assert invoke(handler_module, dead_lettering_processor, {"Records": records}, context) == {"batchItemFailures": []}
    first = capsys.readouterr().out

    bwp.graphql_faults = [httpx.Response(503)] * 5  # the API is down: the record is redelivered later
    delivered = envelope("PACKAGE_DELIVERED", resources=[f"businessProduct/{BP}/order/o-2/delivery/d-1"])
    response = invoke(
        handler_module, dead_lettering_processor, {"Records": [sqs_record(delivered, message_id="m-fail")]}
    )
    assert failed_ids(response) == ["m-fail"]
    second = capsys.readouterr().out

    assert counted(first) == {
        METRIC_STORED: 2,  # the unenriched event is stored too
        METRIC_DUPLICATES: 1,
        METRIC_UNENRICHED: 1,
        METRIC_DEAD_LETTERED: 1,
        METRIC_FAILED: 0,  # zeros are published: a quiet pipeline reads 0, not missing
    }
    assert counted(second) == {name: (1 if name == METRIC_FAILED else 0) for name in OUTCOME_METRICS}
    assert counted(first + second, by=METRIC_EVENT_TYPE) == {
        (METRIC_STORED, "ORDER_CONFIRMED"): 1,
        (METRIC_DUPLICATES, "ORDER_CONFIRMED"): 1,
        (METRIC_STORED, "REFUND_REQUESTED"): 1,
        (METRIC_UNENRICHED, "REFUND_REQUESTED"): 1,
        (METRIC_DEAD_LETTERED, "unparsed"): 1,
        (METRIC_FAILED, "PACKAGE_DELIVERED"): 1,
    }
    points = emf.read(first + second)
    assert {point.namespace for point in points} == {METRICS_NAMESPACE}
    assert all(point.dimension("service") == EVENT_HANDLER_SERVICE for point in points)
    cold = [point for point in points if point.name == "ColdStart"]
    assert [(point.value, point.dimension("function_name")) for point in cold] == [(1.0, context.function_name)]

    logs = [json.loads(line) for line in handler_logs.getvalue().splitlines() if line.startswith("{")]
    first_lines = [line for line in logs if line.get("function_request_id") == context.aws_request_id]
    assert {line["message"] for line in first_lines} >= {"record dead-lettered", "event stored unenriched"}
    assert all(line["cold_start"] is True for line in first_lines)
    failed = [line for line in logs if line["message"] == "record failed"]
    assert failed and failed[0]["function_request_id"] not in (None, context.aws_request_id)
    assert failed[0]["cold_start"] is False and failed[0]["failure"] == "transient"


def test_the_emf_reader_takes_every_dimension_set_and_ignores_other_lines() -> None:
    document = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "N",
                    "Dimensions": [["service"], ["service", "event_type"]],
                    "Metrics": [{"Name": "A", "Unit": "Count"}],
                }
            ],
        },
        "service": "s",
        "event_type": "T",
        "A": [1, 2],
    }
    text = "\n".join(['{"level":"INFO","message":"x"}', "not json", json.dumps(document), '{"_aws": broken'])
    points = emf.read(text)
    assert len(points) == 4  # two values, two dimension sets
    assert emf.totals(points) == {("A", None): 3}
    assert emf.totals(points, by="event_type") == {("A", "T"): 3}


def test_the_local_lambda_host_publishes_the_handlers_metrics_to_the_local_cloudwatch(
    handler_module: Any, processor: Any, tables: dict[str, Any], lambda_settings: Settings
) -> None:
    """What CloudWatch Logs does with the EMF lines on aws, the local Lambda host does with the
    local AWS: the handler's counts become CloudWatch data points the alarms can read."""
    from datetime import UTC, datetime, timedelta

    from bwp_workshop.local.lambda_host import LambdaInstance, metric_publisher

    instance = LambdaInstance(handler_module.handler, on_metrics=metric_publisher(lambda_settings))
    previous, handler_module._processor = handler_module._processor, processor
    try:
        response = instance({"Records": [sqs_record(envelope()), sqs_record(envelope())]}, LambdaContext())
    finally:
        handler_module._processor = previous
    assert response == {"batchItemFailures": []}
    assert len(instance.durations_ms) == 1 and instance.durations_ms[0] > 0
    now = datetime.now(UTC)
    answer = aws.client("cloudwatch", lambda_settings).get_metric_statistics(
        Namespace=METRICS_NAMESPACE,
        MetricName=METRIC_STORED,
        Dimensions=[{"Name": "service", "Value": EVENT_HANDLER_SERVICE}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=360,
        Statistics=["Sum"],
    )
    assert [point["Sum"] for point in answer["Datapoints"]] == [2.0]


def test_an_invocation_captures_its_own_prints_and_leaves_other_threads_redirects_alone() -> None:
    """The local Lambda host captures the EMF lines the invoking thread prints without swapping
    the process's stdout back over a redirect another thread made meanwhile (a CLI runner's, a
    test's): that thread keeps its own output. (What the handler prints while such a redirect
    stands goes where the redirect sends it, as any print would.)"""
    import contextlib
    import sys
    import threading

    from bwp_workshop.local.lambda_host import LambdaInstance

    started, redirected = threading.Event(), threading.Event()
    emf_line = json.dumps({"_aws": {"CloudWatchMetrics": []}, "x": 1})

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started.set()
        assert redirected.wait(10)
        print(emf_line)
        return {}

    instance = LambdaInstance(handler)
    invocation = threading.Thread(target=instance, args=({"Records": []}, None))
    own = io.StringIO()
    invocation.start()
    assert started.wait(10)
    with contextlib.redirect_stdout(own):  # another thread redirects while the invocation runs
        redirected.set()
        invocation.join(10)
        print("the other thread's line")
        assert sys.stdout is own  # the invocation's end did not undo this redirect
    assert own.getvalue().endswith("the other thread's line\n")
    assert not invocation.is_alive()
