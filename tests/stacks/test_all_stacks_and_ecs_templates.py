"""The synthesized templates, property by property, including those moto does not keep
(stickiness, launch type, cpu/memory, service load balancers, batch failure reporting): what
every stack holds to (secrets, removal, retention, outputs, tags), and EcsStack's."""

from __future__ import annotations

import json
import re

import pytest

from bwp_workshop import names

from .conftest import CLIENT_ID, CLIENT_SECRET, Synthesized, only, policy_actions, resources, task_container
from .test_alarms_template import EVENT_STACK_ALARM_OUTPUTS

# --- all stacks -----------------------------------------------------------------------------


def test_the_app_has_the_three_stacks(synthesized: Synthesized) -> None:
    assert set(synthesized.raw) == set(names.STACKS)


def test_no_secret_value_in_any_template(synthesized: Synthesized) -> None:
    for stack, body in synthesized.raw.items():
        text = json.dumps(body)
        assert CLIENT_SECRET not in text, f"the client secret is in the {stack} template"
        assert CLIENT_ID not in text, f"the client id is in the {stack} template"
        assert "AWS::SecretsManager::Secret" not in text, f"{stack} creates a secret (its value would be in it)"


def test_destroy_leaves_nothing_retained_and_needs_no_custom_resource(synthesized: Synthesized) -> None:
    for stack, body in synthesized.raw.items():
        for logical_id, resource in body["Resources"].items():
            assert resource.get("DeletionPolicy") != "Retain", f"{stack}/{logical_id} is retained on destroy"
            assert resource.get("UpdateReplacePolicy") != "Retain", f"{stack}/{logical_id} is retained"
            assert not resource["Type"].startswith("Custom::"), f"{stack}/{logical_id} needs a Lambda to deploy"
        functions = resources(synthesized, stack, "AWS::Lambda::Function")
        assert len(functions) == (1 if stack == names.EVENT_STACK else 0)


def test_stateful_resources_are_deleted_with_their_stack(synthesized: Synthesized) -> None:
    for stack, kind in [
        (names.INFRA_STACK, "AWS::DynamoDB::Table"),
        (names.INFRA_STACK, "AWS::ECR::Repository"),
        (names.INFRA_STACK, "AWS::Logs::LogGroup"),
        (names.ECS_STACK, "AWS::Logs::LogGroup"),
        (names.EVENT_STACK, "AWS::DynamoDB::Table"),
        (names.EVENT_STACK, "AWS::Logs::LogGroup"),
        (names.EVENT_STACK, "AWS::SQS::Queue"),
    ]:
        for resource in resources(synthesized, stack, kind).values():
            assert resource["DeletionPolicy"] == "Delete", f"{stack} {kind}"


def test_log_groups_keep_the_configured_retention(synthesized: Synthesized) -> None:
    for stack in names.STACKS:
        for group in resources(synthesized, stack, "AWS::Logs::LogGroup").values():
            assert group["Properties"]["RetentionInDays"] == synthesized.settings.log_retention_days == 14


def test_outputs_are_the_documented_keys(synthesized: Synthesized) -> None:
    expected = {
        names.INFRA_STACK: {
            names.OUT_ALB_DNS_NAME,
            names.OUT_APP_BASE_URL,
            names.OUT_TOKEN_TABLE,
            names.OUT_BUSINESS_PRODUCT_TABLE,
            names.OUT_REPOSITORY_URI,
            names.OUT_IMAGE_BUILD_PROJECT,
            names.OUT_ALARM_TOPIC_ARN,
        },
        names.ECS_STACK: {names.OUT_CLUSTER_NAME, names.OUT_SERVICE_NAME},
        names.EVENT_STACK: {
            names.OUT_DATA_TABLE,
            names.OUT_QUEUE_URL,
            names.OUT_QUEUE_ARN,
            names.OUT_DLQ_URL,
            names.OUT_FUNCTION_NAME,
            names.OUT_RULE_NAME,
            names.OUT_EVENT_BUS_ARN,
            names.OUT_HANDLER_LOG_GROUP,
            names.OUT_OPERATOR_ROLE_ARN,
            names.OUT_TEST_EVENT_BUS,
            *EVENT_STACK_ALARM_OUTPUTS,
            names.OUT_WEBHOOK_EVENT_BUS,
            names.OUT_ANALYTICS_BUCKET,
            names.OUT_ANALYTICS_RESULTS_BUCKET,
        },
    }
    for stack, keys in expected.items():
        declared = {key for key in synthesized.raw[stack].get("Outputs", {}) if not key.startswith("ExportsOutput")}
        assert declared == keys, stack


# --- EcsStack -------------------------------------------------------------------------------


