"""The local stand-in for the Lambda service's SQS event source mapping.

The local AWS cannot run Lambda functions, so this runner does what AWS does for the event
Lambda: long-poll the EventStack queue, gather a batch (batch size and batching window as
configured on the event source), invoke the handler from ``lambdas/event_handler`` in this
process with an SQS-shaped event (``messageId``, ``receiptHandle``, ``body``, ``attributes``
with ``ApproximateReceiveCount``, ``eventSourceARN``...), delete the records that succeeded
and leave the failed ones (``batchItemFailures``) on the queue. A failed record becomes
visible again after the queue's visibility timeout (or ``retry_after`` seconds, to rehearse
faster: that delay doubles with each receive of the record, up to
``RETRY_DELAY_CAP`` seconds, so a short outage does not use up the receives in seconds), and
the queue's redrive policy moves it to the dead-letter queue once it has been
received ``maxReceiveCount`` times. An invocation that raises fails its whole batch, as on AWS.

The handler runs in a :class:`~bwp_workshop.local.lambda_host.LambdaInstance` (one invocation
at a time; its EMF metrics published to the local AWS's CloudWatch), and the runner process
also evaluates the stacks' alarms there (:mod:`bwp_workshop.local.alarm_evaluation`).

Run as ``python -m bwp_workshop.local.event_runner`` (``bwp-workshop local up`` does, once
EventStack is deployed); ``/_bwp/health`` answers ``{"service": "event-runner", "pid": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_random_exponential

from .alarm_evaluation import evaluator_from_settings
from .lambda_host import (
    LambdaContext,
    LambdaInstance,
    lambda_environment,
    load_handler_module,
    metric_publisher,
    sqs_record,
)

SERVICE_NAME = "event-runner"
HEALTH_PATH = "/_bwp/health"
#: SQS returns at most this many messages per receive.
SQS_MAX_MESSAGES = 10
#: DeleteMessageBatch tries for the entries SQS reports as failed; the pause grows from this.
DELETE_ATTEMPTS = 5
DELETE_BACKOFF_S = 0.05
#: Longest delay before a failed record is redelivered when ``retry_after`` is set.
RETRY_DELAY_CAP = 60.0

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class RunnerStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    batches: int = 0
    invocation_errors: int = 0


class EventRunner:
    """Polls one queue and invokes ``handler`` with batches, like an SQS event source mapping
    with ``ReportBatchItemFailures``. ``concurrency`` pollers run side by side (AWS runs
    several concurrent batches too)."""

    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        queue_arn: str | None = None,
        region: str = "us-east-1",
        batch_size: int = 10,
        batch_window: float = 0.0,
        wait_seconds: int = 1,
        concurrency: int = 2,
        retry_after: float | None = None,
        lambda_timeout: float = 30.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.queue_arn = queue_arn or self._queue_arn()
        self.region = region
        self.batch_size = batch_size
        self.batch_window = batch_window
        self.wait_seconds = wait_seconds
        self.concurrency = concurrency
        self.retry_after = retry_after
        self.lambda_timeout = lambda_timeout
        self.log = log or (lambda _line: None)
        self.stats = RunnerStats()
        #: Why the runner cannot work right now (its queue does not exist, say); '' when it can.
        self.problem = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _queue_arn(self) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    # --- one batch ------------------------------------------------------------------------
    def receive_batch(self) -> list[dict[str, Any]]:
        """Up to ``batch_size`` messages: the first receive long-polls, later ones gather
        more while the batching window lasts."""
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(messages) < self.batch_size and not self._stop.is_set():
            wait = self.wait_seconds if deadline is None else max(0, min(20, int(deadline - time.monotonic())))
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_MAX_MESSAGES, self.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = response.get("Messages", [])
            messages.extend(got)
            if not messages:
                break  # nothing arrived during the long poll; the caller polls again
            if deadline is None:  # the batching window opens with the first message
                deadline = time.monotonic() + self.batch_window
            if not got or time.monotonic() >= deadline:
                break
        return messages

    def invoke(self, messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Invoke the handler with ``messages``; returns ``(succeeded, failed)``."""
        records = [sqs_record(message, queue_arn=self.queue_arn, region=self.region) for message in messages]
        context = LambdaContext(timeout_seconds=self.lambda_timeout)
        try:
            response = self.handler({"Records": records}, context)
            failures = response.get("batchItemFailures", []) if isinstance(response, dict) else None
            failed_ids = {str(failure["itemIdentifier"]) for failure in failures} if failures is not None else None
        except Exception as exc:
            self.log(f"invocation failed ({type(exc).__name__}): the whole batch of {len(messages)} is retried")
            with self._lock:
                self.stats.invocation_errors += 1
            failed_ids = None
        if failed_ids is None or not failed_ids <= {message["MessageId"] for message in messages}:
            return [], messages  # as on AWS: an invalid response fails the whole batch
        succeeded = [message for message in messages if message["MessageId"] not in failed_ids]
        failed = [message for message in messages if message["MessageId"] in failed_ids]
        return succeeded, failed

    def settle(self, succeeded: list[dict[str, Any]], failed: list[dict[str, Any]]) -> None:
        for start in range(0, len(succeeded), SQS_MAX_MESSAGES):
            self.delete(succeeded[start : start + SQS_MAX_MESSAGES])
        if self.retry_after is not None:
            for start in range(0, len(failed), SQS_MAX_MESSAGES):
                chunk = failed[start : start + SQS_MAX_MESSAGES]
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_delay(m)}
                        for i, m in enumerate(chunk)
                    ],
                )

    def delete(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """DeleteMessageBatch for up to ten messages. Entries the queue reports as failed are
        deleted again with backoff (up to ``DELETE_ATTEMPTS`` tries), except those it blames on
        the request (an invalid receipt handle does not heal); what could not be deleted is
        logged (it will be delivered again, and the handler skips what it stored). Returns the
        messages left undeleted."""
        pending = {str(i): message for i, message in enumerate(messages)}
        errors: dict[str, str] = {}

        def delete_pending() -> bool:
            """One DeleteMessageBatch of what is pending; True when some should be tried again."""
            nonlocal pending
            answer = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": key, "ReceiptHandle": m["ReceiptHandle"]} for key, m in pending.items()],
            )
            failures = {f["Id"]: f for f in answer.get("Failed", []) if f.get("Id") in pending}
            pending = {key: pending[key] for key in failures}
            errors.update({key: f"{f.get('Code', '?')}: {f.get('Message', '')}"[:200] for key, f in failures.items()})
            return any(not f.get("SenderFault") for f in failures.values())

        Retrying(
            stop=stop_after_attempt(DELETE_ATTEMPTS),
            wait=wait_random_exponential(multiplier=DELETE_BACKOFF_S, max=2.0),
            retry=retry_if_result(bool),
            retry_error_callback=lambda _state: True,
        )(delete_pending)
        if pending:
            self.log(
                f"could not delete {len(pending)} processed message(s); they will be delivered again: "
                + "; ".join(f"{m['MessageId']} ({errors.get(key, '?')})" for key, m in pending.items())
            )
        return list(pending.values())

    def retry_delay(self, message: dict[str, Any]) -> int:
        """Seconds until a failed record is visible again: ``retry_after`` at its first
        receive, doubled with each further receive, at most ``RETRY_DELAY_CAP``."""
        count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1") or 1)
        return int(min(RETRY_DELAY_CAP, (self.retry_after or 0.0) * 2 ** max(0, count - 1)))

    def poll_once(self) -> int:
        """Receive, invoke and settle one batch; returns how many messages it held."""
        messages = self.receive_batch()
        if not messages:
            return 0
        succeeded, failed = self.invoke(messages)
        self.settle(succeeded, failed)
        with self._lock:
            self.stats.batches += 1
            self.stats.received += len(messages)
            self.stats.succeeded += len(succeeded)
            self.stats.failed += len(failed)
        if failed:
            self.log(f"batch of {len(messages)}: {len(failed)} failed, left on the queue for redelivery")
        return len(messages)

    # --- running in the background --------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
                self.problem = ""
            except Exception as exc:  # a hiccup of the local AWS must not end the poller
                if _queue_missing(exc):
                    self.problem = f"its queue {self.queue_url} does not exist (was EventStack destroyed?)"
                self.log(f"polling failed ({type(exc).__name__}: {str(exc)[:200]}); retrying in 1 s")
                self._stop.wait(1.0)

    def start(self) -> EventRunner:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._loop, name=f"event-runner-{i}", daemon=True) for i in range(self.concurrency)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def __enter__(self) -> EventRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _queue_missing(error: Exception) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    return code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def runner_from_settings(settings: Any, *, handler: Handler | None = None, **options: Any) -> EventRunner:
    """A runner on the EventStack queue (or the ``queue_url``/``queue_arn`` options), with the
    event source's batch settings, invoking the event Lambda's handler (loaded from
    ``lambdas/event_handler``)."""
    from .. import aws, names
    from ..outputs import stack_output

    if handler is None:
        handler = load_handler_module().handler
    if not isinstance(handler, LambdaInstance):
        handler = LambdaInstance(handler, on_metrics=metric_publisher(settings, log=options.get("log")))
    defaults: dict[str, Any] = {
        "batch_size": settings.event_batch_size,
        "batch_window": float(settings.event_batch_window),
        "lambda_timeout": float(settings.lambda_timeout),
    }
    defaults.update(options)
    queue_url = defaults.pop("queue_url", None) or stack_output(settings, names.EVENT_STACK, names.OUT_QUEUE_URL)
    queue_arn = defaults.pop("queue_arn", None) or stack_output(settings, names.EVENT_STACK, names.OUT_QUEUE_ARN)
    return EventRunner(
        sqs=aws.client("sqs", settings),
        queue_url=queue_url,
        queue_arn=queue_arn,
        region=settings.region,
        handler=handler,
        **defaults,
    )


