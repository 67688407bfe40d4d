"""The event Lambda (``handler.handler``): records Buy with Prime events from the SQS queue.

Each SQS batch is processed record by record (aws-lambda-powertools ``BatchProcessor``); a
record that fails is reported in ``batchItemFailures`` so SQS redelivers it (and, after the
queue's maximum receive count, moves it to the dead-letter queue), while the batch's other
records are acknowledged. Nothing is acknowledged unprocessed.

Per record: parse the EventBridge envelope (any Buy with Prime shape, any event type, from the
subscribed partner source exactly), find
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

This module is the entry point, in powertools' shape: a module-level ``BatchProcessor`` and a
plain record handler run by ``process_partial_response``; ``Logger`` with the Lambda context
(each line carries the request id and the cold start); ``Metrics`` in the embedded metric
format: the cold start, and each record's outcome (stored, duplicate, unenriched, dead-lettered,
failed) in total and per event type (:mod:`outcomes`). Once the batch's records are handled, the
items the data table holds for them are written to the analytics bucket as Parquet, one object
per event date and type (:mod:`analytics_writer`); when that write fails, those records are
reported failed too, so the queue delivers them again. The instance's
:class:`~event_processor.EventProcessor` (clients, caches) is made on the first invocation;
each invocation is one :class:`~event_processing.Batch`. The processing itself (parse, tenant,
enrich, store, dead-letter) is :mod:`event_processing`; the stored item is
:func:`bwp_workshop.core.data_record.data_item`.

Configuration comes from the environment the stack sets (:mod:`handler_config`:
``DATA_TABLE_NAME``, ``TOKEN_TABLE_NAME``, ``BUSINESS_PRODUCT_TABLE_NAME``,
``DEAD_LETTER_QUEUE_URL``, ``BWP_EVENT_SOURCE`` (the one partner source accepted),
``BWP_TEST_EVENT_SOURCE`` (the workshop's test events, through EventStack's test bus),
``CLIENT_SECRET_NAME``, ``BWP_TOKEN_URL``, ``BWP_GRAPHQL_URL``, ``BWP_API_VERSION``,
``ANALYTICS_BUCKET_NAME``). AWS
clients are made on the first invocation, not at import.
"""

from __future__ import annotations

import threading
from typing import Any

from analytics_writer import AnalyticsWriteFailed, AnalyticsWriter
from aws_lambda_powertools.metrics import Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent, SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from event_processing import Batch, RecordFailed, logger
from event_processor import EventProcessor
from handler_config import Config

from bwp_workshop.core.data_record import data_item
from bwp_workshop.names import EVENT_HANDLER_SERVICE, FAILURE_REASON_ATTRIBUTE, METRIC_FAILED, METRICS_NAMESPACE

metrics = Metrics(namespace=METRICS_NAMESPACE, service=EVENT_HANDLER_SERVICE)
batch_processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_processor: EventProcessor | None = None
_processor_lock = threading.Lock()
#: The invocation running (a Lambda instance runs one at a time).
_batch: Batch | None = None


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


def record_handler(record: SQSRecord) -> dict[str, Any] | None:
    """One record of the running invocation: the stored item, or None (a duplicate, or sent to
    the dead-letter queue); raises to have the queue redeliver it."""
    assert _batch is not None, "record_handler runs inside handler()"
    return _batch.handle(record)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _batch
    batch = _batch = processor().new_batch()
    try:
        batch.prepare(SQSEvent(event).records)
    except Exception as exc:  # preparing only saves calls; each record still does its own work
        logger.warning("batch preparation failed", extra={"error": type(exc).__name__})
    try:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=batch_processor, context=context
        )
        # {"batchItemFailures": [{"itemIdentifier": message id}, ...]}
        return _write_analytics(batch, dict(response))
    finally:
        _batch = None
        batch.outcomes.publish(metrics)


def _write_analytics(batch: Batch, result: dict[str, Any]) -> dict[str, Any]:
    """The batch's stored items to the analytics bucket, once per batch; when that fails, their
    records are reported failed too (and counted failed), so the queue delivers them again."""
    try:
        batch.processor.analytics.write(batch.stored)
    except AnalyticsWriteFailed as exc:
        failed = {entry["itemIdentifier"] for entry in result.get("batchItemFailures", [])}
        again = {str(item["message_id"]): item for item in batch.stored if item.get("message_id")}
        for message_id in sorted(set(again) - failed):
            batch.outcomes.add(METRIC_FAILED, str(again[message_id].get("event_type") or ""))
        logger.error("analytics write failed", extra={"reason": exc.reason, "records": len(set(again) - failed)})
        result["batchItemFailures"] = [
            *result.get("batchItemFailures", []),
            *({"itemIdentifier": m} for m in sorted(set(again) - failed)),
        ]
    return result


__all__ = [
    "FAILURE_REASON_ATTRIBUTE",
    "AnalyticsWriteFailed",
    "AnalyticsWriter",
    "Config",
    "EventProcessor",
    "RecordFailed",
    "batch_processor",
    "data_item",
    "handler",
    "logger",
    "metrics",
    "processor",
    "record_handler",
    "reset",
]
