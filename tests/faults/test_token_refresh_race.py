"""Ten concurrent batches of the real event processing (ten Lambda instances: a processor
each, with its own clients) for one installation whose access token is about to expire,
against a served Buy with Prime sandbox whose token endpoint answers slowly: the sandbox sees
exactly one refresh, every invocation succeeds, and the token table's newest refresh token is
the one the sandbox issued last (it works there)."""

from __future__ import annotations

import threading
import time
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from bwp_workshop import aws, names
from bwp_workshop.core import credentials
from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.core.tokens import TokenEndpoint, TokenSet
from bwp_workshop.local import lambda_host
from bwp_workshop.outputs import stack_output
from bwp_workshop.steps import pipeline as event_pipeline
from bwp_workshop.testing.pipeline_harness import provision
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app

from .sandbox_database import refresh_tokens, token_hash

INVOCATIONS = 10


def _messages(settings: Any, queue_url: str, expected: int) -> list[dict[str, Any]]:
    sqs = aws.client("sqs", settings)
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 30
    while len(found) < expected and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=300, AttributeNames=["All"]
        )
        found.update({message["MessageId"]: message for message in answer.get("Messages", [])})
    return list(found.values())


def test_ten_concurrent_handlers_refresh_an_expiring_token_once(local_sandbox: SandboxHandle) -> None:
    client = local_sandbox.client
    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed)
        settings = pipeline.settings
        table = stack_output(settings, names.INFRA_STACK, names.OUT_TOKEN_TABLE)
        tokens = TokenTable(aws.resource("dynamodb", settings).Table(table))
        # The stored token expires within the handler's margin, and the sandbox no longer takes it.
        tokens.put(installed.installation_id, TokenSet.from_response({**installed.tokens, "expires_in": 30}))
        client.expire_access_tokens(installed.installation_id)
        before = refresh_tokens(local_sandbox.settings, installed.installation_id)

        emitted = client.emit(orders=INVOCATIONS, lifecycle="cancelled", shapes=["2024-11-01"], seed=41)
        messages = _messages(settings, pipeline.queue_url, len(emitted["entries"]))
        assert len(messages) == len(emitted["entries"]) >= INVOCATIONS
        queue_arn = stack_output(settings, names.EVENT_STACK, names.OUT_QUEUE_ARN)
        records = [lambda_host.sqs_record(m, queue_arn=queue_arn, region=settings.region) for m in messages]
        batches = [{"Records": records[i::INVOCATIONS]} for i in range(INVOCATIONS)]

        # The refresh takes a while at the sandbox: the others must wait for its result.
        client.set_faults(token={"latency_ms": 400})
        handler = lambda_host.load_handler_module()
        credentials.clear_cache()
        with lambda_host.environment(lambda_host.lambda_environment(settings)):
            instances = [handler.EventProcessor(handler.Config.from_environment()) for _ in range(INVOCATIONS)]
            results: list[Any] = [None] * INVOCATIONS
            start = threading.Barrier(INVOCATIONS)

            def invoke(i: int) -> None:
                """Instance ``i`` runs its invocation's batch (as its handler would)."""
                start.wait()
                try:
                    batch = instances[i].new_batch()
                    batch.prepare(SQSRecord(record) for record in batches[i]["Records"])
                    results[i] = [batch.handle(SQSRecord(record)) is not None for record in batches[i]["Records"]]
                except Exception as exc:  # reported below, with the others
                    results[i] = exc

            threads = [threading.Thread(target=invoke, args=(i,)) for i in range(INVOCATIONS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        client.set_faults(replace=True)
        credentials.clear_cache()

        after = refresh_tokens(local_sandbox.settings, installed.installation_id)
        client_side = sum(instance._endpoint.requests for instance in instances if instance._endpoint)
        latest = tokens.latest(installed.installation_id)
        assert latest is not None
        print(
            f"\n{INVOCATIONS} invocations, {len(messages)} records: {after.refreshes - before.refreshes} refresh at "
            f"the sandbox, {client_side} token endpoint request(s) from the handlers"
        )
        assert results == [[True] * len(batch["Records"]) for batch in batches]  # every record stored
        assert after.refreshes - before.refreshes == 1 and after.issued == before.issued + 1
        assert client_side == 1
        # The table's newest refresh token is the sandbox's only live one, and it works there.
        assert after.live_hash == token_hash(latest.refresh_token)
        endpoint = TokenEndpoint(settings.token_url, installed.client_id, installed.client_secret)
        assert endpoint.refresh(latest.refresh_token).access_token
        assert len(event_pipeline.data_records(settings)) == len(messages)
