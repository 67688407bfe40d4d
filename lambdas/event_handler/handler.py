"""The event Lambda (``handler.handler``): records Buy with Prime events from the SQS queue.

Each SQS batch is processed record by record (aws-lambda-powertools ``BatchProcessor``); a
record that fails is reported in ``batchItemFailures`` so SQS redelivers it (and, after the
queue's maximum receive count, moves it to the dead-letter queue), while the batch's other
records are acknowledged. Nothing is acknowledged unprocessed.

Per record: parse the EventBridge envelope (any Buy with Prime shape, any event type), find
the tenant (``detail.contextKeys.installationId`` when present, else the installation the
``businessProduct`` of ``resources`` belongs to, from the business product table the OAuth app
keeps), get a valid access token for the installation (once per installation per batch;
refreshed at the token endpoint when it is about to expire, at most once across concurrent
invocations), query the store (cached per installation) and, when the event names an order,
the order (each order once per batch), then write one item keyed by the event id with a
conditional put, so a redelivered event is never stored twice.

Every well-formed Buy with Prime event is stored. When enrichment fails for good (the
installation has no token because it was uninstalled, the API refuses the query) the event is
stored without the API's facts, with ``enriched`` false and the reason. A transient failure
(5xx, throttling, timeouts) fails the record, so the queue redelivers it later. A record that
can never succeed (not JSON, not a Buy with Prime event, no tenant) is sent to the dead-letter
queue by the handler on its first receive (``DEAD_LETTER_QUEUE_URL``), with the reason as the
message attribute ``bwp-failure-reason``.

Configuration comes from the environment the stack sets (``DATA_TABLE_NAME``,
``TOKEN_TABLE_NAME``, ``BUSINESS_PRODUCT_TABLE_NAME``, ``DEAD_LETTER_QUEUE_URL``,
``CLIENT_SECRET_NAME``, ``BWP_TOKEN_URL``, ``BWP_GRAPHQL_URL``, ``BWP_API_VERSION``). AWS
clients are made on the first invocation, not at import.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from bwp_workshop.core.business_products import BusinessProductMap, BusinessProductMapError
from bwp_workshop.core.credentials import CredentialsUnavailable, client_credentials
from bwp_workshop.core.events import BwpEvent, MalformedEvent, parse_event
from bwp_workshop.core.graphql import GraphQLClient, GraphQLError
from bwp_workshop.core.token_store import StoredToken, TokenStore, TokenStoreError
from bwp_workshop.core.tokens import TokenEndpoint, TokenEndpointError
from bwp_workshop.names import (
    DATA_PK,
    ENV_API_VERSION,
    ENV_BUSINESS_PRODUCT_TABLE,
    ENV_CLIENT_SECRET_NAME,
    ENV_DATA_TABLE,
    ENV_DEAD_LETTER_QUEUE_URL,
    ENV_GRAPHQL_URL,
    ENV_POWERTOOLS_SERVICE,
    ENV_TOKEN_TABLE,
    ENV_TOKEN_URL,
    EVENT_HANDLER_SERVICE,
    FAILURE_REASON_ATTRIBUTE,
)

logger = Logger(service=os.environ.get(ENV_POWERTOOLS_SERVICE) or EVENT_HANDLER_SERVICE)

#: Refresh a token that expires within this many seconds (an API call must not outlive it).
TOKEN_MARGIN_SECONDS = 60.0
#: How long a store's site and widget ids are reused before they are asked again.
STORE_CACHE_SECONDS = 3600.0
#: API queries of one batch that run side by side.
API_CONCURRENCY = 4

#: Failures a retry cannot fix; anything else is logged as transient.
PERMANENT = "permanent"
TRANSIENT = "transient"
#: Message attribute with the reason the handler dead-lettered a record.
#: Where an event's installation came from (the ``installation_from`` of its record).
FROM_CONTEXT_KEYS = "contextKeys"
FROM_BUSINESS_PRODUCT = "businessProduct"


class RecordFailed(Exception):
    """A record could not be processed. ``kind`` is permanent or transient; ``reason`` is safe
    to log (no tokens, no secrets)."""

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True)
class Config:
    data_table: str
    token_table: str
    client_secret_name: str
    token_url: str
    graphql_url: str
    api_version: str = ""
    #: Empty: only events with ``contextKeys.installationId`` can be tied to a tenant.
    business_product_table: str = ""
    #: Empty: a permanent failure is left to the queue's redrive policy (after its receives).
    dead_letter_queue_url: str = ""

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        required = {
            ENV_DATA_TABLE: "data_table",
            ENV_TOKEN_TABLE: "token_table",
            ENV_CLIENT_SECRET_NAME: "client_secret_name",
            ENV_TOKEN_URL: "token_url",
            ENV_GRAPHQL_URL: "graphql_url",
        }
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise RuntimeError(f"the event handler is not configured: set {', '.join(missing)}")
        values = {field: env[name] for name, field in required.items()}
        return cls(
            **values,
            api_version=env.get(ENV_API_VERSION, ""),
            business_product_table=env.get(ENV_BUSINESS_PRODUCT_TABLE, ""),
            dead_letter_queue_url=env.get(ENV_DEAD_LETTER_QUEUE_URL, ""),
        )


class EventProcessor:
    """Long-lived state of one Lambda instance: clients, the token endpoint, the store cache.
    Thread-safe, so the local event runner may invoke the handler from several pollers."""

    def __init__(
        self, config: Config, *, dynamodb: Any = None, secrets: Any = None, http: Any = None, sqs: Any = None
    ) -> None:
        self.config = config
        if dynamodb is None or secrets is None or (sqs is None and config.dead_letter_queue_url):
            import boto3  # here, not at import: the cold start pays it only when it is needed

            dynamodb = dynamodb or boto3.resource("dynamodb")
            secrets = secrets or boto3.client("secretsmanager")
            if config.dead_letter_queue_url:
                sqs = sqs or boto3.client("sqs")
        self.sqs = sqs
        self.data_table = dynamodb.Table(config.data_table)
        self.business_products = (
            BusinessProductMap(dynamodb.Table(config.business_product_table)) if config.business_product_table else None
        )
        self.dynamodb = dynamodb
        self.tokens = TokenStore(dynamodb.Table(config.token_table))
        self.secrets = secrets
        self.graphql = GraphQLClient(config.graphql_url, api_version=config.api_version, http=http)
        self._http = http
        self._endpoint: TokenEndpoint | None = None
        self._stores: dict[str, tuple[float, dict[str, Any]]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        #: DynamoDB calls on the data table (the token store counts its own), for measurements.
        self.data_calls = 0
        self.records_stored = 0
        self.duplicates = 0
        self.unenriched = 0
        self.dead_lettered = 0

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    # --- what is shared across batches ----------------------------------------------------
    def token_endpoint(self) -> TokenEndpoint:
        with self._lock:
            if self._endpoint is None:
                try:
                    client_id, client_secret = client_credentials(self.secrets, self.config.client_secret_name)
                except CredentialsUnavailable as exc:
                    raise RecordFailed(str(exc), TRANSIENT) from None
                kwargs = {"http": self._http} if self._http is not None else {}
                self._endpoint = TokenEndpoint(self.config.token_url, client_id, client_secret, **kwargs)
            return self._endpoint

    def store(self, token: StoredToken) -> dict[str, Any]:
        """The installation's ``{siteId, widgetId}``, from the API once an hour at most."""
        cached = self._stores.get(token.installation_id)
        if cached and time.monotonic() - cached[0] < STORE_CACHE_SECONDS:
            return cached[1]
        store = self.graphql.store(access_token=token.access_token, installation_id=token.installation_id)
        with self._lock:
            self._stores[token.installation_id] = (time.monotonic(), store)
        return store

    def executor(self) -> ThreadPoolExecutor:
        """Threads for a batch's API queries (the calls wait on the network, not the CPU)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=API_CONCURRENCY, thread_name_prefix="bwp-api")
            return self._executor

    def new_batch(self) -> Batch:
        return Batch(self)

    def dead_letter(self, record: SQSRecord, reason: str) -> bool:
        """Send a record that can never succeed to the dead-letter queue now (its body as it
        came, the reason as a message attribute); False when no dead-letter queue is
        configured (the queue's redrive policy then moves it after its last receive)."""
        if not self.config.dead_letter_queue_url or self.sqs is None:
            return False
        try:
            self.sqs.send_message(
                QueueUrl=self.config.dead_letter_queue_url,
                MessageBody=record.body,
                MessageAttributes={FAILURE_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:1024]}},
            )
        except Exception as exc:  # the record stays on the queue and is retried
            raise RecordFailed(f"could not dead-letter ({type(exc).__name__}): {reason}", TRANSIENT) from None
        self._count("dead_lettered")
        return True


