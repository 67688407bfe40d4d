"""Metrics in the CloudWatch embedded metric format (EMF), as the event Lambda prints them
(powertools ``Metrics``): read back from its output, and published to a CloudWatch API.

On AWS, CloudWatch Logs extracts these metrics from the Lambda's log lines by itself. The local
AWS does not, so the local Lambda host captures the lines its handler prints and publishes the
same data points with ``PutMetricData`` (:func:`publish`). The format:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: PutMetricData takes at most this many data points per call.
PUT_LIMIT = 1000


@dataclass(frozen=True)
class Datum:
    """One data point: a metric in a namespace, with its dimensions, value and time."""

    namespace: str
    name: str
    value: float
    unit: str = "None"
    dimensions: tuple[tuple[str, str], ...] = ()
    timestamp_ms: int = 0

    def dimension(self, name: str) -> str | None:
        return dict(self.dimensions).get(name)


def documents(text: str | Iterable[str]) -> list[dict[str, Any]]:
    """The EMF documents among the lines of ``text`` (JSON objects with ``_aws.CloudWatchMetrics``)."""
    lines = text.splitlines() if isinstance(text, str) else [line for chunk in text for line in chunk.splitlines()]
    found = []
    for line in lines:
        line = line.strip()
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get("_aws"), dict):
            found.append(document)
    return found


def datums(document: dict[str, Any]) -> list[Datum]:
    """The data points one EMF document declares: each metric of each directive, once per
    dimension set, with the dimensions' values from the document's members."""
    meta = document["_aws"]
    points = []
    for directive in meta.get("CloudWatchMetrics", []):
        sets = directive.get("Dimensions") or [[]]
        for dimension_set in sets:
            dimensions = tuple((name, str(document[name])) for name in dimension_set if name in document)
            for metric in directive.get("Metrics", []):
                raw = document.get(metric["Name"])
                for value in raw if isinstance(raw, list) else [raw]:
                    if isinstance(value, int | float):
                        points.append(
                            Datum(
                                namespace=directive["Namespace"],
                                name=metric["Name"],
                                value=float(value),
                                unit=metric.get("Unit", "None"),
                                dimensions=dimensions,
                                timestamp_ms=int(meta.get("Timestamp", 0)),
                            )
                        )
    return points


def read(text: str | Iterable[str]) -> list[Datum]:
    """Every data point in ``text``."""
    return [point for document in documents(text) for point in datums(document)]


def totals(points: Iterable[Datum], *, by: str | None = None) -> Counter[tuple[str, str | None]]:
    """Sums by metric name and the value of dimension ``by`` (None: the data points that do not
    carry it, i.e. the totals)."""
    sums: Counter[tuple[str, str | None]] = Counter()
    for point in points:
        if by is None and len(point.dimensions) > 1:
            continue
        key = point.dimension(by) if by is not None else None
        if by is not None and key is None:
            continue
        sums[(point.name, key)] += point.value  # type: ignore[assignment]
    return sums


def publish(cloudwatch: Any, points: Iterable[Datum]) -> int:
    """``PutMetricData`` for ``points`` (grouped by namespace); returns how many were sent."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        when = datetime.fromtimestamp(point.timestamp_ms / 1000, UTC) if point.timestamp_ms else datetime.now(UTC)
        by_namespace.setdefault(point.namespace, []).append(
            {
                "MetricName": point.name,
                "Dimensions": [{"Name": name, "Value": value} for name, value in point.dimensions],
                "Value": point.value,
                "Unit": point.unit,
                "Timestamp": when,
            }
        )
    sent = 0
    for namespace, data in by_namespace.items():
        for start in range(0, len(data), PUT_LIMIT):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + PUT_LIMIT])
            sent += len(data[start : start + PUT_LIMIT])
    return sent
