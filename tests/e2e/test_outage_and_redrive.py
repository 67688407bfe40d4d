"""The event pipeline end to end through what goes wrong: the documented shapes with and
without contextKeys (the tenant from the business product), a Buy with Prime outage of 30 s
in the middle of a run (the runner's growing retry delay rides it out: nothing
dead-lettered), and a dead-letter queue filled on purpose, then redriven (every event stored
once). Each run prints its counts."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bwp_workshop import aws
from bwp_workshop.local import processes
from bwp_workshop.local.runtime import SANDBOX_SERVICE, LocalRuntime
from bwp_workshop.sandbox.event_shapes import record_key
from bwp_workshop.steps import dead_letters
from bwp_workshop.steps import pipeline as event_pipeline
from bwp_workshop.testing.pipeline_harness import Pipeline, depth, provision, running, settle
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app

#: Receives before the DLQ, as the stacks' default.
MAX_RECEIVE_COUNT = 10
OUTAGE_SECONDS = 30.0


def _expected(ledger: list[dict[str, Any]]) -> list[str]:
    return sorted(str(record_key(entry)) for entry in ledger if entry["malformed"] is None)


def _stored(pipeline: Pipeline) -> list[dict[str, Any]]:
    return event_pipeline.data_records(pipeline.settings)


@pytest.mark.parametrize("context_keys", [True, False], ids=["with-contextKeys", "without-contextKeys"])
def test_the_documented_shapes_are_each_stored_once(local_sandbox: SandboxHandle, context_keys: bool) -> None:
    client = local_sandbox.client
    client.update_config(event_context_keys=context_keys)
    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed, max_receive_count=MAX_RECEIVE_COUNT)
        with running(pipeline, retry_after=1):
            # The two documented shapes: 2024-11-01 and the thin 2024-01-01.
            client.emit(
                orders=3, catalog_events=2, privacy_events=2, duplicates=5, shapes=["2024-11-01", "2024-01-01"], seed=21
            )
            ledger = client.ledger()
            settle(pipeline, len(_expected(ledger)), 0)
    records = _stored(pipeline)
    shapes = {shape: sum(entry["shape"] == shape for entry in ledger) for shape in ("2024-11-01", "2024-01-01")}
    dead = depth(pipeline.settings, pipeline.dlq_url)
    print(f"\ncontextKeys {context_keys}: {len(ledger)} events {shapes}, {len(records)} records, {dead} dead letters")
    assert {entry["shape"] for entry in ledger} == {"2024-11-01", "2024-01-01"}
    assert sorted(record["event_id"] for record in records) == _expected(ledger)
    assert depth(pipeline.settings, pipeline.dlq_url) == 0
    assert {record["installation_id"] for record in records} == {pipeline.installation_id}
    assert all(record["enriched"] for record in records)
    sources = {(record["shape"], record["installation_from"]) for record in records}
    expected = {("2024-01-01", "businessProduct"), ("2024-11-01", "contextKeys" if context_keys else "businessProduct")}
    assert sources == expected


def test_a_30_second_outage_dead_letters_nothing_and_a_redrive_stores_every_event_once(
    local_sandbox: SandboxHandle,
) -> None:
    client = local_sandbox.client
    settings = local_sandbox.settings
    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed, max_receive_count=MAX_RECEIVE_COUNT)
        # The events wait on the queue while Buy with Prime goes away: every record the runner
        # takes during the outage needs the API, so the outage is certain to be felt.
        client.emit(orders=10, duplicates=10, malformed=["garbage_detail"], seed=31)
        ledger = client.ledger()
        expected = _expected(ledger)
        registry = processes.ProcessRegistry(settings.bwp_dir)
        with registry.locked():
            processes.stop(SANDBOX_SERVICE, registry)
        down_at = time.monotonic()
        with running(pipeline, retry_after=1) as runner:
            time.sleep(OUTAGE_SECONDS)
            failed_during_outage = runner.stats.failed
            # ... and comes back (same port, same state) after 30 s.
            spec = next(s for s in LocalRuntime(settings).services() if s.name == SANDBOX_SERVICE)
            with registry.locked():
                processes.start(spec, registry, ready_timeout=60)
            outage = time.monotonic() - down_at
            settle(pipeline, len(expected), 1, timeout=300)
        records = _stored(pipeline)
        letters = dead_letters.dlq_messages(pipeline.settings)
        print(
            f"\noutage {outage:.0f} s: {len(ledger)} events ({len(expected)} valid), {failed_during_outage} failed "
            f"receives, {len(records)} records, {len(letters)} dead letters (the malformed one)"
        )
        assert failed_during_outage > 0  # the outage was real: records failed while it lasted
        assert sorted(record["event_id"] for record in records) == expected
        assert [letter["body"]["id"] for letter in letters] == [
            envelope for entry in ledger if entry["malformed"] for envelope in entry["envelope_ids"]
        ]

        # A dead-letter queue filled on purpose, with no consumer running: new events taken
        # off the queue into the DLQ, and the messages of events already stored (again).
        since = len(ledger)
        client.emit(orders=4, catalog_events=2, seed=32)
        fresh = client.ledger()[since:]
        sqs = aws.client("sqs", pipeline.settings)
        queued = _take_all(sqs, pipeline.queue_url)
        assert len(queued) == sum(entry["deliveries"] for entry in fresh)
        again = [
            json.dumps(_envelope_of(record, pipeline.source_name))
            for record in records
            if record["shape"] == "2024-11-01"
        ][:10]
        _send_all(sqs, pipeline.dlq_url, [message["Body"] for message in queued] + again)
        filled = depth(pipeline.settings, pipeline.dlq_url)
        expected_after = sorted(expected + _expected(fresh))
        with running(pipeline, retry_after=1) as runner:
            moved = dead_letters.redrive_dead_letters(pipeline.settings)
            settle(pipeline, len(expected_after), 1, timeout=180)
        after = _stored(pipeline)
        print(
            f"redrive: {filled} dead letters ({len(queued)} new events' messages, {len(again)} of stored events, "
            f"1 malformed), {moved['moved']} moved ({moved['method']}), {runner.stats.received} received, "
            f"{len(after)} records, {depth(pipeline.settings, pipeline.dlq_url)} dead letters after"
        )
        assert moved == {"method": "copy", "moved": filled, "failed": 0}
        assert sorted(record["event_id"] for record in after) == expected_after  # each event once
        assert depth(pipeline.settings, pipeline.dlq_url) == 1  # the malformed one came back


def _take_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message of a queue, deleted from it."""
    taken: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return taken
        taken.extend(messages)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )


def _send_all(sqs: Any, url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        answer = sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(chunk)]
        )
        assert not answer.get("Failed")


def _envelope_of(record: dict[str, Any], source: str) -> dict[str, Any]:
    """The 2024-11-01 envelope a stored record came from, from the partner ``source`` (enough
    for the handler)."""
    return {
        "version": "0",
        "id": record["envelope_id"],
        "detail-type": record["event_type"],
        "source": source,
        "time": record["event_time"],
        "resources": record.get("resources", []),
        "detail": {
            "eventId": record["event_id"],
            "eventDescriptor": record["event_type"],
            "apiVersion": "2024-11-01",
            "resources": record.get("resources", []),
            "eventTime": record["event_time"],
        },
    }
