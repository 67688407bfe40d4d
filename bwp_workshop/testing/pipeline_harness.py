"""The event pipeline on the local target, provisioned as the workshop does it: an app
installed in the Buy with Prime sandbox (its token pair in the token table, its client
credentials in Secrets Manager), event subscriptions whose partner event source gets a bus,
the EventStack resources (data table, queue with a redrive policy to a dead-letter queue, a
rule matching Buy with Prime sources only into the queue) and their stack outputs; the local
event runner invoking the real handler module with the Lambda's environment."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bwp_workshop import aws, names
from bwp_workshop.core import credentials
from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.core.tokens import TokenSet
from bwp_workshop.local import emf, event_runner, lambda_host
from bwp_workshop.names import EVENT_TYPES
from bwp_workshop.outputs import outputs_file
from bwp_workshop.settings import Settings
from bwp_workshop.steps.subscriptions import CREATE_SUBSCRIPTION, SUBSCRIPTION_IDS_QUERY, SUBSCRIPTION_QUERY

from .checkout import CHECKOUT
from .sandbox import Installed
from .tables import create_business_product_table, create_data_table, create_token_table


@dataclass
class Pipeline:
    settings: Settings
    installation_id: str
    source_name: str
    queue_url: str
    dlq_url: str
    data_table: str
    #: The handler's counters after the runner stopped (API round trips, DynamoDB calls...).
    counters: dict[str, int] | None = None
    #: The analytics bucket the handler writes each batch's Parquet objects to.
    analytics_bucket: str = ""


def subscribe(installed: Installed, name: str) -> str:
    """Subscribe the installation to every event type with an EventBridge destination (the
    sandbox creates the partner event source); the source name."""
    settings = installed.sandbox.settings
    destination = {
        "eventBridge": {
            "partnerEventSource": {"account": aws.LOCAL_ACCOUNT_ID, "name": name},
            "region": settings.region,
        }
    }
    for event_type in EVENT_TYPES:
        answer = installed.graphql(
            CREATE_SUBSCRIPTION, {"input": {"eventType": event_type, "destination": destination}}
        ).json()
        assert "errors" not in answer, answer
    return names.partner_source_name(name)


def business_product(installed: Installed) -> str:
    """The installation's business product: the ``targetId`` of its event subscriptions
    (events-queries-eventsubscription), as the workshop's subscribe step records it."""
    ids = installed.graphql(SUBSCRIPTION_IDS_QUERY).json()
    first = ids["data"]["eventSubscriptions"]["edges"][0]["node"]["id"]
    answer = installed.graphql(SUBSCRIPTION_QUERY, {"subscriptionId": first}).json()
    return str(answer["data"]["eventSubscription"]["targetId"])


def provision(installed: Installed, *, max_receive_count: int = 5) -> Pipeline:
    """The EventStack resources made with boto3 as the stack makes them (fast; the deployed
    stack itself is exercised through ``deploy_event_stack``)."""
    settings = installed.sandbox.settings
    suffix = secrets.token_hex(4)
    source_name = subscribe(installed, f"supadupa-{suffix}")
    events = aws.client("events", settings)
    events.create_event_bus(Name=source_name, EventSourceName=source_name)

    data_table, token_table, products = f"data-{suffix}", f"tokens-{suffix}", f"business-products-{suffix}"
    # What the subscribe step records (a subscription's targetId): events without contextKeys find their tenant here.
    BusinessProductMap(create_business_product_table(settings, products)).put(
        business_product(installed), installed.installation_id
    )
    create_data_table(settings, data_table)
    # The analytics store's bucket, versioned as the stack makes it.
    analytics_bucket = f"analytics-{suffix}"
    s3 = aws.client("s3", settings)
    s3.create_bucket(Bucket=analytics_bucket)
    s3.put_bucket_versioning(Bucket=analytics_bucket, VersioningConfiguration={"Status": "Enabled"})
    TokenTable(create_token_table(settings, token_table)).put(
        installed.installation_id, TokenSet.from_response(installed.tokens)
    )
    aws.client("secretsmanager", settings).create_secret(
        Name=names.CLIENT_SECRET_NAME,
        SecretString=json.dumps(
            {names.CLIENT_SECRET_ID_KEY: installed.client_id, names.CLIENT_SECRET_SECRET_KEY: installed.client_secret}
        ),
    )

    event = event_stack_resources(settings, source_name, data_table, suffix, max_receive_count=max_receive_count)
    event[names.OUT_ANALYTICS_BUCKET] = analytics_bucket
    path = outputs_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                names.INFRA_STACK: {names.OUT_TOKEN_TABLE: token_table, names.OUT_BUSINESS_PRODUCT_TABLE: products},
                names.EVENT_STACK: event,
            }
        )
    )
    return Pipeline(
        settings,
        installed.installation_id,
        source_name,
        event[names.OUT_QUEUE_URL],
        event[names.OUT_DLQ_URL],
        data_table,
        analytics_bucket=analytics_bucket,
    )


