"""The local event runner as the local runtime starts it: a process with a health endpoint,
polling the queue of the session's moto server. These start a process that must reach the
queues the fixtures make, so the fixtures here build on that server (``lambda_settings`` is
``local_settings``), and the tests are in the server tier; the runner in process is in
``test_event_runner.py``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bwp_workshop import aws
from bwp_workshop.errors import LocalRuntimeError
from bwp_workshop.local import event_runner, processes
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.settings import Settings
from bwp_workshop.steps import dead_letters, pipeline
from bwp_workshop.testing.ports import free_port
from tests.local_stacks import record_stack

from .doubles import queue_depth, wait_until


@pytest.fixture
def lambda_settings(local_settings: Settings) -> Settings:
    """The tables, secret and queues on the session's moto server, which the runner's process reaches."""
    return local_settings


def test_the_runner_process_answers_its_health_check_and_dead_letters_a_malformed_event(
    local_settings: Settings, event_queues: dict[str, str], tmp_path: Path
) -> None:
    settings = Settings(
        project_dir=tmp_path,
        state_dir=local_settings.bwp_dir,  # where the outputs were recorded
        local_moto_port=local_settings.local_moto_port,
        local_event_runner_port=free_port(),
        local_event_retry_after=0,
    )
    runtime = LocalRuntime(settings)
    spec = runtime.services()[-1]
    registry = processes.ProcessRegistry(tmp_path / "runner-state")
    with registry.locked():
        record = processes.start(spec, registry, ready_timeout=60)
    try:
        health = httpx.get(spec.health_url, trust_env=False).json()
        assert health["service"] == "event-runner" and health["pid"] == record.pid
        pipeline.send_to_queue(["not a Buy with Prime event"], local_settings)
        wait_until(lambda: queue_depth(local_settings, event_queues["dlq_url"]) == 1, message="the dead letter")
        # The handler dead-letters it itself on its first receive (no retries for what can never succeed).
        assert httpx.get(spec.health_url, trust_env=False).json()["stats"]["failed"] == 0
        (letter,) = dead_letters.dlq_messages(local_settings)
        assert letter["receive_count"] == 1
    finally:
        with registry.locked():
            processes.stop(event_runner.SERVICE_NAME, registry)
    assert processes.process_of(record) is None


def test_the_runner_is_unhealthy_while_its_queue_does_not_exist_and_says_so(
    local_settings: Settings, event_queues: dict[str, str], tmp_path: Path
) -> None:
    from bwp_workshop.names import EVENT_STACK
    from bwp_workshop.outputs import load_outputs

    # Deployed, as far as CloudFormation knows.
    record_stack(local_settings, EVENT_STACK, load_outputs(local_settings)[EVENT_STACK])
    settings = Settings(
        project_dir=tmp_path,
        state_dir=local_settings.bwp_dir,
        local_moto_port=local_settings.local_moto_port,
        local_event_runner_port=free_port(),
    )
    runtime = LocalRuntime(settings)
    spec = runtime.services()[-1]
    with runtime.registry.locked():
        record = processes.start(spec, runtime.registry, ready_timeout=60)
    try:
        aws.client("sqs", local_settings).delete_queue(QueueUrl=event_queues["queue_url"])
        wait_until(
            lambda: httpx.get(spec.health_url, trust_env=False).status_code == 503, message="an unhealthy runner"
        )
        (status,) = [s for s in runtime.status() if s.name == event_runner.SERVICE_NAME]
        assert status.state == "unhealthy" and "does not exist" in status.detail and "local up" in status.detail
        # A runner started on a queue that does not exist says so and exits, rather than idling.
        with runtime.registry.locked():
            processes.stop(spec.name, runtime.registry)
            with pytest.raises(LocalRuntimeError, match="does not exist in the local AWS"):
                processes.start(spec, runtime.registry, ready_timeout=60)
    finally:
        with runtime.registry.locked():
            processes.stop(event_runner.SERVICE_NAME, runtime.registry)
    assert processes.process_of(record) is None
