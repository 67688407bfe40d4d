"""The event pipeline end to end on the local target: the sandbox's merchant activity (mixed
order lifecycles in two payload shapes, duplicates, malformed events) -> partner bus -> rule
-> queue -> local event runner -> the handler -> the data table. Every valid event of the
ledger is recorded exactly once, every malformed one that the rule lets through waits in the
dead-letter queue, and nothing else is anywhere; also with the sandbox failing and
throttling a share of its API calls."""

from __future__ import annotations

from typing import Any

import pytest

from bwp_workshop.sandbox.event_shapes import FOREIGN_SOURCE
from bwp_workshop.steps import analytics_lake, dead_letters
from bwp_workshop.steps import analytics_queries as queries
from bwp_workshop.steps import pipeline as event_pipeline
from bwp_workshop.steps.analytics import records_frame
from bwp_workshop.testing.pipeline_harness import deploy_event_stack, depth, provision, running, settle
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app

MALFORMED = ["missing_installation", "unknown_installation", "garbage_detail", "foreign_source"]


def _run(local_sandbox: SandboxHandle, faults: dict[str, Any] | None, *, deployed: bool = False) -> dict[str, Any]:
    with installed_app(local_sandbox) as installed:
        pipeline = deploy_event_stack(installed) if deployed else provision(installed)
        client = local_sandbox.client
        if faults:
            client.set_faults(**faults)
        with running(pipeline) as runner:
            result = client.emit(orders=6, duplicates=8, malformed=MALFORMED, shapes=["2024-11-01", "legacy"], seed=5)
            ledger = client.ledger()
            valid = [entry for entry in ledger if entry["malformed"] is None]
            dead = [e for e in ledger if e["malformed"] is not None and e["source"] != FOREIGN_SOURCE]
            settle(pipeline, [entry["event_id"] for entry in valid], len(dead))
        client.set_faults(replace=True)
        stats = runner.stats

    assert result["undelivered"] == 0 and len(valid) > 40
    records = event_pipeline.data_records(pipeline.settings)
    # Every valid ledger event exactly once (the table is keyed by event id; count the rows too).
    assert sorted(record["event_id"] for record in records) == sorted(entry["event_id"] for entry in valid)
    by_id = {record["event_id"]: record for record in records}
    for entry in valid:
        record = by_id[entry["event_id"]]
        assert record["event_type"] == entry["type"]
        assert record["installation_id"] == pipeline.installation_id
        assert record["site_id"].startswith("site-")
        if entry["order_id"]:
            assert record["order_id"] == entry["order_id"]
            assert record["order_line_count"] >= 1 and record["order_currency"] == "USD"
            assert record["order_total_amount"] > 0 and record["order_execution_state"] == "STARTED"
    # Every malformed event the rule lets through is in the DLQ; nothing else is.
    letters = dead_letters.dlq_messages(pipeline.settings)
    assert sorted(letter["body"]["id"] for letter in letters) == sorted(
        envelope for entry in dead for envelope in entry["envelope_ids"]
    )
    assert depth(pipeline.settings, pipeline.queue_url) == 0
    assert pipeline.counters is not None and pipeline.counters["records_stored"] == len(valid)
    _check_analytics_store(pipeline.settings, records)
    return {
        "stats": stats,
        "counters": pipeline.counters,
        "valid": len(valid),
        "duplicates": sum(e["deliveries"] - 1 for e in valid),
    }


def _check_analytics_store(settings: Any, records: list[dict[str, Any]]) -> None:
    """Every stored event is in the analytics bucket, under its date and type partition, and each
    metric the SQL answers equals the same metric from the data table's records."""
    answers = analytics_lake.answer(settings)  # syncs the bucket's objects to the local copy
    listing = analytics_lake.partitions(settings)
    assert set(listing["event_type"]) == {record["event_type"] for record in records}
    assert set(listing["event_date"]) == {record["event_time"][:10] for record in records}
    connection = analytics_lake.duckdb_connection(analytics_lake.local_copy(settings))
    in_store = {row[0] for row in connection.execute(f"SELECT DISTINCT event_id FROM {queries.TABLE}").fetchall()}
    assert in_store == {record["event_id"] for record in records}
    checked = analytics_lake.check_against_records(answers, records_frame(records))
    assert checked["equal"].all(), checked
    assert checked.set_index("metric").loc["orders", "rows (data table)"] > 0


def test_every_ledger_event_is_recorded_once_and_every_malformed_one_is_dead_lettered(
    local_sandbox: SandboxHandle,
) -> None:
    outcome = _run(local_sandbox, faults=None)
    assert outcome["duplicates"] == 8
    assert outcome["counters"]["api_retries"] == 0


@pytest.mark.parametrize("seed", [7])
def test_the_same_holds_when_the_api_fails_and_throttles(local_sandbox: SandboxHandle, seed: int) -> None:
    spec = {"error_rate": 0.2, "throttle_rate": 0.1, "seed": seed}
    outcome = _run(local_sandbox, faults={"graphql": spec, "token": {**spec, "seed": seed + 1}})
    assert outcome["duplicates"] == 8
    # The faults were real: about 30 % of the calls were retried.
    counters = outcome["counters"]
    assert counters["api_retries"] >= 0.15 * counters["api_requests"]


def test_the_deployed_event_stack_carries_the_events_the_same_way(local_sandbox: SandboxHandle) -> None:
    """The queue, DLQ, rule and tables made by ``cdk deploy`` of EventStack (not by boto3)."""
    outcome = _run(local_sandbox, faults=None, deployed=True)
    assert outcome["duplicates"] == 8 and outcome["stats"].received >= outcome["valid"]


