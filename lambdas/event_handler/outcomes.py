"""What became of each record of one invocation, published as CloudWatch metrics in the
embedded metric format (aws-lambda-powertools ``Metrics``): the totals without a dimension but
the service (what the alarms watch), and the same counts per event type (what the dashboard
plots). CloudWatch Logs turns the EMF lines the Lambda prints into metrics; the local target's
Lambda host does the same with the local AWS (``bwp_workshop.local.emf``)."""

from __future__ import annotations

import threading
from collections import Counter

from aws_lambda_powertools.metrics import EphemeralMetrics, Metrics, MetricUnit

from bwp_workshop.names import (
    EVENT_HANDLER_SERVICE,
    METRIC_EVENT_TYPE,
    METRICS_NAMESPACE,
    OUTCOME_METRICS,
)

#: The event type of a record whose event could not be read (its type is not known).
UNPARSED = "unparsed"
#: Longest event type used as a dimension value (CloudWatch allows 1024 characters).
MAX_EVENT_TYPE = 128


class Outcomes:
    """Counts of one invocation by outcome metric and event type. Thread-safe: a batch's
    records may be handled while its API queries run on other threads."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, metric: str, event_type: str | None) -> None:
        if metric not in OUTCOME_METRICS:
            raise ValueError(f"not an outcome metric: {metric}")
        with self._lock:
            self._counts[(metric, (event_type or UNPARSED)[:MAX_EVENT_TYPE])] += 1

    def total(self, metric: str) -> int:
        with self._lock:
            return sum(n for (name, _type), n in self._counts.items() if name == metric)

    def publish(self, metrics: Metrics) -> None:
        """Every outcome's total on ``metrics`` (flushed by its ``log_metrics``; zeros included,
        so a quiet pipeline reads 0, not missing), and one EMF line per event type seen."""
        with self._lock:
            counts = dict(self._counts)
        for metric in OUTCOME_METRICS:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=self.total(metric))
        for event_type in sorted({event_type for _metric, event_type in counts}):
            per_type = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=EVENT_HANDLER_SERVICE)
            per_type.add_dimension(name=METRIC_EVENT_TYPE, value=event_type)
            for (metric, seen_type), n in sorted(counts.items()):
                if seen_type == event_type:
                    per_type.add_metric(name=metric, unit=MetricUnit.Count, value=n)
            per_type.flush_metrics()