def test_fargate_task_is_one_vcpu_two_gib_linux_x86(synthesized: Synthesized) -> None:
    definition = only(synthesized, names.ECS_STACK, "AWS::ECS::TaskDefinition")["Properties"]
    assert definition["Cpu"] == "1024"
    assert definition["Memory"] == "2048"
    assert definition["RequiresCompatibilities"] == ["FARGATE"]
    assert definition["NetworkMode"] == "awsvpc"
    assert definition["RuntimePlatform"] == {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"}


def test_container_runs_the_repository_image_on_the_app_port_with_a_health_check(synthesized: Synthesized) -> None:
    container = task_container(synthesized)
    assert container["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]
    image = json.dumps(container["Image"])
    assert "ImportValue" in image and "Repository" in image and ":src-" in image
    check = container["HealthCheck"]
    assert check["Command"][0] == "CMD-SHELL"
    assert "http://127.0.0.1:8080/health" in check["Command"][1]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert container["LogConfiguration"]["Options"]["mode"] == "non-blocking"


def test_container_environment_is_the_contract(synthesized: Synthesized) -> None:
    container = task_container(synthesized)
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert set(environment) == {
        names.ENV_TOKEN_TABLE,
        names.ENV_BUSINESS_PRODUCT_TABLE,
        names.ENV_APP_BASE_URL,
        names.ENV_AUTHORIZE_URL,
        names.ENV_TOKEN_URL,
        names.ENV_GRAPHQL_URL,
        names.ENV_API_VERSION,
        names.ENV_EVENT_DESTINATION_PARAMETER,
        names.ENV_WEBHOOK_EVENT_BUS,
    }  # only what oauth_app.config reads (tests/stacks/test_deployed_environment.py)
    settings = synthesized.settings
    assert environment[names.ENV_TOKEN_URL] == settings.token_url
    assert environment[names.ENV_AUTHORIZE_URL] == settings.authorize_url
    assert environment[names.ENV_GRAPHQL_URL] == settings.graphql_url
    assert environment[names.ENV_EVENT_DESTINATION_PARAMETER] == names.EVENT_DESTINATION_PARAMETER
    assert "ImportValue" in json.dumps(environment[names.ENV_TOKEN_TABLE])
    assert "BusinessProductTable" in json.dumps(environment[names.ENV_BUSINESS_PRODUCT_TABLE])
    assert environment[names.ENV_WEBHOOK_EVENT_BUS] == names.WEBHOOK_EVENT_BUS


def test_client_credentials_come_from_the_named_secret(synthesized: Synthesized) -> None:
    secrets = {item["Name"]: json.dumps(item["ValueFrom"]) for item in task_container(synthesized)["Secrets"]}
    assert set(secrets) == {names.ENV_CLIENT_ID, names.ENV_CLIENT_SECRET}
    assert f"secret:{names.CLIENT_SECRET_NAME}:client_id::" in secrets[names.ENV_CLIENT_ID]
    assert f"secret:{names.CLIENT_SECRET_NAME}:client_secret::" in secrets[names.ENV_CLIENT_SECRET]


def test_service_runs_two_fargate_tasks_behind_the_target_group(synthesized: Synthesized) -> None:
    service = only(synthesized, names.ECS_STACK, "AWS::ECS::Service")["Properties"]
    assert service["LaunchType"] == "FARGATE"
    assert service["DesiredCount"] == 2
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert service["HealthCheckGracePeriodSeconds"] == 60
    (balancer,) = service["LoadBalancers"]
    assert balancer["ContainerName"] == "oauth"
    assert balancer["ContainerPort"] == 8080
    assert "TargetGroup" in json.dumps(balancer["TargetGroupArn"])
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert "ServiceSecurityGroup" in json.dumps(network["SecurityGroups"])


def test_task_role_reads_and_writes_tokens_keeps_business_products_and_reads_the_destinations(
    synthesized: Synthesized,
) -> None:
    statements = policy_actions(synthesized, names.ECS_STACK, "TaskRole")
    services = {action.split(":")[0] for actions, _ in statements for action in actions}
    # The client credentials reach the app through the execution role (ECS injects them); the
    # webhook puts events on EventStack's webhook bus, and only there.
    assert services == {"dynamodb", "ssm", "events"}
    events_statements = [(actions, resource) for actions, resource in statements if "events:PutEvents" in actions]
    assert [actions for actions, _ in events_statements] == [{"events:PutEvents"}]
    assert f"event-bus/{names.WEBHOOK_EVENT_BUS}" in events_statements[0][1]
    statements = [statement for statement in statements if statement not in events_statements]
    table_actions: set[str] = set()
    parameters = []
    for actions, resource in statements:
        if "BusinessProductTable" in resource:  # install records, uninstall finds (index) and deletes
            index = f"/index/{names.BUSINESS_PRODUCT_BY_INSTALLATION}"
            assert actions == ({"dynamodb:Query"} if index in resource else {"dynamodb:PutItem", "dynamodb:DeleteItem"})
        elif actions == {"ssm:GetParameter"}:
            parameters.append(resource)
        else:
            table_actions |= actions
            assert "TokenTable" in resource
    # Exactly what the app calls (the review's L2): no Scan, GetItem, BatchGetItem or streams.
    assert table_actions == {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem"}
    # One parameter, by its name: the event destinations an install subscribes the merchant to.
    assert len(parameters) == 1 and f':parameter/{names.EVENT_DESTINATION_PARAMETER.lstrip("/")}"' in parameters[0]
    execution = policy_actions(synthesized, names.ECS_STACK, "TaskDefinitionExecutionRole")
    secret = [actions for actions, resource in execution if names.CLIENT_SECRET_NAME in resource]
    assert secret == [{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}]
    for role in resources(synthesized, names.ECS_STACK, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


@pytest.mark.parametrize("stack", names.STACKS)
def test_stacks_are_tagged_with_the_project(synthesized: Synthesized, stack: str) -> None:
    tagged = [
        r
        for r in synthesized.raw[stack]["Resources"].values()
        if "Tags" in r.get("Properties", {}) and isinstance(r["Properties"]["Tags"], list)
    ]
    assert tagged
    assert all(re.search(r'"project"', json.dumps(r["Properties"]["Tags"])) for r in tagged)