def test_the_notebook_helpers_and_the_events_cli(local_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from bwp_workshop.cli import main

    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed)
        settings = pipeline.settings
        for name, value in {
            "BWP_PROJECT_DIR": settings.project_dir,
            "BWP_STATE_DIR": settings.bwp_dir,
            "BWP_LOCAL_MOTO_PORT": settings.local_moto_port,
            "BWP_LOCAL_SANDBOX_PORT": settings.local_sandbox_port,
            "BWP_INSTALLATION_ID": pipeline.installation_id,
        }.items():
            monkeypatch.setenv(name, str(value))
        with running(pipeline):
            sent = event_pipeline.send_test_events(3, settings=settings, duplicates=2, malformed=3)
            assert sent["via"] == "sandbox" and sent["malformed"] == 3
            records = event_pipeline.wait_for_records(settings, sent["keys"], timeout=60, progress=False)
            assert sorted(r["event_id"] for r in records) == sorted(sent["event_ids"])
            # A second run counts its own events only (the first run's records are there too).
            again = event_pipeline.send_test_events(2, settings=settings)
            rerun = event_pipeline.wait_for_records(settings, again["keys"], timeout=60, progress=False)
            assert sorted(r["event_id"] for r in rerun) == sorted(again["event_ids"])
            assert not {r["event_id"] for r in rerun} & set(sent["event_ids"])
            records = event_pipeline.data_records(settings)

            cli = CliRunner()
            queued = cli.invoke(
                main, ["events", "send", "--via", "queue", "-n", "2", "--malformed", "1", "--wait", "60"]
            )
            assert queued.exit_code == 0, queued.output
            assert "the data table holds the 2 events sent" in queued.output
            # Dead letters (each on its first receive): no tenant, a business product nobody has,
            # garbage resources, and the queue's junk.
            settle(pipeline, len(records) + 2, 4)

        tail = cli.invoke(main, ["events", "tail", "-n", "3"])
        assert tail.exit_code == 0 and len(tail.output.splitlines()) == 3
        assert "BUYABILITY_CHANGED" in tail.output and pipeline.installation_id in tail.output
        dlq = cli.invoke(main, ["events", "dlq", "--json"])
        assert dlq.exit_code == 0 and len(dlq.output.splitlines()) == 4
        assert cli.invoke(main, ["events", "dlq"]).output.count(" sent ") == 4
        assert event_pipeline.queue_depths(settings) == {"queue": 0, "dead_letter_queue": 4}
        redriven = cli.invoke(main, ["events", "redrive"])
        assert redriven.exit_code == 0, redriven.output
        assert "moved 4 messages from the dead-letter queue to the event queue (copy)" in redriven.output
        assert event_pipeline.queue_depths(settings) == {"queue": 4, "dead_letter_queue": 0}


def test_running_06_again_leaves_the_dead_letter_queue_as_it_found_it(
    local_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """06's malformed send, its wait and its removal, three times: each run dead-letters one
    event and removes that one, so the queue holds what it held before (a leftover that was
    there first stays), rather than 1, 2, 3 malformed events coming back."""
    from bwp_workshop import aws

    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed)
        settings = pipeline.settings
        monkeypatch.setenv("BWP_INSTALLATION_ID", pipeline.installation_id)
        aws.client("sqs", settings).send_message(QueueUrl=pipeline.dlq_url, MessageBody='{"left": "before"}')
        with running(pipeline):
            depths = []
            for _ in range(3):
                bad = event_pipeline.send_test_events(1, malformed=1, settings=settings)
                assert bad["dead_letter_depth"] == 1
                dead = dead_letters.wait_for_dead_letters(settings, bad)
                assert len(dead) == 1
                removed = dead_letters.discard_dead_letters(
                    [letter["message_id"] for letter in dead], settings=settings
                )
                assert removed == {"removed": 1, "not_found": []}
                depths.append(event_pipeline.queue_depths(settings)["dead_letter_queue"])
        assert depths == [1, 1, 1]
        [left] = dead_letters.dlq_messages(settings)
        assert left["body"] == {"left": "before"}


def test_a_count_of_messages_reads_right() -> None:
    assert [dead_letters.messages(n) for n in (0, 1, 2)] == ["0 messages", "1 message", "2 messages"]


def test_synthetic_test_events_go_through_the_test_bus(local_sandbox: SandboxHandle) -> None:
    """The way test events take on aws (the queue takes no message but the rules'): PutEvents
    onto EventStack's test bus, its rule to the queue; each event stored once under its own
    installation, the body that is not an event dead-lettered on its first receive."""
    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed)
        settings = pipeline.settings
        with running(pipeline):
            sent = event_pipeline.send_test_events(
                3,
                settings=settings,
                installation_id=pipeline.installation_id,
                duplicates=2,
                malformed=1,
                via="eventbridge",
            )
            assert (sent["via"], sent["messages"], sent["malformed"]) == ("eventbridge", 6, 1)
            records = event_pipeline.wait_for_records(settings, sent["keys"], timeout=60, progress=False)
            assert sorted(r["event_id"] for r in records) == sorted(sent["event_ids"])
            assert {r["installation_id"] for r in records} == {pipeline.installation_id}
            settle(pipeline, sent["event_ids"], 1)
        (dead,) = dead_letters.dlq_messages(settings)
        assert "names no tenant" in dead["reason"]


def test_on_aws_nothing_is_sent_straight_onto_the_queue() -> None:
    from bwp_workshop.errors import ConfigurationError
    from bwp_workshop.settings import Settings

    aws_settings = Settings(target="aws", installation_id="inst-1")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="takes messages only from EventStack's rules"):
        event_pipeline.send_to_queue(["{}"], aws_settings)
