"""What the event Lambda does with each SQS record: parse it, find its tenant, enrich it from
the Buy with Prime API, store it once, or dead-letter it when it can never succeed.

:class:`EventProcessor` is the long-lived state of one Lambda instance (clients, the token
endpoint, the store cache); :class:`Batch` is one invocation, whose shared work (each
installation's token and store, each order) is done once and remembered in a
:class:`BatchCache`, and whose records' outcomes are counted in :class:`outcomes.Outcomes` (the
metrics). A failure is a :class:`RecordFailed`, permanent or transient.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from analytics_writer import AnalyticsWriter
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from failures import PERMANENT, TRANSIENT, BatchCache, RecordFailed, failure_kind
from handler_config import Config
from outcomes import Outcomes

from bwp_workshop.core.business_products import BusinessProductMap, BusinessProductMapError
from bwp_workshop.core.credentials import CredentialsUnavailable, client_credentials
from bwp_workshop.core.data_record import FROM_BUSINESS_PRODUCT, FROM_CONTEXT_KEYS, data_item
from bwp_workshop.core.events import BwpEvent, MalformedEvent, parse_event
from bwp_workshop.core.graphql import GraphQLClient, GraphQLError
from bwp_workshop.core.token_store import StoredToken, TokenStore, TokenStoreError
from bwp_workshop.core.tokens import TokenEndpoint, TokenEndpointError
from bwp_workshop.names import (
    DATA_PK,
    ENV_BUSINESS_PRODUCT_TABLE,
    ENV_POWERTOOLS_SERVICE,
    EVENT_HANDLER_SERVICE,
    FAILURE_REASON_ATTRIBUTE,
    METRIC_DEAD_LETTERED,
    METRIC_DUPLICATES,
    METRIC_FAILED,
    METRIC_STORED,
    METRIC_UNENRICHED,
)

logger = Logger(service=os.environ.get(ENV_POWERTOOLS_SERVICE) or EVENT_HANDLER_SERVICE)

#: Refresh a token that expires within this many seconds (an API call must not outlive it).
TOKEN_MARGIN_SECONDS = 60.0
#: How long a store's site and widget ids are reused before they are asked again.
STORE_CACHE_SECONDS = 3600.0
#: API queries of one batch that run side by side.
API_CONCURRENCY = 4

#: The reason (its first word) of an event whose business product is not the installation's.
TENANT_MISMATCH = "tenant_mismatch"


class EventProcessor:
    """Long-lived state of one Lambda instance: clients, the token endpoint, the store cache.
    Thread-safe, so the local event runner may invoke the handler from several pollers."""

    def __init__(
        self,
        config: Config,
        *,
        dynamodb: Any = None,
        secrets: Any = None,
        http: Any = None,
        sqs: Any = None,
        s3: Any = None,
    ) -> None:
        self.config = config
        if dynamodb is None or secrets is None or (sqs is None and config.dead_letter_queue_url):
            import boto3  # here, not at import: the cold start pays it only when it is needed

            dynamodb = dynamodb or boto3.resource("dynamodb")
            secrets = secrets or boto3.client("secretsmanager")
            if config.dead_letter_queue_url:
                sqs = sqs or boto3.client("sqs")
        self.sqs = sqs
        #: Each batch's stored events as Parquet in the analytics bucket (its client made on first use).
        self.analytics = AnalyticsWriter(config.analytics_bucket, s3=s3)
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

    def data_call(self) -> None:
        with self._lock:
            self.data_calls += 1

    # --- what is shared across batches ----------------------------------------------------
    def token_endpoint(self, *, reread: bool = False) -> TokenEndpoint:
        """The token endpoint with the client credentials Secrets Manager holds: read again every
        few minutes (``credentials.CACHE_SECONDS``), or at once with ``reread`` (the endpoint
        refused them: the secret was rotated); a new pair gets a new endpoint, no redeploy."""
        try:
            client_id, client_secret = client_credentials(self.secrets, self.config.client_secret_name, refresh=reread)
        except CredentialsUnavailable as exc:
            raise RecordFailed(str(exc), TRANSIENT) from None
        with self._lock:
            if self._endpoint is None or not self._endpoint.uses(client_id, client_secret):
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
        self._events: BatchCache[str, BwpEvent] = BatchCache()
        self._tenants: BatchCache[str, str | None] = BatchCache()
        self._tokens: BatchCache[str, StoredToken] = BatchCache()
        self._stores: BatchCache[str, dict[str, Any]] = BatchCache()
        self._orders: BatchCache[tuple[str, str], dict[str, Any]] = BatchCache()
        self._seen: set[str] = set()
        #: What became of each record (the invocation's metrics).
        self.outcomes = Outcomes()
        #: The items of this batch's events as the data table holds them (written now, or by an
        #: earlier delivery): what the handler writes to the analytics bucket.
        self.stored: list[dict[str, Any]] = []

    # --- parsing ------------------------------------------------------------------------
    def event(self, message_id: str, body: str) -> BwpEvent:
        def parse() -> BwpEvent:
            try:
                return parse_event(body, sources=self.processor.config.sources)
            except MalformedEvent as exc:
                raise RecordFailed(f"malformed event: {exc.reason}", PERMANENT) from None
            except Exception as exc:  # parsing depends on the body alone: a retry reads the same
                raise RecordFailed(f"malformed event: unreadable ({type(exc).__name__})", PERMANENT) from None

        return self._events.get(message_id, parse)

    def prepare(self, records: Iterable[SQSRecord]) -> None:
        """The batch's shared work, each record guarded on its own: a failure here only costs
        the saving (that record then does its own work, and fails on its own)."""
        events = []
        for record in records:
            try:
                events.append(self.event(record.message_id, record.body))
            except Exception:
                continue
        wanted: set[tuple[str, str]] = set()
        for event in events:
            if event.order_id:
                try:
                    wanted.add((self.tenant(event)[0], event.order_id))
                except Exception:
                    continue
        ready = []
        for installation_id, order_id in sorted(wanted):
            try:
                token = self.token(installation_id)
                self.store(token)
            except Exception:
                continue
            ready.append((token, order_id))
        if len(ready) > 1:
            list(self.processor.executor().map(lambda pair: self.order(*pair), ready))

    # --- the tenant and the API's facts ----------------------------------------------------
    def tenant(self, event: BwpEvent) -> tuple[str, str]:
        """The event's installation and where it came from. ``contextKeys.installationId`` is
        only a hint: when the event names business products, each must belong to that
        installation (else ``tenant_mismatch``, permanent); an event without it belongs to the
        installation of its business products."""
        products = list(dict.fromkeys(r.business_product_id for r in event.resources if r.business_product_id))
        claimed = event.installation_id
        if not products:
            if claimed:
                return claimed, FROM_CONTEXT_KEYS
            raise RecordFailed(
                "the event names no tenant (no detail.contextKeys.installationId, no businessProduct in resources)",
                PERMANENT,
            )
        owners = {product: self._owner(product) for product in products}
        expected = claimed or owners[products[0]]
        if expected is None:  # no contextKeys, and the business product is nobody's
            raise RecordFailed(
                f"business product {products[0]} maps to no installation (not installed, or uninstalled)",
                PERMANENT,
            )
        for product, owner in owners.items():
            if owner != expected:
                where = "detail.contextKeys.installationId" if claimed else f"business product {products[0]}"
                raise RecordFailed(
                    f"{TENANT_MISMATCH}: business product {product} belongs to {owner or 'no installation'}, "
                    f"not to {expected} ({where})",
                    PERMANENT,
                )
        return expected, FROM_CONTEXT_KEYS if claimed else FROM_BUSINESS_PRODUCT

    def _owner(self, business_product: str) -> str | None:
        """The installation the business product belongs to (None: nobody's), once per batch."""
        return self._tenants.get(business_product, lambda: self._owner_of(business_product))

    def _owner_of(self, business_product: str) -> str | None:
        table = self.processor.business_products
        if table is None:
            raise RecordFailed(
                f"business product {business_product}: the handler has no business product table "
                f"({ENV_BUSINESS_PRODUCT_TABLE}) to find or check its installation",
                PERMANENT,
            )
        try:
            return table.installation_of(business_product)
        except BusinessProductMapError as exc:
            raise RecordFailed(str(exc), failure_kind(exc.transient)) from None

    def token(self, installation_id: str) -> StoredToken:
        """The installation's valid token, looked up (and refreshed if need be) once per batch."""

        def lookup(reread: bool = False) -> StoredToken:
            try:
                return self.processor.tokens.valid_token(
                    installation_id, self.processor.token_endpoint(reread=reread), margin_seconds=TOKEN_MARGIN_SECONDS
                )
            except TokenStoreError as exc:
                raise RecordFailed(str(exc), failure_kind(exc.transient)) from None
            except TokenEndpointError as exc:
                if exc.error == "invalid_client" and not reread:  # a rotated secret: read it again, once
                    return lookup(reread=True)
                raise RecordFailed(f"token refresh failed: {exc}", failure_kind(exc.transient)) from None

        return self._tokens.get(installation_id, lookup)

    def store(self, token: StoredToken) -> dict[str, Any]:
        """The installation's store (cached by the instance); a failure fails the batch's
        records of that installation without asking again."""

        def query() -> dict[str, Any]:
            try:
                return self.processor.store(token)
            except GraphQLError as exc:
                raise RecordFailed(f"API call failed: {exc}", failure_kind(exc.transient)) from None

        return self._stores.get(token.installation_id, query)

    def order(self, token: StoredToken, order_id: str) -> dict[str, Any]:
        """The order, queried once per batch (events of one order often travel together)."""

        def query() -> dict[str, Any]:
            try:
                return self.processor.graphql.order(
                    order_id, access_token=token.access_token, installation_id=token.installation_id
                )
            except GraphQLError as exc:
                raise RecordFailed(f"API call failed: {exc}", failure_kind(exc.transient)) from None

        return self._orders.get((token.installation_id, order_id), query)

    # --- one record -----------------------------------------------------------------------
    def handle(self, record: SQSRecord) -> dict[str, Any] | None:
        """Process one SQS record: the stored item, None for a duplicate or a record sent to
        the dead-letter queue; raises when it must be retried (or, after the maximum receive
        count, dead-lettered by the queue). Each outcome is counted and logged."""
        try:
            item = self._item(record)
            return item if item is not None and self._put(item) else None
        except RecordFailed as exc:
            if exc.kind == PERMANENT and self.processor.dead_letter(record, exc.reason):
                self.outcomes.add(METRIC_DEAD_LETTERED, self._event_type(record))
                logger.error("record dead-lettered", extra={"message_id": record.message_id, "reason": exc.reason})
                return None
            self.outcomes.add(METRIC_FAILED, self._event_type(record))
            logger.error(
                "record failed",
                extra={
                    "message_id": record.message_id,
                    "reason": exc.reason,
                    "failure": exc.kind,
                    "receive_count": record.attributes.approximate_receive_count,
                },
            )
            raise
        except Exception as exc:
            self.outcomes.add(METRIC_FAILED, self._event_type(record))
            logger.exception(
                "record failed unexpectedly", extra={"message_id": record.message_id, "error": type(exc).__name__}
            )
            raise

    def _event_type(self, record: SQSRecord) -> str | None:
        """The record's event type (a metric dimension), None when its event cannot be read."""
        try:
            return self.event(record.message_id, record.body).event_type
        except RecordFailed:
            return None

    def _item(self, record: SQSRecord) -> dict[str, Any] | None:
        """The record's data item, or None when its event is already recorded (or earlier in
        this batch)."""
        event = self.event(record.message_id, record.body)
        if event.event_id in self._seen:
            self.outcomes.add(METRIC_DUPLICATES, event.event_type)
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
            self.outcomes.add(METRIC_UNENRICHED, event.event_type)
            logger.warning(
                "event stored unenriched",
                extra={"message_id": record.message_id, "reason": unenriched, "failure": PERMANENT},
            )
        self._seen.add(event.event_id)
        return data_item(
            event,
            store,
            order,
            message_id=record.message_id,
            installation_id=installation_id,
            installation_from=installation_from,
            unenriched_reason=unenriched,
        )

    def _put(self, item: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        self.processor.data_call()
        try:
            self.processor.data_table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": DATA_PK},
                # A duplicate's stored item comes back with the refusal (no read permission needed),
                # so the analytics write of a redelivered record has the data table's facts.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code == "ConditionalCheckFailedException":
                self.outcomes.add(METRIC_DUPLICATES, str(item.get("event_type") or ""))
                # This delivery's message id: the record to fail again if the analytics write fails.
                self.stored.append(
                    {**(_from_dynamodb(exc.response.get("Item")) or item), "message_id": item["message_id"]}
                )
                return False
            # ValidationException: the item itself is refused (a key too long, too large...).
            kind = PERMANENT if code == "ValidationException" else TRANSIENT
            raise RecordFailed(f"the data table refused the write ({code})", kind) from None
        self.outcomes.add(METRIC_STORED, str(item.get("event_type") or ""))
        self.stored.append(item)
        return True


def _from_dynamodb(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """An item in DynamoDB's attribute-value form (as a refused put returns it) as plain values."""
    if not item:
        return None
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}
