"""The handler's second store: each batch's stored events as Parquet objects in the analytics
bucket, one object per event date and type (Hive-style keys), written once per batch; a failed
write fails the batch's records so the queue delivers them again, and the redelivery writes the
data table's items (the conditional put refuses them but hands them back)."""

from __future__ import annotations

import io
from typing import Any

import duckdb
import pytest

from bwp_workshop import aws
from bwp_workshop.names import ANALYTICS_PREFIX, METRIC_DUPLICATES, METRIC_FAILED
from bwp_workshop.settings import Settings

from .doubles import BP, counted, envelope, invoke, sqs_event, stored

BUCKET = "analytics"


@pytest.fixture
def analytics_processor(handler_module: Any, processor: Any, lambda_settings: Settings) -> Any:
    """The handler's processor with the analytics bucket configured (the bucket not created)."""
    processor.analytics = handler_module.AnalyticsWriter(BUCKET, s3=aws.client("s3", lambda_settings))
    return processor


def _rows(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(key, event_id, event_type partition, installation) of every row in the bucket."""
    s3 = aws.client("s3", settings)
    rows = []
    for entry in s3.list_objects_v2(Bucket=BUCKET, Prefix=ANALYTICS_PREFIX).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read()
        with duckdb.connect() as connection:
            connection.execute("CREATE TABLE t AS SELECT * FROM read_parquet(?)", [_file(body)])
            for event_id, installation in connection.execute("SELECT event_id, installation_id FROM t").fetchall():
                event_type = entry["Key"].split("event_type=")[1].split("/")[0]
                rows.append((entry["Key"], event_id, event_type, installation))
    return rows


def _file(body: bytes) -> str:
    import tempfile

    handle = tempfile.NamedTemporaryFile(suffix=".parquet", delete=False)  # noqa: SIM115
    with handle:
        handle.write(body)
    return handle.name


def test_a_batch_is_written_as_one_object_per_partition(
    handler_module: Any, analytics_processor: Any, tables: dict[str, Any], lambda_settings: Settings
) -> None:
    aws.client("s3", lambda_settings).create_bucket(Bucket=BUCKET)
    bodies = [
        envelope("ORDER_CONFIRMED"),
        envelope("ORDER_CONFIRMED", resources=[f"businessProduct/{BP}/order/o-2"]),
        envelope("REFUND_REQUESTED", resources=[f"businessProduct/{BP}/order/o-1/refund/r-1"]),
        envelope("PACKAGE_DELIVERED", resources=[f"businessProduct/{BP}/order/o-1/delivery/d-1"]),
    ]
    assert invoke(handler_module, analytics_processor, sqs_event(*bodies)) == {"batchItemFailures": []}
    rows = _rows(lambda_settings)
    assert {row[1] for row in rows} == set(stored(tables)) == {b["detail"]["eventId"] for b in bodies}
    keys = {row[0] for row in rows}
    assert len(keys) == 3  # two order confirmations share their partition's object
    for key, _, event_type, installation in rows:
        assert key.startswith(f"{ANALYTICS_PREFIX}event_date=2026-11-28/event_type={event_type}/")
        assert key.endswith(".parquet") and installation == "inst-1"
    assert analytics_processor.analytics.objects_written == 3


def test_a_failed_write_fails_the_records_and_their_redelivery_writes_them(
    handler_module: Any,
    analytics_processor: Any,
    tables: dict[str, Any],
    lambda_settings: Settings,
    handler_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bodies = [envelope("ORDER_CONFIRMED"), envelope("RETURN_STARTED")]
    event = sqs_event(*bodies)
    first = invoke(handler_module, analytics_processor, event)  # the bucket does not exist yet
    assert sorted(f["itemIdentifier"] for f in first["batchItemFailures"]) == sorted(
        r["messageId"] for r in event["Records"]
    )
    assert len(stored(tables)) == 2  # the data table has them: the source of truth
    assert "analytics write failed" in handler_logs.getvalue() and "NoSuchBucket" in handler_logs.getvalue()

    assert counted(capsys.readouterr().out)[METRIC_FAILED] == 2  # the failed write counted as failed records

    aws.client("s3", lambda_settings).create_bucket(Bucket=BUCKET)
    again = invoke(handler_module, analytics_processor, event)
    assert again == {"batchItemFailures": []}
    # Refused by the data table, written to the bucket.
    assert counted(capsys.readouterr().out)[METRIC_DUPLICATES] == 2
    assert sorted(row[1] for row in _rows(lambda_settings)) == sorted(stored(tables))


def test_no_bucket_configured_writes_nothing(handler_module: Any, processor: Any, tables: dict[str, Any]) -> None:
    assert not processor.analytics.enabled
    assert invoke(handler_module, processor, sqs_event(envelope())) == {"batchItemFailures": []}
    assert processor.analytics.objects_written == 0
