"""What the event Lambda does with each SQS record: parse it, find its tenant, enrich it from
the Buy with Prime API, store it once, or dead-letter it when it can never succeed.

A :class:`Batch` is one invocation (made by the instance's
:class:`event_processor.EventProcessor`, which keeps the clients and caches), whose shared work
(each installation's token and store, each order) is done once and remembered in a
:class:`BatchCache`, and whose records' outcomes are counted in :class:`outcomes.Outcomes` (the
metrics). A failure is a :class:`RecordFailed`, permanent or transient.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from failures import PERMANENT, TRANSIENT, BatchCache, RecordFailed, call_failed
from outcomes import Outcomes

from bwp_workshop.core.business_products import BusinessProductMapError
from bwp_workshop.core.data_record import FROM_BUSINESS_PRODUCT, FROM_CONTEXT_KEYS, data_item
from bwp_workshop.core.events import BwpEvent, MalformedEvent, parse_event
from bwp_workshop.core.graphql import GraphQLError
from bwp_workshop.core.token_table import StoredToken, TokenTableError
from bwp_workshop.core.tokens import TokenEndpointError
from bwp_workshop.names import (
    DATA_PK,
    ENV_BUSINESS_PRODUCT_TABLE,
    ENV_POWERTOOLS_SERVICE,
    EVENT_HANDLER_SERVICE,
    METRIC_DEAD_LETTERED,
    METRIC_DUPLICATES,
    METRIC_FAILED,
    METRIC_STORED,
    METRIC_UNENRICHED,
)

if TYPE_CHECKING:
    from event_processor import EventProcessor

logger = Logger(service=os.environ.get(ENV_POWERTOOLS_SERVICE) or EVENT_HANDLER_SERVICE)

#: Refresh a token that expires within this many seconds (an API call must not outlive it).
TOKEN_MARGIN_SECONDS = 60.0

#: The event a ``packageTracker`` query follows up (tracking-queries-packagetracker).
TRACKER_EVENT = "PACKAGE_TRACKER_MILESTONE_CHANGED"
#: The reason (its first word) of an event whose business product is not the installation's.
TENANT_MISMATCH = "tenant_mismatch"


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
        self._trackers: BatchCache[tuple[str, str, str], dict[str, Any] | None] = BatchCache()
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
            raise call_failed(exc) from None

    def token(self, installation_id: str) -> StoredToken:
        """The installation's valid token, looked up (and refreshed if need be) once per batch."""

        def lookup(reread: bool = False) -> StoredToken:
            try:
                return self.processor.tokens.valid_token(
                    installation_id, self.processor.token_endpoint(reread=reread), margin_seconds=TOKEN_MARGIN_SECONDS
                )
            except TokenTableError as exc:
                raise call_failed(exc) from None
            except TokenEndpointError as exc:
                if exc.error == "invalid_client" and not reread:  # a rotated secret: read it again, once
                    return lookup(reread=True)
                raise call_failed(exc, "token refresh failed: ") from None

        return self._tokens.get(installation_id, lookup)

    def store(self, token: StoredToken) -> dict[str, Any]:
        """The installation's store (cached by the instance); a failure fails the batch's
        records of that installation without asking again."""

        def query() -> dict[str, Any]:
            try:
                return self.processor.store(token)
            except GraphQLError as exc:
                raise call_failed(exc, "API call failed: ") from None

        return self._stores.get(token.installation_id, query)

    def order(self, token: StoredToken, order_id: str) -> dict[str, Any]:
        """The order, queried once per batch (events of one order often travel together)."""

        def query() -> dict[str, Any]:
            try:
                return self.processor.graphql.order(
                    order_id, access_token=token.access_token, installation_id=token.installation_id
                )
            except GraphQLError as exc:
                raise call_failed(exc, "API call failed: ") from None

        return self._orders.get((token.installation_id, order_id), query)

    def tracker(self, token: StoredToken, event: BwpEvent) -> dict[str, Any] | None:
        """The package tracker a PACKAGE_TRACKER_MILESTONE_CHANGED event names
        (``businessProduct/<bp>/carrier/<carrierCode>/tracker/<trackingNumber>``,
        package_tracker_milestone_changed), queried once per batch with ``packageTracker``
        (tracking-queries-packagetracker); None for another event, or one that names no tracker."""
        carrier, number = event.id_of("carrier"), event.id_of("tracker")
        if event.event_type != TRACKER_EVENT or not carrier or not number:
            return None

        def query() -> dict[str, Any] | None:
            try:
                return self.processor.graphql.package_tracker(
                    carrier, number, access_token=token.access_token, installation_id=token.installation_id
                )
            except GraphQLError as exc:
                raise call_failed(exc, "API call failed: ") from None

        return self._trackers.get((token.installation_id, carrier, number), query)

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
        order: dict[str, Any] | None = None
        tracker: dict[str, Any] | None = None
        unenriched = None
        try:
            token = self.token(installation_id)
            store = self.store(token)
            order = self.order(token, event.order_id) if event.order_id else None
            tracker = self.tracker(token, event)
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
            tracker=tracker,
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
