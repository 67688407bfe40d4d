"""EventStack: Buy with Prime events from the partner bus, through a queue, to the Lambda that
records them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import names
from . import token_key
from .alarms import PipelineAlarms
from .analytics_store import AnalyticsStore
from .dashboard import OperationsDashboard
from .dynamodb_tables import STRING, workshop_table
from .event_senders import EventSenders
from .nag import acknowledge
from .personal_data import personal_data_policy
from .webhook_bus import WebhookBus

#: The queue's visibility timeout is this many times the Lambda timeout (AWS's advice for SQS
#: event sources, so a message is not redelivered while a retried batch still runs).
VISIBILITY_FACTOR = 6
#: Shortest outage of the Buy with Prime API (or the token endpoint) that the queue must ride
#: out before a transiently failing record reaches the dead-letter queue.
MIN_RETRY_WINDOW_SECONDS = 15 * 60


def retry_window_seconds(lambda_timeout: int, max_receive_count: int) -> int:
    """How long after its first failed receive a record is received for the last time: each
    failed receive hides it for the visibility timeout, and the receive after the
    ``max_receive_count``-th moves it to the dead-letter queue instead."""
    return VISIBILITY_FACTOR * lambda_timeout * (max_receive_count - 1)


class EventStack(cdk.Stack):
    """Data table; the partner event bus (imported by ARN); a rule matching the subscribed
    partner source ``event_source`` exactly, into a queue with a dead-letter queue; the Lambda consuming the queue with
    partial batch failures; the pipeline's alarms (to ``alarm_topic``) and the operations
    dashboard (with the OAuth app's ``load_balancer``)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        event_bus_arn: str,
        event_source: str,
        token_table: dynamodb.ITable,
        business_product_table: dynamodb.ITable,
        asset_dir: Path,
        asset_hash: str,
        lambda_environment: Callable[..., dict[str, str]],
        lambda_timeout: int,
        max_receive_count: int,
        batch_size: int,
        batch_window: int,
        max_concurrency: int,
        log_retention: logs.RetentionDays,
        alarm_topic: sns.ITopic,
        load_balancer: elbv2.IApplicationLoadBalancer | None = None,
        webhook_sender: iam.IRole,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id_, **kwargs)

        self.data_table = workshop_table(
            self, "DataTable", partition_key=names.DATA_PK, sort_key=(names.DATA_SK, STRING)
        )
        self.event_bus = events.EventBus.from_event_bus_arn(self, "PartnerBus", event_bus_arn)
        # Every stored event also as Parquet in S3, for the analytics SQL (Athena, DuckDB).
        self.analytics = AnalyticsStore(self, "Analytics")

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            retention_period=cdk.Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # region queue
        self.queue = sqs.Queue(
            self,
            "Queue",
            visibility_timeout=cdk.Duration.seconds(VISIBILITY_FACTOR * lambda_timeout),
            retention_period=cdk.Duration.days(4),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receive_count, queue=self.dead_letter_queue),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # endregion

        self.log_group = logs.LogGroup(
            self,
            "HandlerLogs",
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            data_protection_policy=personal_data_policy(),
        )
        # An explicit role: basic execution as a grant on this log group only (no managed policy).
        self.role = iam.Role(
            self,
            "HandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Event handler: consume the queue, write the data table, read/write tokens, read the secret",
            # The token table's key policy names the role (stacks/token_key.py).
            role_name=token_key.role_name(names.HANDLER_ROLE_NAME_PREFIX) if token_table.encryption_key else None,
        )
        token_key.grant_use(self.role, token_table)
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(
                str(asset_dir), asset_hash=asset_hash, asset_hash_type=cdk.AssetHashType.CUSTOM
            ),
            timeout=cdk.Duration.seconds(lambda_timeout),
            memory_size=512,
            role=self.role,
            log_group=self.log_group,
            environment=lambda_environment(
                data_table=self.data_table.table_name,
                token_table=token_table.table_name,
                business_product_table=business_product_table.table_name,
                dead_letter_queue_url=self.dead_letter_queue.queue_url,
                event_source=event_source,
                analytics_bucket=self.analytics.bucket.bucket_name,
            ),
            description="Records Buy with Prime events from the event queue",
        )
        # Only what the handler calls (names.HANDLER_*_ACTIONS): one conditional put per event;
        # the newest token read, a refresh claimed, the new pair written, the old one marked spent.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(names.HANDLER_DATA_ACTIONS), resources=[self.data_table.table_arn])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(names.HANDLER_TOKEN_ACTIONS), resources=[token_table.table_arn])
        )
        # Only what resolving a tenant needs: one item by its key.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[business_product_table.table_arn])
        )
        # Each batch's stored events as Parquet objects in the analytics bucket.
        self.analytics.grant_write(self.role)
        # A record that can never succeed goes to the dead-letter queue on its first receive.
        self.dead_letter_queue.grant_send_messages(self.role)
        secretsmanager.Secret.from_secret_name_v2(self, "ClientSecret", names.CLIENT_SECRET_NAME).grant_read(self.role)
        # region rule-to-handler
        self.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=batch_size,
                max_batching_window=cdk.Duration.seconds(batch_window) if batch_window else None,
                report_batch_item_failures=True,
                max_concurrency=max_concurrency,  # bounds calls to the token endpoint in a burst
            )
        )

        self.rule = events.Rule(
            self,
            "BuyWithPrimeEvents",
            event_bus=self.event_bus,
            description="Buy with Prime events of the subscribed partner source only",
            event_pattern=events.EventPattern(source=[event_source]),
            targets=[targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letter_queue)],
        )
        # endregion

        # The webhook path: the app (``webhook_sender``) puts the events it received on a bus of
        # this stack, whose rule sends them to the same queue.
        self.webhook = WebhookBus(
            self, "Webhook", queue=self.queue, dead_letter_queue=self.dead_letter_queue, sender=webhook_sender
        )
        # Who may send: the rule, the webhook and test rules, the operator role, the handler (to the DLQ).
        self.senders = EventSenders(
            self,
            "Senders",
            queue=self.queue,
            dead_letter_queue=self.dead_letter_queue,
            rule=self.rule,
            handler_role=self.role,
            other_rules=(self.webhook.rule,),
        )

        self.alarms = PipelineAlarms(
            self,
            "Alarms",
            queue=self.queue,
            dead_letter_queue=self.dead_letter_queue,
            function=self.function,
            data_table=self.data_table,
            token_table=token_table,
            lambda_timeout=lambda_timeout,
            topic=alarm_topic,
        )
        self.dlq_alarm = self.alarms.dead_letter_queue
        self.dashboard = OperationsDashboard(
            self,
            "Operations",
            queue=self.queue,
            dead_letter_queue=self.dead_letter_queue,
            function=self.function,
            load_balancer=load_balancer,
            alarms=[*self.alarms.alarms.values(), self.alarms.unhealthy],
        ).dashboard

        cdk.CfnOutput(self, names.OUT_DATA_TABLE, value=self.data_table.table_name)
        cdk.CfnOutput(self, names.OUT_QUEUE_URL, value=self.queue.queue_url)
        cdk.CfnOutput(self, names.OUT_QUEUE_ARN, value=self.queue.queue_arn)
        cdk.CfnOutput(self, names.OUT_DLQ_URL, value=self.dead_letter_queue.queue_url)
        cdk.CfnOutput(self, names.OUT_FUNCTION_NAME, value=self.function.function_name)
        cdk.CfnOutput(self, names.OUT_HANDLER_LOG_GROUP, value=self.log_group.log_group_name)
        cdk.CfnOutput(self, names.OUT_RULE_NAME, value=self.rule.rule_name)
        cdk.CfnOutput(self, names.OUT_EVENT_BUS_ARN, value=event_bus_arn)
        cdk.CfnOutput(self, names.OUT_DLQ_ALARM, value=self.dlq_alarm.alarm_name)
        cdk.CfnOutput(self, names.OUT_PIPELINE_ALARM, value=self.alarms.unhealthy.alarm_name)
        cdk.CfnOutput(self, names.OUT_DASHBOARD, value=self.dashboard.dashboard_name)

        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "The handler's hash-pinned lock is resolved for Python 3.12 on x86_64 (make lock) and tested on it; "
            "a newer runtime is a change of that lock, the asset build and this runtime together, made when "
            "the dependencies support it, well before Lambda deprecates 3.12.",
        )
