"""The three stacks deployed to the local AWS by the real cdk CLI through bwp_workshop.deploy:
outputs, the resources in moto, a redeploy without change, destroy leaving nothing, and CLI
failures turned into errors that name the stack and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bwp_workshop import aws, deploy, names
from bwp_workshop.cli import main
from bwp_workshop.deploy import commands, prerequisites
from bwp_workshop.errors import DeployError
from bwp_workshop.outputs import outputs_file
from bwp_workshop.settings import Settings
from bwp_workshop.testing.checkout import CHECKOUT
from tests.local.inventory import leftovers
from tests.stacks.test_alarms_template import EVENT_STACK_ALARM_OUTPUTS

SOURCE = "aws.partner/buywithprime/supadupa-local"
BUS_ARN = f"arn:aws:events:us-east-1:{aws.LOCAL_ACCOUNT_ID}:event-bus/{SOURCE}"
CLIENT_SECRET = "local-secret-0123456789abcdef"


@pytest.fixture
def settings(local_settings: Settings) -> Settings:
    return local_settings.model_copy(
        update={
            "event_bus_arn": BUS_ARN,
            "client_id": "local-client-id",
            "client_secret": type(local_settings.client_secret)(CLIENT_SECRET),
            "build_dir": CHECKOUT / ".bwp" / "build",
            "max_receive_count": 3,
            "lambda_timeout": 20,
        }
    )


def _stack_status(settings: Settings, stack: str) -> str:
    return str(aws.client("cloudformation", settings).describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])


def function_environment_bucket(settings: Settings, event: dict[str, str]) -> str:
    """The analytics bucket the deployed Lambda is told to write to."""
    function = aws.client("lambda", settings).get_function(FunctionName=event["FunctionName"])["Configuration"]
    return str(function["Environment"]["Variables"][names.ENV_ANALYTICS_BUCKET])


def test_deploy_all_redeploy_and_destroy_leave_nothing(settings: Settings) -> None:
    deployed = deploy.deploy(settings, "all", progress=False)

    assert set(deployed) == set(names.STACKS)
    infra, ecs, event = deployed[names.INFRA_STACK], deployed[names.ECS_STACK], deployed[names.EVENT_STACK]
    assert set(infra) == {
        "AlbDnsName",
        "AppBaseUrl",
        "TokenTableName",
        "BusinessProductTableName",
        "RepositoryUri",
        "ImageBuildProjectName",
        "AlarmTopicArn",
    }
    assert set(ecs) == {"ClusterName", "ServiceName"}
    assert set(event) == {
        "DataTableName",
        "QueueUrl",
        "QueueArn",
        "DeadLetterQueueUrl",
        "FunctionName",
        "RuleName",
        "EventBusArn",
        "HandlerLogGroupName",
        "OperatorRoleArn",
        "TestEventBusName",
        "WebhookEventBusName",
        "AnalyticsBucketName",
        "AnalyticsResultsBucketName",
        *EVENT_STACK_ALARM_OUTPUTS,
    }
    assert infra["AppBaseUrl"] == f"http://{infra['AlbDnsName']}" == infra["AppBaseUrl"].lower()
    assert infra["RepositoryUri"].endswith("/bwp-saas-integration")
    assert event["EventBusArn"] == BUS_ARN
    assert json.loads(outputs_file(settings).read_text()) == deployed
    assert deploy.outputs(settings, names.EVENT_STACK) == event
    assert deploy.outputs(settings=settings) == deployed

    # --- the resources, as moto holds them ---
    dynamodb = aws.client("dynamodb", settings)
    token_table = dynamodb.describe_table(TableName=infra["TokenTableName"])["Table"]
    assert token_table["KeySchema"] == [
        {"AttributeName": "installation_id", "KeyType": "HASH"},
        {"AttributeName": "updated_at", "KeyType": "RANGE"},
    ]
    ttl = dynamodb.describe_time_to_live(TableName=infra["TokenTableName"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    products = dynamodb.describe_table(TableName=infra["BusinessProductTableName"])["Table"]
    assert products["KeySchema"] == [{"AttributeName": "business_product_id", "KeyType": "HASH"}]
    assert [index["IndexName"] for index in products["GlobalSecondaryIndexes"]] == ["by-installation"]
    data_table = dynamodb.describe_table(TableName=event["DataTableName"])["Table"]
    assert data_table["KeySchema"] == [
        {"AttributeName": "installation_id", "KeyType": "HASH"},
        {"AttributeName": "event_id", "KeyType": "RANGE"},
    ]

    sqs = aws.client("sqs", settings)
    queue = sqs.get_queue_attributes(QueueUrl=event["QueueUrl"], AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=event["DeadLetterQueueUrl"], AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert json.loads(queue["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    assert queue["VisibilityTimeout"] == "120"
    assert queue["QueueArn"] == event["QueueArn"]
    assert '"aws:SecureTransport": "false"' in queue["Policy"]

    events = aws.client("events", settings)
    rule = events.describe_rule(Name=event["RuleName"], EventBusName=SOURCE)
    assert json.loads(rule["EventPattern"]) == {"source": [SOURCE]}  # the subscribed source exactly
    (target,) = events.list_targets_by_rule(Rule=event["RuleName"], EventBusName=SOURCE)["Targets"]
    assert target["Arn"] == event["QueueArn"]
    assert target["DeadLetterConfig"] == {"Arn": dlq_arn}
    # The webhook path: the app's bus, its rule (the webhook source exactly) into the same queue.
    assert event["WebhookEventBusName"] == names.WEBHOOK_EVENT_BUS
    assert "OnlyTheAppSends" in events.describe_event_bus(Name=names.WEBHOOK_EVENT_BUS)["Policy"]
    (webhook_rule,) = events.list_rules(EventBusName=names.WEBHOOK_EVENT_BUS)["Rules"]
    assert json.loads(webhook_rule["EventPattern"]) == {"source": [names.WEBHOOK_EVENT_SOURCE]}
    (webhook_target,) = events.list_targets_by_rule(Rule=webhook_rule["Name"], EventBusName=names.WEBHOOK_EVENT_BUS)[
        "Targets"
    ]
    assert webhook_target["Arn"] == event["QueueArn"]

    s3 = aws.client("s3", settings)
    # The analytics buckets exist (moto's CloudFormation keeps neither their versioning nor their
    # lifecycle: tests/stacks/test_analytics_store_template.py checks those in the template).
    for bucket in (event["AnalyticsBucketName"], event["AnalyticsResultsBucketName"]):
        s3.head_bucket(Bucket=bucket)
    assert function_environment_bucket(settings, event) == event["AnalyticsBucketName"]

    secret = aws.client("secretsmanager", settings).get_secret_value(SecretId=names.CLIENT_SECRET_NAME)
    assert json.loads(secret["SecretString"]) == {"client_id": "local-client-id", "client_secret": CLIENT_SECRET}

    functions = aws.client("lambda", settings)
    function = functions.get_function(FunctionName=event["FunctionName"])["Configuration"]
    assert function["Runtime"] == "python3.12"
    assert function["Environment"]["Variables"]["CLIENT_SECRET_NAME"] == names.CLIENT_SECRET_NAME
    (mapping,) = functions.list_event_source_mappings(FunctionName=event["FunctionName"])["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"] == event["QueueArn"]
    alarms = aws.client("cloudwatch", settings).describe_alarms()
    by_name = {alarm["AlarmName"]: alarm for alarm in alarms["MetricAlarms"]}
    assert by_name[event[names.OUT_DLQ_ALARM]]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert [alarm["AlarmName"] for alarm in alarms["CompositeAlarms"]] == [event[names.OUT_PIPELINE_ALARM]]
    (service,) = aws.client("ecs", settings).describe_services(
        cluster=ecs["ClusterName"], services=[ecs["ServiceName"]]
    )["services"]
    assert service["desiredCount"] == 2

    # --- a redeploy without change changes nothing (the stacks named as a list this time) ---
    assert deploy.deploy(settings, list(names.STACKS), progress=False) == deployed
    for stack in names.STACKS:
        assert _stack_status(settings, stack) == "CREATE_COMPLETE", stack

    # --- destroy leaves nothing (the secret and the bus belong to the onboarding step) ---
    deploy.destroy(settings, "all", progress=False)
    assert json.loads(outputs_file(settings).read_text()) == {}
    with pytest.raises(DeployError, match="InfraStack is not deployed"):
        deploy.outputs(settings, names.INFRA_STACK)
    assert leftovers(settings) == {"secrets": [names.CLIENT_SECRET_NAME], "event buses": [SOURCE]}
    assert prerequisites.delete_client_credentials(settings)
    assert prerequisites.delete_partner_event_bus(settings, SOURCE)
    assert leftovers(settings) == {}


def test_event_stack_without_event_bus_arn_names_the_variable_and_the_step(settings: Settings) -> None:
    without = settings.model_copy(update={"event_bus_arn": ""})
    with pytest.raises(DeployError) as caught:
        deploy.deploy(without, names.EVENT_STACK, progress=False)
    assert "EVENT_BUS_ARN" in caught.value.message
    assert "ensure_partner_event_bus" in caught.value.hint
    assert caught.value.stack == names.EVENT_STACK
    with pytest.raises(DeployError, match="EVENT_BUS_ARN"):
        deploy.deploy(without, "all", progress=False)


def test_ecs_stack_without_credentials_or_secret_says_to_onboard_first(settings: Settings) -> None:
    without = settings.model_copy(update={"client_id": "", "client_secret": type(settings.client_secret)("")})
    with pytest.raises(DeployError, match=names.CLIENT_SECRET_NAME) as caught:
        deploy.deploy(without, names.ECS_STACK, progress=False)
    assert "onboarding" in caught.value.hint
    assert not [
        s for s in aws.client("cloudformation", settings).describe_stacks()["Stacks"] if s["StackName"] in names.STACKS
    ]


def test_a_cli_failure_names_the_stack_and_the_likely_fix(settings: Settings) -> None:
    aws.client("ecr", settings).create_repository(repositoryName=names.REPOSITORY_NAME)  # left over from elsewhere
    with pytest.raises(DeployError) as caught:
        deploy.deploy(settings, names.INFRA_STACK, progress=False)
    error = caught.value
    assert error.stack == names.INFRA_STACK
    assert "already exists" in error.message
    assert "bwp-saas-integration" in error.hint


def test_deploy_refuses_when_the_local_aws_is_down(settings: Settings) -> None:
    from bwp_workshop.testing.ports import free_port

    elsewhere = settings.model_copy(update={"local_moto_port": free_port()})
    with pytest.raises(DeployError, match="does not answer") as caught:
        deploy.deploy(elsewhere, names.INFRA_STACK, progress=False)
    assert "bwp-workshop local up" in caught.value.hint


def test_cli_outputs_prints_the_cached_outputs(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = {names.INFRA_STACK: {"AppBaseUrl": "http://bwp-oauth-1.us-east-1.elb.amazonaws.com"}}
    outputs_file(settings).parent.mkdir(parents=True, exist_ok=True)
    outputs_file(settings).write_text(json.dumps(cached))
    monkeypatch.setenv("BWP_PROJECT_DIR", str(settings.project_dir))
    monkeypatch.setenv("BWP_STATE_DIR", str(settings.bwp_dir))
    monkeypatch.setenv("BWP_LOCAL_MOTO_PORT", str(settings.local_moto_port))
    result = CliRunner().invoke(main, ["outputs", "infrastack"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == cached[names.INFRA_STACK]
    result = CliRunner().invoke(main, ["outputs", "EcsStack"])
    assert result.exit_code == 1
    assert "EcsStack is not deployed" in result.output


def test_diff_and_outputs_read_back_from_cloudformation_when_the_cache_is_gone(
    settings: Settings, tmp_path: Path
) -> None:
    deployed = deploy.deploy(settings, names.INFRA_STACK, progress=False)
    assert "There were no differences" in deploy.diff(settings, names.INFRA_STACK)
    outputs_file(settings).unlink()
    assert deploy.outputs(settings, names.INFRA_STACK) == deployed
    assert names.INFRA_STACK in json.loads(outputs_file(settings).read_text())


def test_destroying_an_event_stack_that_was_never_deployed_touches_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = settings.model_copy(update={"event_bus_arn": ""})
    monkeypatch.setattr(commands, "run_cdk", lambda *args, **kwargs: pytest.fail("the CLI ran with no stack"))
    deploy.destroy(without, names.EVENT_STACK, progress=False)
    with pytest.raises(DeployError, match="EVENT_BUS_ARN"):
        deploy.diff(without, names.EVENT_STACK)
