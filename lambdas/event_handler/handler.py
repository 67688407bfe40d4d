"""The event Lambda's entry point (``handler.handler``): consumes SQS batches of Buy with
Prime events. The processing lives in the event-pipeline work; until then every record is
reported as failed, so nothing is acknowledged unprocessed."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]} for record in records]}
