"""The workshop's CloudWatch dashboard, built from the stacks' own resources (no names typed
in): events per type, failures, the queue's depth and age, the Lambda's duration and errors,
the OAuth app's requests and 5xx, and the alarms' states."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import names
from .alarms import handler_metric

PERIOD = cdk.Duration.minutes(5)
WIDTH = 12


def per_event_type(metric_name: str) -> cloudwatch.MathExpression:
    """One line per event type of a handler outcome metric (a CloudWatch SEARCH)."""
    schema = f"{names.METRICS_NAMESPACE},{names.METRIC_EVENT_TYPE},service"
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{{{schema}}} MetricName=\"{metric_name}\"', 'Sum', {int(PERIOD.to_seconds())})",
        using_metrics={},
        label="",
        period=PERIOD,
    )


class OperationsDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        function: lambda_.IFunction,
        load_balancer: elbv2.IApplicationLoadBalancer | None,
        alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, id_)
        minute = cdk.Duration.minutes(1)
        outcomes = [
            handler_metric(name, PERIOD)
            for name in (names.METRIC_FAILED, names.METRIC_DEAD_LETTERED, names.METRIC_UNENRICHED)
        ]
        rows: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.GraphWidget(
                    title="Events stored, per type", left=[per_event_type(names.METRIC_STORED)], width=WIDTH
                ),
                cloudwatch.GraphWidget(
                    title="Failed, dead-lettered, unenriched records",
                    left=outcomes,
                    right=[handler_metric(names.METRIC_DUPLICATES, PERIOD)],
                    width=WIDTH,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Queue depth",
                    left=[
                        queue.metric_approximate_number_of_messages_visible(period=minute, statistic="Maximum"),
                        dead_letter_queue.metric_approximate_number_of_messages_visible(
                            period=minute, statistic="Maximum", label="Dead-letter queue"
                        ),
                    ],
                    width=WIDTH,
                ),
                cloudwatch.GraphWidget(
                    title="Oldest message (seconds)",
                    left=[queue.metric_approximate_age_of_oldest_message(period=minute, statistic="Maximum")],
                    width=WIDTH,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Handler duration (ms)",
                    left=[
                        function.metric_duration(period=PERIOD, statistic="p50"),
                        function.metric_duration(period=PERIOD, statistic="p99"),
                    ],
                    width=WIDTH,
                ),
                cloudwatch.GraphWidget(
                    title="Handler errors and throttles",
                    left=[function.metric_errors(period=PERIOD), function.metric_throttles(period=PERIOD)],
                    width=WIDTH,
                ),
            ],
        ]
        if load_balancer is not None:
            rows.append(
                [
                    cloudwatch.GraphWidget(
                        title="OAuth app requests",
                        left=[load_balancer.metrics.request_count(period=PERIOD)],
                        width=WIDTH,
                    ),
                    cloudwatch.GraphWidget(
                        title="OAuth app 5xx",
                        left=[
                            load_balancer.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD),
                            load_balancer.metrics.http_code_target(
                                elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD
                            ),
                        ],
                        width=WIDTH,
                    ),
                ]
            )
        rows.append([cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=2 * WIDTH)])
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", widgets=rows)
