"""The deployable is self-contained: the Lambda's folder, built as the stack builds it, runs
the handler on Python 3.12 with nothing but that folder and the standard library on the path
(``python3.12 -I -S``), against the local AWS and the Buy with Prime sandbox."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bwp_workshop import aws
from bwp_workshop.local.lambda_host import lambda_environment, sqs_record
from bwp_workshop.sandbox.event_shapes import FOREIGN_SOURCE, record_key
from bwp_workshop.settings import Settings
from bwp_workshop.stacks.lambda_asset import build_lambda_asset
from bwp_workshop.steps import dead_letters
from bwp_workshop.steps import pipeline as event_pipeline
from bwp_workshop.testing.checkout import CHECKOUT
from bwp_workshop.testing.environment import clean_environ
from bwp_workshop.testing.pipeline_harness import provision
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app

#: Shared with the stack tests: built folders are cached in the checkout's state folder.
BUILD_DIR = CHECKOUT / ".bwp" / "build"

SCRIPT = """
import json, sys, types
sys.path.insert(0, {folder!r})
import handler
event = json.loads(sys.stdin.read())
# The context object Lambda passes (the fields powertools' Logger and Metrics read).
context = types.SimpleNamespace(
    function_name="f", memory_limit_in_mb=512, aws_request_id="r", function_version="$LATEST",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
)
response = handler.handler(event, context)
heavy = sorted(m for m in ("pandas", "aws_cdk", "pydantic_settings", "jupyter_client", "IPython", "pydantic")
               if m in sys.modules)
import boto3, bwp_workshop, httpx
origins = [module.__file__ for module in (bwp_workshop, boto3, httpx, handler)]
print(json.dumps({{"response": response, "heavy": heavy, "origins": origins}}))
"""


def _python312() -> str:
    for candidate in (shutil.which("python3.12"), str(Path.home() / ".pyenv/versions/3.12.1/bin/python3.12")):
        if candidate and Path(candidate).is_file():
            # The interpreter itself, not a version manager's shim (which depends on the folder).
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=False
            )
            if probe.returncode == 0:
                return probe.stdout.strip()
    pytest.fail("python3.12 (the Lambda runtime's Python) is not installed; pyenv provides it on these machines")


def _receive_all(settings: Settings, queue_url: str, expected: int) -> list[dict[str, Any]]:
    sqs = aws.client("sqs", settings)
    messages: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 30
    while len(messages) < expected and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
        )
        messages.update({message["MessageId"]: message for message in answer.get("Messages", [])})
    return list(messages.values())


def test_the_built_folder_runs_the_handler_alone_on_python_312(local_sandbox: SandboxHandle, tmp_path: Path) -> None:
    python = _python312()
    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed)
        settings = pipeline.settings
        build_settings = Settings(project_dir=CHECKOUT, state_dir=tmp_path / ".bwp", build_dir=BUILD_DIR)
        folder = build_lambda_asset(build_settings, out_dir=tmp_path / "asset")

        result = local_sandbox.client.emit(
            orders=1, lifecycle="delivered", malformed=["garbage_detail"], shapes=["2024-11-01", "2024-01-01"], seed=3
        )
        entries = [entry for entry in result["entries"] if entry["source"] != FOREIGN_SOURCE]
        messages = _receive_all(settings, pipeline.queue_url, len(entries))
        # Four events in the two documented shapes (2024-11-01, thin 2024-01-01), one broken.
        assert len(messages) == len(entries) == 9
        queue_arn = aws.client("sqs", settings).get_queue_attributes(
            QueueUrl=pipeline.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        event = {"Records": [sqs_record(m, queue_arn=queue_arn, region=settings.region) for m in messages]}

        env = clean_environ(**lambda_environment(settings))
        run = subprocess.run(
            [python, "-I", "-S", "-c", SCRIPT.format(folder=str(folder))],
            input=json.dumps(event),
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
            cwd=tmp_path,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    garbage = next(e for e in entries if e["malformed"] == "garbage_detail")
    # The broken one was sent to the dead-letter queue by the handler, on this first receive.
    assert outcome["response"]["batchItemFailures"] == []
    (letter,) = dead_letters.dlq_messages(settings)
    assert letter["body"]["id"] in garbage["envelope_ids"]
    assert outcome["heavy"] == []
    assert all(origin.startswith(str(folder)) for origin in outcome["origins"]), outcome["origins"]
    stored = {record["event_id"]: record for record in event_pipeline.data_records(settings)}
    assert set(stored) == {record_key(entry) for entry in entries if entry["malformed"] is None}
    # Every event that names the order carries its facts (the tracker milestone names the carrier).
    with_order = [record for record in stored.values() if record.get("order_id")]
    assert len(with_order) == len(stored) - 2 and all(record["order_currency"] == "USD" for record in with_order)
