"""What tells the person running the workshop's stacks that something is wrong: one SNS topic
(with an optional e-mail subscription), the event pipeline's alarms with a composite "pipeline
unhealthy" on top, and the OAuth app's load balancer alarms. Every threshold is here, with why;
docs/operations.md lists them."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import names
from .nag import acknowledge

GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
#: The queue's oldest message may wait this many Lambda timeouts (a batch in flight, then a
#: retried one) before the pipeline counts as behind.
OLDEST_MESSAGE_TIMEOUTS = 5
#: Failed records (redelivered later) in five minutes that mean more than a passing hiccup: a
#: few transient failures are the design's normal (each is retried with backoff).
FAILED_RECORDS_THRESHOLD = 10
#: The load balancer's and the app's 5xx answers in five minutes that mean the app is failing.
SERVER_ERRORS_THRESHOLD = 5


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: its construct id, what it watches and its threshold, with the reason."""

    id: str
    description: str
    metric: cloudwatch.IMetric
    threshold: float
    evaluation_periods: int = 1
    comparison: cloudwatch.ComparisonOperator = GTE


class AlarmTopic(Construct):
    """The one SNS topic every alarm notifies, with an e-mail subscription when ``email`` is set
    (the address confirms it from the message AWS sends)."""

    def __init__(self, scope: Construct, id_: str, *, email: str = "") -> None:
        super().__init__(scope, id_)
        self.topic = sns.Topic(self, "Topic", display_name="Buy with Prime workshop alarms", enforce_ssl=True)
        # The topic's policy replaces SNS's default one: CloudWatch alarms of this account may publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            )
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "Alarm notifications carry alarm names, states and thresholds, no customer data; CloudWatch "
            "cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer key costs a "
            "monthly fee.",
        )


def _alarms(scope: Construct, specs: list[AlarmSpec], topic: sns.ITopic) -> dict[str, cloudwatch.Alarm]:
    made = {}
    for spec in specs:
        alarm = cloudwatch.Alarm(
            scope,
            spec.id,
            alarm_description=spec.description,
            metric=spec.metric,
            threshold=spec.threshold,
            evaluation_periods=spec.evaluation_periods,
            comparison_operator=spec.comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(topic))
        alarm.add_ok_action(actions.SnsAction(topic))
        made[spec.id] = alarm
    return made


def handler_metric(name: str, period: cdk.Duration) -> cloudwatch.Metric:
    """One of the event Lambda's outcome metrics, in total (the EMF the handler prints)."""
    return cloudwatch.Metric(
        namespace=names.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": names.EVENT_HANDLER_SERVICE},
        statistic="Sum",
        period=period,
    )


class PipelineAlarms(Construct):
    """The event pipeline's alarms, each to ``topic``, and the composite "pipeline unhealthy"
    (any of them in ALARM)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        function: lambda_.IFunction,
        data_table: dynamodb.ITable,
        token_table: dynamodb.ITable,
        lambda_timeout: int,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        minute, five = cdk.Duration.minutes(1), cdk.Duration.minutes(5)
        specs = [
            AlarmSpec(
                "DeadLetterQueue",
                "Buy with Prime events failed and wait in the dead-letter queue (read their reasons, fix, redrive)",
                dead_letter_queue.metric_approximate_number_of_messages_visible(period=minute, statistic="Maximum"),
                threshold=1,
            ),
            AlarmSpec(
                "OldestMessage",
                f"The event queue's oldest message is older than {OLDEST_MESSAGE_TIMEOUTS} Lambda timeouts for "
                "three minutes: the handler is behind or its records keep failing",
                queue.metric_approximate_age_of_oldest_message(period=minute, statistic="Maximum"),
                threshold=OLDEST_MESSAGE_TIMEOUTS * lambda_timeout,
                evaluation_periods=3,
                comparison=GT,
            ),
            AlarmSpec(
                "HandlerErrors",
                "The event Lambda's invocations failed as a whole (every record of the batch is retried)",
                function.metric_errors(period=five, statistic="Sum"),
                threshold=1,
            ),
            AlarmSpec(
                "HandlerThrottles",
                "The event Lambda was throttled: the account's concurrency is used up",
                function.metric_throttles(period=five, statistic="Sum"),
                threshold=1,
            ),
            AlarmSpec(
                "FailedRecords",
                f"{FAILED_RECORDS_THRESHOLD} or more records failed in five minutes and wait for redelivery "
                "(the Buy with Prime API or the token endpoint is failing)",
                handler_metric(names.METRIC_FAILED, five),
                threshold=FAILED_RECORDS_THRESHOLD,
            ),
            AlarmSpec(
                "DataTableThrottles",
                "Writes to the data table were throttled",
                data_table.metric("WriteThrottleEvents", period=five, statistic="Sum"),
                threshold=1,
            ),
            AlarmSpec(
                "TokenTableThrottles",
                "Reads of the token table were throttled",
                token_table.metric("ReadThrottleEvents", period=five, statistic="Sum"),
                threshold=1,
            ),
        ]
        self.alarms = _alarms(self, specs, topic)
        self.dead_letter_queue = self.alarms["DeadLetterQueue"]
        self.unhealthy = cloudwatch.CompositeAlarm(
            self,
            "PipelineUnhealthy",
            alarm_description="The event pipeline is unhealthy: one of its alarms is in ALARM",
            alarm_rule=cloudwatch.AlarmRule.any_of(*self.alarms.values()),
        )
        self.unhealthy.add_alarm_action(actions.SnsAction(topic))
        self.unhealthy.add_ok_action(actions.SnsAction(topic))


class AppAlarms(Construct):
    """The OAuth app's load balancer: its own 5xx answers, the app's 5xx, unhealthy tasks."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        minute, five = cdk.Duration.minutes(1), cdk.Duration.minutes(5)
        specs = [
            AlarmSpec(
                "LoadBalancer5xx",
                f"The load balancer answered 5xx {SERVER_ERRORS_THRESHOLD} times or more in five minutes "
                "(no healthy task, or the app did not answer)",
                load_balancer.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=five, statistic="Sum"),
                threshold=SERVER_ERRORS_THRESHOLD,
            ),
            AlarmSpec(
                "App5xx",
                f"The OAuth app answered 5xx {SERVER_ERRORS_THRESHOLD} times or more in five minutes",
                load_balancer.metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=five, statistic="Sum"
                ),
                threshold=SERVER_ERRORS_THRESHOLD,
            ),
            AlarmSpec(
                "UnhealthyTasks",
                "An OAuth app task failed its health checks for two minutes",
                target_group.metrics.unhealthy_host_count(period=minute, statistic="Maximum"),
                threshold=1,
                evaluation_periods=2,
            ),
        ]
        self.alarms = _alarms(self, specs, topic)
