"""The local event source in process: SQS batches into the handler, deletes on success,
redelivery and dead-lettering of failures, its place among the local runtime's services. The
background service with its health endpoint, a process: ``test_event_runner_process.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bwp_workshop import aws
from bwp_workshop.local import emf, event_runner
from bwp_workshop.local.event_runner import EventRunner
from bwp_workshop.local.lambda_host import LambdaInstance
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.names import METRIC_DUPLICATES, METRIC_STORED
from bwp_workshop.settings import Settings
from bwp_workshop.steps import dead_letters, pipeline
from bwp_workshop.testing.ports import free_port

from .doubles import envelope, queue_depth, stored, wait_until


def _runner(settings: Settings, queues: dict[str, str], handler: Any, **options: Any) -> EventRunner:
    return EventRunner(
        sqs=aws.client("sqs", settings),
        queue_url=queues["queue_url"],
        handler=handler,
        **{"retry_after": 0, "wait_seconds": 0, **options},
    )


def test_records_are_sqs_shaped_and_batches_respect_the_batch_size(
    lambda_settings: Settings, event_queues: dict[str, str]
) -> None:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert context.get_remaining_time_in_millis() > 0
        seen.append(event)
        return {"batchItemFailures": []}

    pipeline.send_to_queue([json.dumps({"n": i}) for i in range(7)], lambda_settings)
    runner = _runner(lambda_settings, event_queues, handler, batch_size=3, concurrency=1)
    while runner.poll_once():
        pass
    batches = [len(event["Records"]) for event in seen]
    assert sum(batches) == 7 and max(batches) <= 3
    record = seen[0]["Records"][0]
    assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "eventSourceARN", "eventSource"}
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["eventSourceARN"] == event_queues["queue_arn"] and record["eventSource"] == "aws:sqs"
    assert queue_depth(lambda_settings, event_queues["queue_url"]) == 0  # succeeded records are deleted


def test_failed_records_are_redelivered_then_dead_lettered(
    lambda_settings: Settings, event_queues: dict[str, str]
) -> None:
    counts: dict[str, list[str]] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            counts.setdefault(record["body"], []).append(record["attributes"]["ApproximateReceiveCount"])
            if "bad" in record["body"]:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    pipeline.send_to_queue(['"good"', '"bad"'], lambda_settings)
    runner = _runner(lambda_settings, event_queues, handler, concurrency=1)
    for _ in range(6):
        runner.poll_once()
    assert counts['"good"'] == ["1"]
    assert counts['"bad"'] == ["1", "2"]  # maxReceiveCount 2: then the redrive policy moves it
    (dead,) = dead_letters.dlq_messages(lambda_settings)
    assert dead["body"] == "bad"
    assert queue_depth(lambda_settings, event_queues["queue_url"]) == 0


def test_an_invocation_that_raises_fails_its_whole_batch(
    lambda_settings: Settings, event_queues: dict[str, str]
) -> None:
    calls = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(len(event["Records"]))
        raise RuntimeError("boom")

    pipeline.send_to_queue(['"a"', '"b"'], lambda_settings)
    runner = _runner(lambda_settings, event_queues, handler, concurrency=1)
    for _ in range(4):
        runner.poll_once()
    assert runner.stats.invocation_errors >= 2 and runner.stats.succeeded == 0
    assert sorted(message["body"] for message in dead_letters.dlq_messages(lambda_settings)) == ["a", "b"]


def test_the_real_handler_behind_the_runner_records_each_event_once(
    lambda_settings: Settings, event_queues: dict[str, str], handler_module: Any, processor: Any, tables: dict[str, Any]
) -> None:
    bodies = [envelope() for _ in range(25)]
    messages = [json.dumps(body) for body in bodies] + [json.dumps(bodies[0]), json.dumps(bodies[1])]
    messages += ["not json", json.dumps(envelope(installation=None, resources=["order/o-1"]))]  # no tenant
    pipeline.send_to_queue(messages, lambda_settings)
    instance = LambdaInstance(handler_module.handler)  # invocations one at a time, metrics captured
    previous, handler_module._processor = handler_module._processor, processor
    try:
        with _runner(lambda_settings, event_queues, instance, concurrency=3, batch_window=0.2, wait_seconds=1):
            wait_until(
                lambda: len(stored(tables)) == 25 and queue_depth(lambda_settings, event_queues["dlq_url"]) == 2,
                message="25 records and 2 dead letters",
            )
    finally:
        handler_module._processor = previous
    totals = emf.totals(instance.points)
    assert (totals[(METRIC_STORED, None)], totals[(METRIC_DUPLICATES, None)]) == (25, 2)
    assert set(stored(tables)) == {body["detail"]["eventId"] for body in bodies}
    assert queue_depth(lambda_settings, event_queues["queue_url"]) == 0
    records = pipeline.data_records(lambda_settings)
    assert len(records) == 25 and isinstance(records[0]["order_total_amount"], float)


def test_the_runner_is_a_service_of_the_local_runtime_once_event_stack_exists(tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, local_moto_port=free_port(), local_event_runner_port=free_port())
    runtime = LocalRuntime(settings)
    assert event_runner.SERVICE_NAME not in [spec.name for spec in runtime.services()]
    (settings.bwp_dir).mkdir(parents=True)
    queue = {"QueueUrl": "http://localhost/123456789012/q", "QueueArn": "arn:aws:sqs:us-east-1:123456789012:q"}
    (settings.bwp_dir / "outputs.json").write_text(json.dumps({"EventStack": queue}))
    spec = runtime.services()[-1]
    assert spec.name == event_runner.SERVICE_NAME
    assert spec.port == settings.local_event_runner_port and spec.health_path == "/_bwp/health"
    assert spec.env["BWP_STATE_DIR"] == str(settings.bwp_dir)
    # It polls the deployed queue, and a redeployed EventStack (another queue) restarts it.
    assert queue["QueueUrl"] in spec.argv and queue["QueueArn"] in spec.argv and spec.restart_on_change
    (settings.bwp_dir / "outputs.json").write_text(json.dumps({"EventStack": {**queue, "QueueUrl": "other"}}))
    assert runtime.services()[-1].fingerprint != spec.fingerprint


def test_the_dead_letter_peek_sees_every_message_and_leaves_them_visible(
    lambda_settings: Settings, event_queues: dict[str, str]
) -> None:
    from bwp_workshop import aws
    from bwp_workshop.names import EVENT_STACK, OUT_DLQ_URL
    from bwp_workshop.outputs import stack_output

    sqs = aws.client("sqs", lambda_settings)
    url = stack_output(lambda_settings, EVENT_STACK, OUT_DLQ_URL)
    for start in range(0, 25, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f'"m{n}"'} for n in range(start, min(start + 10, 25))]
        )
    first = dead_letters.dlq_messages(lambda_settings)
    assert sorted(message["body"] for message in first) == sorted(f"m{n}" for n in range(25))
    again = dead_letters.dlq_messages(lambda_settings, limit=12)
    assert len(again) == 12  # the limit holds, and the first look hid nothing
    assert pipeline.queue_depths(lambda_settings)["dead_letter_queue"] == 25


class _FlakyDeletes:
    """The local AWS's SQS client, except that the first DeleteMessageBatch leaves out (and
    reports as failed, as SQS does on an internal error) every other entry, and an entry whose
    message body is ``"stuck"`` goes with a broken receipt handle every time (SQS refuses it
    as the sender's fault)."""

    def __init__(self, real: Any) -> None:
        self.real, self.deletes = real, 0
        self.stuck: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def receive_message(self, **kwargs: Any) -> Any:
        answer = self.real.receive_message(**kwargs)
        self.stuck |= {m["ReceiptHandle"] for m in answer.get("Messages", []) if m["Body"] == '"stuck"'}
        return answer

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        self.deletes += 1
        entries = [{**e, "ReceiptHandle": "broken"} if e["ReceiptHandle"] in self.stuck else e for e in Entries]
        refused = (
            [] if self.deletes > 1 else [e for n, e in enumerate(entries) if n % 2 and e["ReceiptHandle"] != "broken"]
        )
        sent = [e for e in entries if e not in refused]
        answer = self.real.delete_message_batch(QueueUrl=QueueUrl, Entries=sent) if sent else {}
        failed = list(answer.get("Failed", []))
        failed += [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"} for e in refused
        ]
        return {"Successful": answer.get("Successful", []), "Failed": failed}


def test_failed_deletes_are_retried_and_what_cannot_be_deleted_is_logged(
    lambda_settings: Settings, event_queues: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setattr(event_runner, "DELETE_BACKOFF_S", 0.001)
    lines: list[str] = []
    pipeline.send_to_queue([json.dumps({"n": i}) for i in range(6)] + ['"stuck"'], lambda_settings)
    flaky = _FlakyDeletes(aws.client("sqs", lambda_settings))
    runner = _runner(lambda_settings, event_queues, lambda event, context: {"batchItemFailures": []}, concurrency=1)
    runner.sqs, runner.log = flaky, lines.append
    assert runner.poll_once() == 7
    assert flaky.deletes == 2  # the refused half again, once; the broken handle not again
    attributes = flaky.real.get_queue_attributes(
        QueueUrl=event_queues["queue_url"], AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # only "stuck" is left, in flight
    (line,) = [line for line in lines if "could not delete" in line]
    assert "1 processed message(s)" in line and "ReceiptHandleIsInvalid" in line


def test_the_retry_delay_grows_with_the_receive_count(lambda_settings: Settings, event_queues: dict[str, str]) -> None:
    runner = _runner(lambda_settings, event_queues, lambda event, context: {}, retry_after=1.0)
    delays = [runner.retry_delay({"Attributes": {"ApproximateReceiveCount": str(n)}}) for n in range(1, 11)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    # The receives of the stacks' default (10) span minutes: a 30 s outage uses up none of them.
    assert sum(delays[:9]) > 4 * 60 and sum(delays[:5]) > 30
    assert _runner(lambda_settings, event_queues, lambda e, c: {}, retry_after=0).retry_delay({}) == 0