class _Health(BaseHTTPRequestHandler):
    runner: EventRunner | None = None

    def do_GET(self) -> None:
        if self.path != HEALTH_PATH:
            self.send_error(404)
            return
        stats = asdict(self.runner.stats) if self.runner else {}
        problem = self.runner.problem if self.runner else ""
        answer = {"service": SERVICE_NAME, "pid": os.getpid(), "stats": stats}
        if problem:  # unhealthy: `local status` shows why, `local up` restarts it
            answer["problem"] = problem
        body = json.dumps(answer).encode()
        self.send_response(503 if problem else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def main(argv: list[str] | None = None) -> int:
    from ..settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="port of the health endpoint")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--batch-window", type=float, default=None)
    parser.add_argument("--concurrency", type=int, default=4, help="pollers running batches side by side")
    parser.add_argument(
        "--retry-after",
        type=float,
        default=None,
        help="seconds until a failed record is visible again (default: the queue's visibility timeout)",
    )
    parser.add_argument("--queue-url", default=None, help="the queue to poll (default: EventStack's)")
    parser.add_argument("--queue-arn", default=None, help="its ARN (default: EventStack's)")
    args = parser.parse_args(argv)

    settings = get_settings()
    os.environ.update(lambda_environment(settings))
    options: dict[str, Any] = {
        "concurrency": args.concurrency,
        "retry_after": args.retry_after,
        "queue_url": args.queue_url,
        "queue_arn": args.queue_arn,
    }
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    if args.batch_window is not None:
        options["batch_window"] = args.batch_window
    runner = runner_from_settings(settings, log=lambda line: print(line, flush=True), **options)
    try:
        runner.sqs.get_queue_attributes(QueueUrl=runner.queue_url, AttributeNames=["QueueArn"])
    except Exception as exc:
        if not _queue_missing(exc):
            raise
        print(
            f"event-runner: the queue {runner.queue_url} does not exist in the local AWS; "
            "deploy EventStack (notebook 05), then run `bwp-workshop local up`.",
            flush=True,
        )
        return 2

    _Health.runner = runner
    server = ThreadingHTTPServer((args.host, args.port), _Health)
    server.daemon_threads = True
    stopping = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner.start()
    # CloudWatch's part for the local AWS: queue depth sampled, the stacks' alarms evaluated.
    evaluator = evaluator_from_settings(settings).start(log=lambda line: print(line, flush=True))
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    print(
        f"event-runner: polling {runner.queue_url} (batch {runner.batch_size}, window {runner.batch_window} s, "
        f"{runner.concurrency} pollers); health on http://{args.host}:{args.port}{HEALTH_PATH}",
        flush=True,
    )
    stopping.wait()
    server.shutdown()
    runner.stop(timeout=runner.wait_seconds + 10)
    evaluator.stop()
    print(f"event-runner: stopped ({asdict(runner.stats)})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