class Batch:
    """One invocation. Before its records are handled one by one, :meth:`prepare` does what
    they share: the token of each installation is looked up once, its store asked once (and
    then cached), and each order named in the batch is queried once, the queries running side
    by side. An event twice in the batch is recorded once; one recorded by an earlier delivery
    is refused by the conditional put (the handler reads nothing of the data table: its role
    may only write there)."""

    def __init__(self, processor: EventProcessor) -> None:
        self.processor = processor
        self._events: dict[str, BwpEvent | MalformedEvent] = {}
        self._tokens: dict[str, StoredToken | RecordFailed] = {}
        self._orders: dict[tuple[str, str], dict[str, Any] | RecordFailed] = {}
        self._stores: dict[str, dict[str, Any] | RecordFailed] = {}
        self._tenants: dict[str, str | RecordFailed] = {}
        self._seen: set[str] = set()

    def event(self, message_id: str, body: str) -> BwpEvent:
        parsed = self._events.get(message_id)
        if parsed is None:
            try:
                parsed = parse_event(body)
            except MalformedEvent as exc:
                parsed = exc
            self._events[message_id] = parsed
        if isinstance(parsed, MalformedEvent):
            raise RecordFailed(f"malformed event: {parsed.reason}", PERMANENT)
        return parsed

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """The batch's shared work; a failure here only costs the saving (each record then
        does its own work, and fails on its own)."""
        events = []
        for record in records:
            try:
                events.append(self.event(str(record.get("messageId")), record.get("body", "")))
            except RecordFailed:
                continue
        wanted = set()
        for event in events:
            if event.order_id:
                try:
                    wanted.add((self.tenant(event)[0], event.order_id))
                except RecordFailed:
                    continue
        ready = []
        for installation_id, order_id in sorted(wanted):  # type: ignore[type-var]
            try:
                token = self.token(str(installation_id))
                self.store(token)
            except RecordFailed:
                continue
            ready.append((token, str(order_id)))
        if len(ready) > 1:
            list(self.processor.executor().map(lambda pair: self.order(*pair), ready))

    def tenant(self, event: BwpEvent) -> tuple[str, str]:
        """The event's installation and where it came from: ``contextKeys.installationId``
        when the event carries it, else the installation its business product belongs to."""
        if event.installation_id:
            return event.installation_id, FROM_CONTEXT_KEYS
        business_product = event.business_product_id
        if business_product is None:
            raise RecordFailed(
                "the event names no tenant (no detail.contextKeys.installationId, no businessProduct in resources)",
                PERMANENT,
            )
        cached = self._tenants.get(business_product)
        if cached is None:
            table = self.processor.business_products
            if table is None:
                cached = RecordFailed(
                    f"business product {business_product}: the handler has no business product table "
                    f"({ENV_BUSINESS_PRODUCT_TABLE})",
                    PERMANENT,
                )
            else:
                try:
                    found = table.installation_of(business_product)
                    cached = found or RecordFailed(
                        f"business product {business_product} maps to no installation (not installed, or uninstalled)",
                        PERMANENT,
                    )
                except BusinessProductMapError as exc:
                    cached = RecordFailed(str(exc), TRANSIENT if exc.transient else PERMANENT)
            self._tenants[business_product] = cached
        if isinstance(cached, RecordFailed):
            raise RecordFailed(cached.reason, cached.kind)
        return cached, FROM_BUSINESS_PRODUCT

    def token(self, installation_id: str) -> StoredToken:
        cached = self._tokens.get(installation_id)
        if cached is None:
            try:
                cached = self.processor.tokens.valid_token(
                    installation_id, self.processor.token_endpoint(), margin_seconds=TOKEN_MARGIN_SECONDS
                )
            except TokenStoreError as exc:
                cached = RecordFailed(str(exc), TRANSIENT if exc.transient else PERMANENT)
            except TokenEndpointError as exc:
                cached = RecordFailed(f"token refresh failed: {exc}", TRANSIENT if exc.transient else PERMANENT)
            except RecordFailed as exc:
                cached = exc
            self._tokens[installation_id] = cached
        if isinstance(cached, RecordFailed):
            raise RecordFailed(cached.reason, cached.kind)
        return cached

    def store(self, token: StoredToken) -> dict[str, Any]:
        """The installation's store (cached by the instance); a failure fails the batch's
        records of that installation without asking again."""
        cached = self._stores.get(token.installation_id)
        if cached is None:
            try:
                cached = self.processor.store(token)
            except GraphQLError as exc:
                cached = RecordFailed(f"API call failed: {exc}", TRANSIENT if exc.transient else PERMANENT)
            self._stores[token.installation_id] = cached
        if isinstance(cached, RecordFailed):
            raise RecordFailed(cached.reason, cached.kind)
        return cached

    def order(self, token: StoredToken, order_id: str) -> dict[str, Any]:
        """The order, queried once per batch (events of one order often travel together)."""
        key = (token.installation_id, order_id)
        cached = self._orders.get(key)
        if cached is None:
            try:
                cached = self.processor.graphql.order(
                    order_id, access_token=token.access_token, installation_id=token.installation_id
                )
            except GraphQLError as exc:
                cached = RecordFailed(f"API call failed: {exc}", TRANSIENT if exc.transient else PERMANENT)
            self._orders[key] = cached
        if isinstance(cached, RecordFailed):
            raise RecordFailed(cached.reason, cached.kind)
        return cached

    def handle(self, record: SQSRecord) -> dict[str, Any] | None:
        """Process one SQS record: the stored item, None for a duplicate; raises
        :class:`RecordFailed` when it must be retried (or, after the maximum receive count,
        dead-lettered)."""
        try:
            item = self._item(record)
        except RecordFailed as exc:
            if exc.kind == PERMANENT and self.processor.dead_letter(record, exc.reason):
                logger.error("record dead-lettered", extra={"message_id": record.message_id, "reason": exc.reason})
                return None
            raise
        if item is None:
            return None
        return item if self._put(item) else None

    def _item(self, record: SQSRecord) -> dict[str, Any] | None:
        """The record's data item, or None when its event is already recorded (or earlier in
        this batch)."""
        event = self.event(record.message_id, record.body)
        if event.event_id in self._seen:
            self.processor._count("duplicates")
            logger.info("duplicate event skipped", extra={"message_id": record.message_id, "event_id": event.event_id})
            return None
        installation_id, installation_from = self.tenant(event)
        store: dict[str, Any] = {}
        order = None
        unenriched = None
        try:
            token = self.token(installation_id)
            store = self.store(token)
            order = self.order(token, event.order_id) if event.order_id else None
        except RecordFailed as exc:
            if exc.kind != PERMANENT:
                raise
            # Kept without the API's facts (no token: uninstalled; the API refuses the query).
            unenriched = exc.reason
            self.processor._count("unenriched")
            logger.warning(
                "event stored unenriched",
                extra={"message_id": record.message_id, "reason": unenriched, "failure": PERMANENT},
            )
        self._seen.add(event.event_id)
        return data_item(
            event,
            store,
            order,
            record,
            installation_id=installation_id,
            installation_from=installation_from,
            unenriched_reason=unenriched,
        )

    def _put(self, item: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        self.processor._count("data_calls")
        try:
            self.processor.data_table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": DATA_PK},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code == "ConditionalCheckFailedException":
                self.processor._count("duplicates")
                return False
            raise RecordFailed(f"the data table refused the write ({code})", TRANSIENT) from None
        self.processor._count("records_stored")
        return True


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def data_item(
    event: BwpEvent,
    store: dict[str, Any],
    order: dict[str, Any] | None,
    record: SQSRecord,
    *,
    installation_id: str | None = None,
    installation_from: str | None = None,
    unenriched_reason: str | None = None,
) -> dict[str, Any]:
    """The data table item of one event: the one definition of a data record (no empty
    values: DynamoDB refuses empty keys).

    Always: ``event_id`` (key), ``event_type``, ``event_time``, ``installation_id``,
    ``installation_from`` (``contextKeys`` or ``businessProduct``), ``shape``,
    ``envelope_id``, ``message_id``, ``received_at``, ``enriched`` (bool) and, when they
    exist, ``business_product_id``, ``resources``, ``resource_ids``, ``idempotency_key``.
    Enriched: ``site_id``, ``widget_id`` and, for events naming an order, ``order_status``,
    ``order_line_count``, ``order_total_amount``, ``order_currency``. Not enriched:
    ``unenriched_reason`` (why the API's facts are missing)."""
    item: dict[str, Any] = {
        DATA_PK: event.event_id,
        "event_type": event.event_type,
        "event_time": event.event_time,
        "installation_id": installation_id or event.installation_id,
        "installation_from": installation_from,
        "enriched": unenriched_reason is None,
        "unenriched_reason": unenriched_reason,
        "site_id": store.get("siteId"),
        "widget_id": store.get("widgetId"),
        "business_product_id": event.business_product_id,
        "resources": [resource.path for resource in event.resources] or None,
        "resource_ids": event.resource_ids() or None,
        "shape": event.shape,
        "envelope_id": event.envelope_id,
        "idempotency_key": event.idempotency_key,
        "message_id": record.message_id,
        "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    if order is not None:
        total = order.get("totalPrice") if isinstance(order.get("totalPrice"), dict) else {}
        lines = order.get("lineItems")
        item.update(
            order_id=order.get("id") or event.order_id,
            order_status=order.get("status"),
            order_line_count=len(lines) if isinstance(lines, list) else None,
            order_total_amount=_decimal(total.get("amount")),
            order_currency=total.get("currencyCode"),
        )
    elif event.order_id:
        item["order_id"] = event.order_id
    return {key: value for key, value in item.items() if value not in (None, "", [], {})}


# --- the Lambda entry point -----------------------------------------------------------------
_processor: EventProcessor | None = None
_processor_lock = threading.Lock()


def processor() -> EventProcessor:
    """The instance's :class:`EventProcessor`, made from the environment on first use."""
    global _processor
    with _processor_lock:
        if _processor is None:
            _processor = EventProcessor(Config.from_environment())
        return _processor


def reset() -> None:
    """Forget the instance state (clients, caches), e.g. after the environment changed."""
    global _processor
    with _processor_lock:
        _processor = None


def handler(event: dict[str, Any], context: Any, *, app: EventProcessor | None = None) -> dict[str, Any]:
    app = app or processor()
    batch = app.new_batch()
    records = event.get("Records", [])
    try:
        batch.prepare(records)
    except Exception as exc:  # preparing only saves calls; each record still does its own work
        logger.warning("batch preparation failed", extra={"error": type(exc).__name__})

    def record_handler(record: SQSRecord) -> dict[str, Any] | None:
        try:
            return batch.handle(record)
        except RecordFailed as exc:
            logger.error(
                "record failed",
                extra={
                    "message_id": record.message_id,
                    "reason": exc.reason,
                    "failure": exc.kind,
                    "receive_count": record.raw_event.get("attributes", {}).get("ApproximateReceiveCount"),
                },
            )
            raise
        except Exception as exc:
            logger.exception(
                "record failed unexpectedly", extra={"message_id": record.message_id, "error": type(exc).__name__}
            )
            raise

    # A processor per invocation: BatchProcessor keeps per-batch state, and the local runner
    # may run invocations concurrently.
    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        context=context,
    )


__all__ = ["Config", "EventProcessor", "data_item", "handler", "processor", "reset"]
