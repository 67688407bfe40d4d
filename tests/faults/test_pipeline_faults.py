"""The event pipeline under faults, on the local target: the sandbox fails 20 % and throttles
10 % of its GraphQL and token endpoint calls (access tokens live 65 s, so the handler refreshes
again and again through those faults), about 5 % of the events are malformed, every event is
delivered up to three times, and the event runner (a background service started as `local up`
starts it) is killed with SIGKILL mid-run and started again. Afterwards every valid event of
the ledger is in the data table exactly once, every malformed one is in the dead-letter queue,
and the queue is empty. Seeds are fixed: the sandbox's fault draws and its merchant activity."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from typing import Any

import psutil

from bwp_workshop import aws
from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.core.tokens import TokenSet
from bwp_workshop.local import event_runner, processes
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.settings import Settings
from bwp_workshop.steps import pipeline as event_pipeline
from bwp_workshop.testing.pipeline_harness import Pipeline, depth, provision, settle
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app
from tests.lambdas.doubles import wait_until

from .sandbox_database import refresh_tokens

SEED = 20
FAULTS = {"error_rate": 0.2, "throttle_rate": 0.1}
#: Malformed kinds that reach the queue (a foreign source never passes the rule).
MALFORMED = ["missing_installation", "unknown_installation", "garbage_detail"]
#: Four rounds of merchant activity (about 60 events each), each with three malformed events
#: (about one in twenty) and extra deliveries (every event a second time, half a third time).
ROUNDS = [{"orders": 9, "malformed": MALFORMED, "duplicates": 90}] * 4
#: A killed runner's received messages come back after this (the Lambda's queue uses 6x its timeout).
VISIBILITY_TIMEOUT = 8


def _start_runner(settings: Settings) -> processes.ProcessRecord:
    """The event runner as `bwp-workshop local up` starts it (its own process and settings)."""
    spec = next(spec for spec in LocalRuntime(settings).services() if spec.name == event_runner.SERVICE_NAME)
    registry = processes.ProcessRegistry(settings.bwp_dir)
    with registry.locked():
        return processes.start(spec, registry, ready_timeout=60)


def _stop_runner(settings: Settings) -> None:
    registry = processes.ProcessRegistry(settings.bwp_dir)
    with registry.locked():
        processes.stop(event_runner.SERVICE_NAME, registry)


def test_every_valid_event_once_and_every_malformed_one_dead_lettered_despite_faults_and_a_killed_runner(
    local_sandbox: SandboxHandle,
) -> None:
    client = local_sandbox.client
    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed, max_receive_count=5)
        aws.client("sqs", pipeline.settings).set_queue_attributes(
            QueueUrl=pipeline.queue_url, Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT)}
        )
        # Tokens expire 5 s after the refresh margin begins: the handler refreshes through the faults.
        client.update_config(access_token_ttl=65)
        TokenTable(aws.resource("dynamodb", pipeline.settings).Table(_token_table(pipeline))).put(
            installed.installation_id, TokenSet.from_response({**installed.tokens, "expires_in": 30})
        )
        client.set_faults(graphql={**FAULTS, "seed": SEED}, token={**FAULTS, "seed": SEED + 1})
        settings = pipeline.settings.model_copy(update={"local_event_runner_port": free_port()})

        first = _start_runner(settings)
        entries: list[dict[str, Any]] = []
        for number, round_ in enumerate(ROUNDS):
            emitted = client.emit(
                orders=round_["orders"],
                malformed=round_["malformed"],
                duplicates=round_["duplicates"],
                shapes=["2024-11-01"],
                seed=SEED + number,
            )
            assert emitted["undelivered"] == 0, emitted
            entries += emitted["entries"]
            if number == 1:
                # Mid-run: some records are stored, many are not yet; the runner dies at once.
                wait_until(lambda: event_pipeline.count_records(pipeline.settings) >= 20, 60, "records before the kill")
                os.kill(first.pid, signal.SIGKILL)
                wait_until(lambda: not psutil.pid_exists(first.pid) or _zombie(first.pid), 10, "the runner gone")
                stored_at_kill = event_pipeline.count_records(pipeline.settings)
            if number == 2:
                second = _start_runner(settings)
                assert second.pid != first.pid
        valid = [entry for entry in entries if entry["malformed"] is None]
        malformed = [entry for entry in entries if entry["malformed"] is not None]
        settle(pipeline, [entry["event_id"] for entry in valid], len(malformed), timeout=150)
        _stop_runner(settings)
        faults_seen = client.faults()
        client.set_faults(replace=True)
        refreshes = refresh_tokens(local_sandbox.settings, installed.installation_id).refreshes

    records = event_pipeline.data_records(pipeline.settings)
    letters = _drain(pipeline.settings, pipeline.dlq_url)
    deliveries = Counter(entry["deliveries"] for entry in valid)
    print(
        f"\n{len(entries)} events published ({len(valid)} valid, {len(malformed)} malformed = "
        f"{len(malformed) / len(entries):.1%}); deliveries per valid event {dict(sorted(deliveries.items()))}; "
        f"{stored_at_kill} records stored when the runner was killed; afterwards {len(records)} records in the "
        f"data table, {len(letters)} messages in the dead-letter queue, {depth(pipeline.settings, pipeline.queue_url)} "
        f"in the queue; {refreshes} token refreshes; faults {faults_seen['graphql']} on the API and the token endpoint"
    )
    assert 0.03 <= len(malformed) / len(entries) <= 0.07
    assert max(deliveries) == 3 and min(deliveries) >= 1 and deliveries[3] >= 0.2 * len(valid)
    assert 0 < stored_at_kill < len(valid)
    assert refreshes >= 2  # the token endpoint's faults were in the way more than once
    # Every valid event exactly once: the ids are the ledger's, and no row is there twice.
    ids = [record["event_id"] for record in records]
    assert len(ids) == len(set(ids)) == len(valid)
    assert set(ids) == {entry["event_id"] for entry in valid}
    assert all(record["installation_id"] == pipeline.installation_id for record in records)
    # Every malformed event in the DLQ (once per delivery: malformed events are delivered once), nothing else.
    assert sorted(json.loads(letter["Body"])["id"] for letter in letters) == sorted(
        envelope for entry in malformed for envelope in entry["envelope_ids"]
    )
    assert depth(pipeline.settings, pipeline.queue_url) == 0


def _drain(settings: Settings, url: str) -> list[dict[str, Any]]:
    """Every message of a queue (received and kept invisible, so each comes once)."""
    sqs = aws.client("sqs", settings)
    messages: dict[str, dict[str, Any]] = {}
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        if not got:
            return list(messages.values())
        messages.update({message["MessageId"]: message for message in got})


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _token_table(pipeline: Pipeline) -> str:
    from bwp_workshop import names
    from bwp_workshop.outputs import stack_output

    return stack_output(pipeline.settings, names.INFRA_STACK, names.OUT_TOKEN_TABLE)
