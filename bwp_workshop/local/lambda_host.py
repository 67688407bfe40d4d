"""How the local target hosts the event Lambda in a process: the handler loaded from
``lambdas/event_handler`` (as the Lambda runtime imports it), the environment EventStack sets
on the function, the context object, and SQS-shaped records as the event source mapping
delivers them, and :class:`LambdaInstance`: invocations one at a time, with the metrics the
handler prints (EMF) captured, as CloudWatch Logs would extract them.
:mod:`bwp_workshop.local.event_runner` invokes the handler with these."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from . import emf

#: Module name the handler is loaded under (its file is ``lambdas/event_handler/handler.py``).
HANDLER_MODULE = "bwp_event_handler"


def handler_path(project_dir: Path | None = None) -> Path:
    """``lambdas/event_handler/handler.py`` of the checkout this package runs from (or of
    ``project_dir``)."""
    candidates = [Path(__file__).resolve().parents[2]]
    if project_dir is not None:
        candidates.insert(0, project_dir)
    for root in candidates:
        path = root / "lambdas" / "event_handler" / "handler.py"
        if path.is_file():
            return path
    from ..errors import ConfigurationError

    raise ConfigurationError(
        "lambdas/event_handler/handler.py was not found next to the bwp_workshop package.",
        hint="Run from the workshop checkout (pip install -e . in it).",
    )


def load_handler_module(project_dir: Path | None = None) -> ModuleType:
    """The event Lambda's handler module, imported once per process."""
    loaded = sys.modules.get(HANDLER_MODULE)
    if loaded is not None:
        return loaded
    path = handler_path(project_dir)
    # On Lambda the handler's folder is on sys.path: its sibling modules import as top-level ones.
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(HANDLER_MODULE, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[HANDLER_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[HANDLER_MODULE]
        raise
    return module


def lambda_environment(settings: Any) -> dict[str, str]:
    """The variables EventStack sets on the Lambda (``environments.lambda_environment``), from
    the stack outputs and the settings, plus what an AWS SDK needs to reach the target (the
    local AWS on local)."""
    from .. import aws, environments, names
    from ..outputs import load_outputs, stack_output

    env = environments.lambda_environment(
        settings,
        data_table=stack_output(settings, names.EVENT_STACK, names.OUT_DATA_TABLE),
        token_table=stack_output(settings, names.INFRA_STACK, names.OUT_TOKEN_TABLE),
        # Empty for an InfraStack deployed before the table existed (contextKeys events only).
        business_product_table=load_outputs(settings)
        .get(names.INFRA_STACK, {})
        .get(names.OUT_BUSINESS_PRODUCT_TABLE, ""),
        dead_letter_queue_url=stack_output(settings, names.EVENT_STACK, names.OUT_DLQ_URL),
        event_source=environments.deployed_event_source(settings),
        # Empty for an EventStack deployed before the analytics store existed.
        analytics_bucket=load_outputs(settings).get(names.EVENT_STACK, {}).get(names.OUT_ANALYTICS_BUCKET, ""),
    )
    aws_env = aws.subprocess_environment(settings, base={})
    env.update({name: value for name, value in aws_env.items() if name.startswith("AWS_")})
    return env


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` updated with ``values`` for the duration (restored afterwards)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class LambdaContext:
    """The parts of the Lambda context object handlers use."""

    function_name: str = "bwp-event-handler-local"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 30.0
    aws_request_id: str = ""
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:bwp-event-handler-local"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/bwp-event-handler-local"
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self._started = time.monotonic()
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS API message attributes in the Lambda event's spelling."""
    converted = {}
    for name, value in attributes.items():
        converted[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
    return converted


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the Lambda SQS event for a message as ``ReceiveMessage`` returned it."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class _EmfTee(io.TextIOBase):
    """Stands in for ``sys.stdout`` during an invocation: the EMF lines the handler prints are
    kept, everything else (any thread's output) goes on to ``passthrough``."""

    def __init__(self, passthrough: TextIO) -> None:
        self.passthrough = passthrough
        self.lines: list[str] = []
        self._partial: dict[int, str] = {}

    def write(self, text: str) -> int:
        thread = threading.get_ident()
        buffered = self._partial.pop(thread, "") + text
        *complete, rest = buffered.split("\n")
        for line in complete:
            if line.startswith("{") and '"_aws"' in line:
                self.lines.append(line)
            else:
                self.passthrough.write(line + "\n")
        if rest:
            self._partial[thread] = rest
        return len(text)

    def flush(self) -> None:
        for rest in self._partial.values():
            self.passthrough.write(rest)
        self._partial.clear()
        self.passthrough.flush()


class _ThreadRouter(io.TextIOBase):
    """``sys.stdout`` while invocations run: a thread that is invoking a handler writes to its
    own :class:`_EmfTee`; every other thread writes to what ``sys.stdout`` was (so a redirect
    made elsewhere, a test's or a CLI runner's, is neither captured nor undone)."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.tees: dict[int, _EmfTee] = {}

    def write(self, text: str) -> int:
        tee = self.tees.get(threading.get_ident())
        return (tee or self.target).write(text)

    def flush(self) -> None:
        self.target.flush()


_router_lock = threading.Lock()


@contextlib.contextmanager
def _stdout_of_this_thread() -> Iterator[_EmfTee]:
    """This thread's prints captured in a tee (EMF lines kept, the rest passed on), without
    changing what other threads print to: ``contextlib.redirect_stdout`` swaps the process's
    stdout, and restoring it from a thread undoes whatever another thread redirected meanwhile."""
    with _router_lock:
        router = sys.stdout if isinstance(sys.stdout, _ThreadRouter) else _ThreadRouter(sys.stdout)
        sys.stdout = router
        tee = router.tees[threading.get_ident()] = _EmfTee(router.target)
    try:
        yield tee
    finally:
        with _router_lock:
            router.tees.pop(threading.get_ident(), None)
            if not router.tees and sys.stdout is router:  # the last invocation: stdout as it was
                sys.stdout = router.target


class LambdaInstance:
    """One Lambda instance of ``handler``. Lambda runs one invocation at a time on an instance
    (the handler's module-level batch processor and metrics rely on it), so calls here wait
    for each other; pollers running side by side still overlap their receives and deletes.
    What the handler prints in the embedded metric format is captured and handed to
    ``on_metrics`` (on AWS, CloudWatch Logs extracts it from the log lines); ``points`` keeps
    every data point seen, ``durations_ms`` each invocation's duration (as Lambda bills it: from
    the handler's start to its return)."""

    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        on_metrics: Callable[[list[emf.Datum]], None] | None = None,
    ) -> None:
        self.handler = handler
        self.on_metrics = on_metrics
        self.points: list[emf.Datum] = []
        self.durations_ms: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock, _stdout_of_this_thread() as tee:
            started = time.perf_counter()
            try:
                return self.handler(event, context)
            finally:
                self.durations_ms.append((time.perf_counter() - started) * 1000)
                tee.flush()
                points = emf.read(tee.lines)
                self.points.extend(points)
                if points and self.on_metrics is not None:
                    self.on_metrics(points)


def metric_publisher(settings: Any, *, log: Callable[[str], None] | None = None) -> Callable[[list[Any]], None]:
    """What CloudWatch Logs does with the Lambda's EMF lines, for the local AWS: their data
    points sent to its CloudWatch (``PutMetricData``), where the local alarm evaluation reads
    them. A failure is logged, never the invocation's."""
    from .. import aws

    cloudwatch = aws.client("cloudwatch", settings)

    def publish(points: list[Any]) -> None:
        try:
            emf.publish(cloudwatch, points)
        except Exception as exc:
            if log is not None:
                log(f"could not publish {len(points)} metric data point(s) ({type(exc).__name__})")

    return publish
