"""The event handler's second store: each batch's stored events as Parquet objects in the
analytics bucket (EventStack's AnalyticsStore), one object per partition (event date and type),
so Athena and DuckDB read columns of many events per object rather than one object per event.

:meth:`AnalyticsWriter.write` is called once per batch by the handler, after the data table
writes, with the batch's stored items (and those the data table already held: a redelivered
record whose earlier write to the bucket failed is written again). A failed upload fails those
records, so the queue delivers them again; the analytics SQL keeps one row per event id.
The row and the files are :mod:`bwp_workshop.core.analytics_record`'s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bwp_workshop.core.analytics_record import analytics_row, write_partitions
from bwp_workshop.names import ANALYTICS_PREFIX


class AnalyticsWriteFailed(Exception):
    """The batch's objects could not be written; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AnalyticsWriter:
    """Writes a batch's items to ``bucket`` (disabled when ``bucket`` is empty)."""

    def __init__(self, bucket: str, *, s3: Any = None) -> None:
        self.bucket = bucket
        self._s3 = s3
        #: Objects and rows written by this instance, for measurements.
        self.objects_written = 0
        self.rows_written = 0

    @property
    def enabled(self) -> bool:
        return bool(self.bucket)

    def s3(self) -> Any:
        if self._s3 is None:
            import boto3  # on the first write, not at import

            self._s3 = boto3.client("s3")
        return self._s3

    def write(self, items: list[dict[str, Any]]) -> list[str]:
        """Write ``items`` (data table items) as one Parquet object per partition; the keys
        written. Raises :class:`AnalyticsWriteFailed` when any object could not be put."""
        if not self.enabled or not items:
            return []
        with tempfile.TemporaryDirectory(prefix="bwp-analytics-") as folder:
            try:
                files = write_partitions([analytics_row(item) for item in items], Path(folder))
            except Exception as exc:
                raise AnalyticsWriteFailed(f"could not write Parquet ({type(exc).__name__}: {exc})") from None
            keys = []
            for relative in files:
                key = ANALYTICS_PREFIX + relative.as_posix()
                try:
                    self.s3().put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=(Path(folder) / relative).read_bytes(),
                        ContentType="application/vnd.apache.parquet",
                    )
                except Exception as exc:
                    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
                    raise AnalyticsWriteFailed(f"the analytics bucket refused {key} ({code})") from None
                keys.append(key)
        self.objects_written += len(keys)
        self.rows_written += len(items)
        return keys