def event_stack_resources(
    settings: Settings, source_name: str, data_table: str, suffix: str, *, max_receive_count: int = 5
) -> dict[str, str]:
    """EventStack's queue (redriving to a dead-letter queue), its rule on the partner bus
    ``source_name`` (which exists) and its test bus and rule, made with boto3 as the stack makes
    them; EventStack's outputs (the data table ``data_table`` exists)."""
    events = aws.client("events", settings)
    sqs = aws.client("sqs", settings)
    dlq_url = sqs.create_queue(QueueName=f"bwp-events-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"bwp-events-{suffix}",
        Attributes={
            "VisibilityTimeout": "180",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"bwp-events-{suffix}"
    events.put_rule(
        Name=rule,
        EventBusName=source_name,
        EventPattern=json.dumps({"source": [source_name]}),  # as EventStack's rule: the source exactly
    )
    events.put_targets(
        Rule=rule,
        EventBusName=source_name,
        Targets=[{"Id": "queue", "Arn": queue_arn, "DeadLetterConfig": {"Arn": dlq_arn}}],
    )
    bus_arn = events.describe_event_bus(Name=source_name)["Arn"]
    # The test bus and its rule, as EventStack makes them (the way test events take on aws).
    test_bus = f"bwp-test-events-{suffix}"
    events.create_event_bus(Name=test_bus)
    events.put_rule(
        Name=f"{rule}-test", EventBusName=test_bus, EventPattern=json.dumps({"source": [names.TEST_EVENT_SOURCE]})
    )
    events.put_targets(
        Rule=f"{rule}-test",
        EventBusName=test_bus,
        Targets=[{"Id": "queue", "Arn": queue_arn, "DeadLetterConfig": {"Arn": dlq_arn}}],
    )

    return {
        names.OUT_DATA_TABLE: data_table,
        names.OUT_QUEUE_URL: queue_url,
        names.OUT_QUEUE_ARN: queue_arn,
        names.OUT_DLQ_URL: dlq_url,
        names.OUT_RULE_NAME: rule,
        names.OUT_EVENT_BUS_ARN: bus_arn,
        names.OUT_TEST_EVENT_BUS: test_bus,
    }


def deploy_event_stack(installed: Installed, *, max_receive_count: int = 3) -> Pipeline:
    """The stacks deployed to the local AWS by the real cdk CLI (the deploy
    helpers associate the partner bus and store the client credentials), and the
    installation's token pair in the deployed token table."""
    from pydantic import SecretStr

    from bwp_workshop import deploy

    source_name = subscribe(installed, f"supadupa-{secrets.token_hex(4)}")
    base = installed.sandbox.settings
    settings = base.model_copy(
        update={
            "event_bus_arn": f"arn:aws:events:{base.region}:{aws.LOCAL_ACCOUNT_ID}:event-bus/{source_name}",
            "client_id": installed.client_id,
            "client_secret": SecretStr(installed.client_secret),
            "project_dir": CHECKOUT,  # the checkout: cdk.json, node_modules, lambdas/
            "build_dir": CHECKOUT / ".bwp" / "build",
            "max_receive_count": max_receive_count,
        }
    )
    deployed = deploy.deploy(settings, "all", progress=False)
    token_table = deployed[names.INFRA_STACK][names.OUT_TOKEN_TABLE]
    TokenTable(aws.resource("dynamodb", settings).Table(token_table)).put(
        installed.installation_id, TokenSet.from_response(installed.tokens)
    )
    products = aws.resource("dynamodb", settings).Table(deployed[names.INFRA_STACK][names.OUT_BUSINESS_PRODUCT_TABLE])
    BusinessProductMap(products).put(business_product(installed), installed.installation_id)
    event = deployed[names.EVENT_STACK]
    return Pipeline(
        settings,
        installed.installation_id,
        source_name,
        event[names.OUT_QUEUE_URL],
        event[names.OUT_DLQ_URL],
        event[names.OUT_DATA_TABLE],
        analytics_bucket=event[names.OUT_ANALYTICS_BUCKET],
    )


@contextlib.contextmanager
def running(pipeline: Pipeline, **options: Any) -> Iterator[event_runner.EventRunner]:
    """The local event runner on the pipeline's queue, invoking the real handler module with
    the Lambda's environment (as ``python -m bwp_workshop.local.event_runner`` does)."""
    handler = lambda_host.load_handler_module()
    credentials.clear_cache()
    with lambda_host.environment(lambda_host.lambda_environment(pipeline.settings)):
        handler.reset()
        options = {"retry_after": 0, "concurrency": 3, "wait_seconds": 1, **options}
        runner = event_runner.runner_from_settings(pipeline.settings, handler=handler.handler, **options)
        try:
            with runner:
                yield runner
            app = handler.processor()
            assert isinstance(runner.handler, lambda_host.LambdaInstance)
            metrics = {name: value for (name, _), value in emf.totals(runner.handler.points).items()}
            pipeline.counters = {
                "api_requests": app.graphql.requests,
                "api_retries": app.graphql.retries,
                "token_requests": app._endpoint.requests if app._endpoint else 0,
                "token_table_calls": app.tokens.calls,
                "data_table_calls": app.data_calls,
                "records_stored": int(metrics.get(names.METRIC_STORED, 0)),
                "duplicates_skipped": int(metrics.get(names.METRIC_DUPLICATES, 0)),
                "unenriched": int(metrics.get(names.METRIC_UNENRICHED, 0)),
                "dead_lettered_by_handler": int(metrics.get(names.METRIC_DEAD_LETTERED, 0)),
                "records_failed": int(metrics.get(names.METRIC_FAILED, 0)),
                "invocations": len(runner.handler.durations_ms),
                "handler_ms": round(sum(runner.handler.durations_ms)),
            }
        finally:
            handler.reset()
            credentials.clear_cache()


def depth(settings: Settings, url: str) -> int:
    attributes = aws.client("sqs", settings).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def settle(pipeline: Pipeline, expected: Sequence[str] | int, expected_dead: int, timeout: float = 120) -> None:
    """Wait until the data table holds the records ``expected`` (event ids, or a count of
    records), the DLQ ``expected_dead`` messages and the queue none. Ids are waited on by key
    (``event_pipeline.wait_for_events``); only a count scans the table. Pauses start at milliseconds
    and double up to a second."""
    from bwp_workshop.steps import pipeline as event_pipeline

    deadline = time.monotonic() + timeout
    if not isinstance(expected, int):
        event_pipeline.wait_for_events(
            pipeline.settings,
            expected,
            timeout=timeout,
            progress=False,
            installation_id=pipeline.installation_id,
        )
    delay = 0.005
    while True:
        records = event_pipeline.count_records(pipeline.settings) if isinstance(expected, int) else len(expected)
        dead = depth(pipeline.settings, pipeline.dlq_url)
        waiting = depth(pipeline.settings, pipeline.queue_url)
        wanted = expected if isinstance(expected, int) else len(expected)
        if records >= wanted and dead >= expected_dead and waiting == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"after {timeout} s: {records}/{wanted} records, {dead}/{expected_dead} dead letters, "
                f"{waiting} messages still queued"
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
