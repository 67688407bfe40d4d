"""Test doubles and factories for the event Lambda: a Buy with Prime token endpoint and
GraphQL API (for ``httpx.MockTransport``), EventBridge envelopes in the three shapes, SQS
records as the Lambda service delivers them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import httpx

from bwp_workshop.local import emf
from bwp_workshop.local.lambda_host import LambdaContext
from bwp_workshop.names import DATA_SK
from tests.events import SOURCE

CLIENT_ID = "client-test"
CLIENT_SECRET = "client-secret-value-0123456789"
BP = "bp-0001"


class FakeBwp:
    """Token endpoint and GraphQL API of Buy with Prime, enough for the handler: rotating
    refresh tokens, bearer checks, ``buyWithPrimeStore``, ``order`` and ``packageTracker``, and scripted faults
    (a queue of responses to give before the real answer)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.access = {"at-0": "inst-1"}
        self.refresh_tokens = {"rt-0": "inst-1"}
        self.issued = 0
        self.token_requests = 0
        self.graphql_requests: list[dict[str, Any]] = []
        self.graphql_faults: list[httpx.Response] = []
        self.token_faults: list[httpx.Response] = []
        self.refresh_delay = 0.0
        #: The client secret the token endpoint accepts (a rotation changes it).
        self.client_secret = CLIENT_SECRET
        self.orders = {
            "o-1": {
                "id": "o-1",
                "metadata": {"executionState": "STARTED", "createdAt": "2026-01-01T00:00:00Z"},
                "totalPrice": {"value": {"amount": 59.97, "currencyCode": "USD"}},
                "lineItems": [{"id": "li-1"}, {"id": "li-2"}],
            }
        }

        #: Package trackers by (carrier code, tracking number), as ``packageTracker`` answers them.
        self.trackers: dict[tuple[str, str], dict[str, Any]] = {
            ("ups", "1Z-1"): {
                "packageTrackerIdentifier": {"trackingNumber": "1Z-1", "carrierCode": "ups"},
                "latestMilestone": {"status": {"code": "OUT_FOR_DELIVERY"}, "occurredAt": "2026-11-28T06:55:00Z"},
            }
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return self.token(request)
        if request.url.path == "/graphql":
            return self.graphql(request)
        return httpx.Response(404)

    def token(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        with self.lock:
            self.token_requests += 1
            if self.token_faults:
                return self.token_faults.pop(0)
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, self.client_secret):
                return httpx.Response(401, json={"error": "invalid_client"})
            installation = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if form.get("grant_type") != "refresh_token" or installation is None:
                return httpx.Response(400, json={"error": "invalid_grant"})
            self.issued += 1
            n = self.issued
            self.access[f"at-{n}"] = installation
            self.refresh_tokens[f"rt-{n}"] = installation
        time.sleep(self.refresh_delay)
        return httpx.Response(200, json={"access_token": f"at-{n}", "refresh_token": f"rt-{n}", "expires_in": 900})

    def graphql(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self.lock:
            self.graphql_requests.append({"headers": dict(request.headers), **body})
            if self.graphql_faults:
                return self.graphql_faults.pop(0)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        installation = self.access.get(token)
        if installation is None or installation != request.headers.get("x-omni-installationid"):
            return httpx.Response(401, json={"errors": [{"message": "unauthorized"}]})
        if "buyWithPrimeStore" in body["query"]:
            return httpx.Response(200, json={"data": {"buyWithPrimeStore": {"siteId": "site-1", "widgetId": "w-1"}}})
        if "packageTracker(" in body["query"]:  # tracking-queries-packagetracker: null for an unknown tracker
            identifier = body["variables"]["packageTrackerInput"]["packageTrackerIdentifier"]
            tracker = self.trackers.get((identifier["carrierCode"], identifier["trackingNumber"]))
            return httpx.Response(200, json={"data": {"packageTracker": tracker}})
        order_id = body["variables"]["orderIdentifier"]["orderId"]
        order = self.orders.get(order_id)
        if order is None:
            return error_response("ResourceNotFoundError", "order not found")
        return httpx.Response(200, json={"data": {"order": order}})

    def queries(self, word: str) -> int:
        return sum(1 for call in self.graphql_requests if word in call["query"])


def error_response(error_type: str, message: str = "failed", code: str | None = None) -> httpx.Response:
    """A GraphQL error as Buy with Prime answers it (the sandbox's own classification)."""
    from bwp_workshop.sandbox.api_errors import error_body

    return httpx.Response(200, json=error_body(error_type, message, code))


def envelope(
    event_type: str = "ORDER_CONFIRMED",
    *,
    shape: str = "2024-11-01",
    resources: list[str] | None = None,
    installation: str | None = "inst-1",
    event_id: str | None = None,
    source: str = SOURCE,
) -> dict[str, Any]:
    """An EventBridge envelope as Buy with Prime publishes it, in one of the three shapes."""
    event_id = event_id or str(uuid.uuid4())
    resources = [f"businessProduct/{BP}/order/o-1"] if resources is None else resources
    context = {"contextKeys": {"installationId": installation}} if installation else {}
    if shape == "2024-11-01":
        detail: dict[str, Any] = {
            "eventId": event_id,
            "idempotencyKey": f"idem-{event_id}",
            "eventDescriptor": event_type,
            "resources": resources,
            "apiVersion": "2024-11-01",
            "subscriptionId": "sub-1",
            "eventTime": "2026-11-28T07:00:00Z",
            "data": {},
            **context,
        }
    elif shape == "legacy":
        detail = {"eventId": event_id, "eventType": event_type, **context}
    else:
        detail = {}
    return {
        "version": "0",
        "id": str(uuid.uuid4()) if shape != "2024-01-01" else event_id,
        "detail-type": event_type,
        "source": source,
        "account": "000000000000",
        "time": "2026-11-28T07:00:00Z",
        "region": "us-east-1",
        "resources": resources,
        "detail": detail,
    }


def sqs_record(body: Any, *, receive_count: int = 1, message_id: str | None = None) -> dict[str, Any]:
    """One record of an SQS event as the Lambda service delivers it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": f"rh-{uuid.uuid4().hex}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(int(time.time() * 1000)),
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:events",
        "awsRegion": "us-east-1",
    }


def sqs_event(*bodies: Any) -> dict[str, Any]:
    return {"Records": [sqs_record(body) for body in bodies]}


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def stored(tables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The data table's items by event id."""
    return {item[DATA_SK]: item for item in tables["data"].scan(ConsistentRead=True)["Items"]}


def create_event_queues(settings: Any, *, max_receive_count: int, visibility_timeout: int = 30) -> dict[str, str]:
    """Queue and DLQ with a redrive policy, as EventStack creates them, and the stack outputs
    the runner and the notebooks read (data table ``data``, token table ``tokens``)."""
    from bwp_workshop import aws, names
    from bwp_workshop.outputs import outputs_file

    sqs = aws.client("sqs", settings)
    dlq_url = sqs.create_queue(QueueName=f"events-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"events-{uuid.uuid4().hex[:8]}",
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    outputs = {
        names.EVENT_STACK: {
            names.OUT_DATA_TABLE: "data",
            names.OUT_QUEUE_URL: queue_url,
            names.OUT_QUEUE_ARN: queue_arn,
            names.OUT_DLQ_URL: dlq_url,
        },
        names.INFRA_STACK: {names.OUT_TOKEN_TABLE: "tokens", names.OUT_BUSINESS_PRODUCT_TABLE: "business-products"},
    }
    path = outputs_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outputs))
    return {"queue_url": queue_url, "queue_arn": queue_arn, "dlq_url": dlq_url}


def queue_depth(settings: Any, url: str) -> int:
    """The messages in the queue at ``url``: visible and in flight."""
    from bwp_workshop import aws

    attributes = aws.client("sqs", settings).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def wait_until(condition: Any, timeout: float = 30.0, message: str = "condition") -> None:
    """Poll ``condition`` (backing off from 20 ms) until it is true, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def invoke(handler_module: Any, processor: Any, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The entry point as the Lambda service calls it (with a context object), with ``processor``
    as the instance's (the module state its first invocation would have made)."""
    previous = handler_module._processor
    handler_module._processor = processor
    try:
        return dict(handler_module.handler(event, context or LambdaContext()))
    finally:
        handler_module._processor = previous


def counted(output: str, *, by: str | None = None) -> dict[Any, float]:
    """The outcome metrics in the handler's EMF output: totals by metric name, or with ``by``
    (a dimension) by ``(metric name, dimension value)``."""
    sums = emf.totals(emf.read(output), by=by)
    return {name: value for (name, _), value in sums.items()} if by is None else dict(sums)
