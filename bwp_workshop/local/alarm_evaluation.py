"""CloudWatch's alarm evaluation, for the local AWS: moto stores the stacks' alarms but never
evaluates them, and nothing there publishes the queues' metrics.

What this emulates, and how it differs from CloudWatch:

- **Queue metrics**: every ``SAMPLE_SECONDS`` the depth of each queue an alarm watches is read
  (``GetQueueAttributes``) and published as ``AWS/SQS`` ``ApproximateNumberOfMessagesVisible``
  and ``ApproximateNumberOfMessagesNotVisible``. ``ApproximateAgeOfOldestMessage`` is not: the
  SQS API does not expose it, so its alarm sees no data (missing, treated as not breaching).
- **The Lambda's metrics**: published from its EMF lines by the local Lambda host
  (:func:`bwp_workshop.local.lambda_host.metric_publisher`). The ``AWS/Lambda`` and
  ``AWS/DynamoDB`` metrics (errors, throttles) have no local source: their alarms see no data.
- **Evaluation**: each metric alarm moto holds is evaluated every ``SAMPLE_SECONDS`` with its own
  namespace, metric, dimensions, statistic, period, evaluation periods, datapoints to alarm,
  threshold, comparison and missing-data treatment; the periods end now rather than on
  CloudWatch's minute boundaries. ``BWP_LOCAL_ALARM_MINUTE`` (``minute``, default 60) says how
  many seconds a minute of a period lasts: below 60 the same evaluation runs on a faster clock,
  sampling as often in proportion. A composite alarm's rule is evaluated on its children's new
  states. A change of state is written with ``SetAlarmState`` (the reason says it was the local
  evaluation); alarm actions are not run (moto sends no notifications).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

SAMPLE_SECONDS = 5.0
REASON_PREFIX = "Local alarm evaluation (bwp_workshop.local.alarm_evaluation)"

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
_QUEUE_ATTRIBUTES = {
    "ApproximateNumberOfMessagesVisible": "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible": "ApproximateNumberOfMessagesNotVisible",
}


def metric_state(alarm: dict[str, Any], datapoints: list[float | None]) -> tuple[str, str]:
    """The state of a metric alarm given its newest ``EvaluationPeriods`` values (None: no data
    in that period), oldest first, and why."""
    compare = _COMPARE[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    treat = alarm.get("TreatMissingData") or "missing"
    needed = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    present = [value for value in datapoints if value is not None]
    breaching = sum(1 for value in present if compare(value, threshold))
    if treat == "breaching":
        breaching += len(datapoints) - len(present)
    if breaching >= needed:
        return "ALARM", f"{breaching} of {len(datapoints)} periods breached the threshold {threshold:g}"
    if not present and treat in ("missing", "ignore"):
        return "INSUFFICIENT_DATA", "no data in the evaluation periods"
    shown = ", ".join("-" if value is None else f"{value:g}" for value in datapoints)
    return "OK", f"values [{shown}] within the threshold {threshold:g}"


def rule_state(rule: str, states: dict[str, str]) -> bool:
    """Whether a composite alarm's rule holds, ``states`` giving each child's state by ARN or
    name: ``ALARM(x)``, ``OK(x)``, ``INSUFFICIENT_DATA(x)``, ``TRUE``, ``FALSE``, combined
    with ``AND``, ``OR``, ``NOT`` and parentheses."""
    tokens = re.findall(r'(ALARM|OK|INSUFFICIENT_DATA)\(\s*"?([^")]+?)"?\s*\)|(AND|OR|NOT|TRUE|FALSE|\(|\))', rule)
    position = 0

    def peek() -> str:
        return tokens[position][2] if position < len(tokens) and tokens[position][2] else ""

    def atom() -> bool:
        nonlocal position
        state, child, word = tokens[position]
        position += 1
        if state:
            return states.get(child.strip(), "INSUFFICIENT_DATA") == state
        if word == "NOT":
            return not atom()
        if word == "(":
            value = either()
            position += 1  # the closing parenthesis
            return value
        return word == "TRUE"

    def both() -> bool:
        nonlocal position
        value = atom()
        while peek() == "AND":
            position += 1
            value = atom() and value
        return value

    def either() -> bool:
        nonlocal position
        value = both()
        while peek() == "OR":
            position += 1
            value = both() or value
        return value

    return either() if tokens else False


class AlarmEvaluator:
    """Publishes the watched queues' depth and evaluates every alarm in the local AWS."""

    def __init__(
        self, cloudwatch: Any, sqs: Any, *, clock: Callable[[], datetime] | None = None, minute: float = 60.0
    ) -> None:
        self.cloudwatch = cloudwatch
        self.sqs = sqs
        self.clock = clock or (lambda: datetime.now(UTC))
        #: Seconds a minute of an alarm's period lasts (60: as CloudWatch).
        self.speed = 60.0 / minute
        self.sample_seconds = max(1.0, SAMPLE_SECONDS / self.speed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def alarms(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        metric, composite = [], []
        for page in self.cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        ):
            metric.extend(page.get("MetricAlarms", []))
            composite.extend(page.get("CompositeAlarms", []))
        return metric, composite

    def publish_queue_metrics(self, alarms: list[dict[str, Any]]) -> None:
        queues = {
            dimension["Value"]
            for alarm in alarms
            if alarm.get("Namespace") == "AWS/SQS" and alarm.get("MetricName") in _QUEUE_ATTRIBUTES
            for dimension in alarm.get("Dimensions", [])
            if dimension["Name"] == "QueueName"
        }
        now = self.clock()
        for queue in sorted(queues):
            try:
                url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                attributes = self.sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=list(_QUEUE_ATTRIBUTES.values())
                )["Attributes"]
            except Exception:  # the queue is gone (its stack destroyed): nothing to sample
                continue
            self.cloudwatch.put_metric_data(
                Namespace="AWS/SQS",
                MetricData=[
                    {
                        "MetricName": metric,
                        "Dimensions": [{"Name": "QueueName", "Value": queue}],
                        "Value": float(attributes.get(attribute, 0)),
                        "Unit": "Count",
                        "Timestamp": now,
                    }
                    for metric, attribute in _QUEUE_ATTRIBUTES.items()
                ],
            )

    def datapoints(self, alarm: dict[str, Any]) -> list[float | None]:
        """The alarm's statistic in each of its evaluation periods, ending now, oldest first."""
        period = max(1, round(int(alarm["Period"]) / self.speed))
        periods = int(alarm["EvaluationPeriods"])
        statistic = alarm.get("Statistic") or "Average"
        end = self.clock() + timedelta(seconds=1)  # the newest sample (taken now) included
        values: list[float | None] = []
        for index in range(periods, 0, -1):
            stop = end - timedelta(seconds=period * (index - 1))
            answer = self.cloudwatch.get_metric_statistics(
                Namespace=alarm["Namespace"],
                MetricName=alarm["MetricName"],
                Dimensions=alarm.get("Dimensions", []),
                StartTime=stop - timedelta(seconds=period),
                EndTime=stop,
                Period=period,
                Statistics=[statistic],
            )
            found = [point[statistic] for point in answer.get("Datapoints", []) if statistic in point]
            if not found:
                values.append(None)
            elif statistic == "Sum":
                values.append(sum(found))
            elif statistic == "Minimum":
                values.append(min(found))
            elif statistic == "Maximum":
                values.append(max(found))
            else:
                values.append(sum(found) / len(found))
        return values

    def evaluate(self) -> dict[str, str]:
        """One round: sample the queues, evaluate every alarm, write the changed states.
        Returns each alarm's state by name."""
        metric, composite = self.alarms()
        self.publish_queue_metrics(metric)
        states: dict[str, str] = {}
        for alarm in metric:
            if not alarm.get("MetricName"):
                continue  # metric math alarms: not evaluated locally
            state, reason = metric_state(alarm, self.datapoints(alarm))
            self._set(alarm, state, reason)
            states[alarm["AlarmName"]] = states[alarm["AlarmArn"]] = state
        for alarm in composite:
            state = "ALARM" if rule_state(alarm["AlarmRule"], states) else "OK"
            self._set(alarm, state, "rule " + ("holds" if state == "ALARM" else "does not hold"))
            states[alarm["AlarmName"]] = states[alarm["AlarmArn"]] = state
        return {name: state for name, state in states.items() if not name.startswith("arn:")}

    def _set(self, alarm: dict[str, Any], state: str, reason: str) -> None:
        if alarm.get("StateValue") != state:
            self.cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"], StateValue=state, StateReason=f"{REASON_PREFIX}: {reason}"[:1023]
            )

    # --- in the background ------------------------------------------------------------------
    def _loop(self, log: Callable[[str], None]) -> None:
        while not self._stop.is_set():
            try:
                self.evaluate()
            except Exception as exc:  # a hiccup of the local AWS must not end the evaluation
                log(f"alarm evaluation failed ({type(exc).__name__}: {str(exc)[:200]})")
            self._stop.wait(self.sample_seconds)

    def start(self, log: Callable[[str], None] = lambda _line: None) -> AlarmEvaluator:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(log,), name="alarm-evaluation", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def evaluator_from_settings(settings: Any) -> AlarmEvaluator:
    from .. import aws

    return AlarmEvaluator(
        aws.client("cloudwatch", settings), aws.client("sqs", settings), minute=settings.local_alarm_minute
    )


__all__ = ["SAMPLE_SECONDS", "AlarmEvaluator", "evaluator_from_settings", "metric_state", "rule_state"]
