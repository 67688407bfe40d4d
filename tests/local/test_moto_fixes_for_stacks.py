"""The moto fixes the workshop's three stacks need, each checked through a real patched moto
server: alarms, partner event buses, SQS event source mappings kept as records, missing event
sources, and stack deletion of network, ECS and target group resources."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bwp_workshop import aws
from bwp_workshop.errors import MotoPatchError
from bwp_workshop.local import moto_patches
from bwp_workshop.settings import Settings
from tests.local.inventory import leftovers

SOURCE = "aws.partner/buywithprime/patch-check"


def _deploy(cfn: Any, stack: str, template: dict[str, Any]) -> None:
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName="cdk-deploy-change-set",
        TemplateBody=json.dumps(template),
        ChangeSetType="CREATE",
        Capabilities=["CAPABILITY_IAM"],
    )
    cfn.execute_change_set(StackName=stack, ChangeSetName="cdk-deploy-change-set")


def _partner_bus(settings: Settings) -> str:
    events = aws.client("events", settings)
    events.create_partner_event_source(Name=SOURCE, Account=aws.LOCAL_ACCOUNT_ID)
    return str(events.create_event_bus(Name=SOURCE, EventSourceName=SOURCE)["EventBusArn"])


def test_alarms_are_created_and_deleted_with_their_stack(local_settings: Settings) -> None:
    cfn = aws.client("cloudformation", local_settings)
    cloudwatch = aws.client("cloudwatch", local_settings)
    alarm = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": "messages wait in the DLQ",
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": "dlq"}],
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    }
    _deploy(cfn, "Alarmed", {"Resources": {"DlqAlarm": alarm}, "Outputs": {"Name": {"Value": {"Ref": "DlqAlarm"}}}})
    (created,) = cloudwatch.describe_alarms()["MetricAlarms"]
    assert created["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert created["Dimensions"] == [{"Name": "QueueName", "Value": "dlq"}]
    assert created["Threshold"] == 1.0
    assert created["TreatMissingData"] == "notBreaching"
    outputs = cfn.describe_stacks(StackName="Alarmed")["Stacks"][0]["Outputs"]
    assert outputs == [{"OutputKey": "Name", "OutputValue": created["AlarmName"]}]
    cfn.delete_stack(StackName="Alarmed")
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []


def test_a_rule_on_a_partner_bus_delivers_its_events(local_settings: Settings) -> None:
    bus_arn = _partner_bus(local_settings)
    events = aws.client("events", local_settings)
    sqs = aws.client("sqs", local_settings)
    assert events.describe_event_bus(Name=SOURCE)["Arn"] == bus_arn
    assert events.describe_event_bus(Name=bus_arn)["Name"] == SOURCE
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "partner-events"}},
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventBusName": SOURCE,
                    "EventPattern": {"source": [{"prefix": "aws.partner/buywithprime"}]},
                    "Targets": [{"Id": "q", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}],
                },
            },
        }
    }
    _deploy(aws.client("cloudformation", local_settings), "PartnerRule", template)
    (rule,) = events.list_rules(EventBusName=SOURCE)["Rules"]
    assert rule["Arn"].endswith(f"rule/{SOURCE}/{rule['Name']}")
    events.put_events(
        Entries=[
            {"EventBusName": SOURCE, "Source": SOURCE, "DetailType": "ORDER_CONFIRMED", "Detail": "{}"},
            {"EventBusName": bus_arn, "Source": "other.source", "DetailType": "X", "Detail": "{}"},
        ]
    )
    url = sqs.get_queue_url(QueueName="partner-events")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert [json.loads(m["Body"])["detail-type"] for m in messages] == ["ORDER_CONFIRMED"]


def test_a_missing_event_source_is_not_found(local_settings: Settings) -> None:
    events = aws.client("events", local_settings)
    for call in (events.describe_event_source, events.describe_partner_event_source):
        with pytest.raises(ClientError) as caught:
            call(Name="aws.partner/buywithprime/none")
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_sqs_event_source_mapping_leaves_the_messages_to_the_local_runner(local_settings: Settings) -> None:
    sqs = aws.client("sqs", local_settings)
    functions = aws.client("lambda", local_settings)
    role = aws.client("iam", local_settings).create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    functions.create_function(
        FunctionName="consumer",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    url = sqs.create_queue(QueueName="mapped")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = functions.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="consumer", BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    assert functions.get_event_source_mapping(UUID=mapping["UUID"])["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="event")
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert message["Body"] == "event"
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # nobody received it before


def _network_and_service_template() -> dict[str, Any]:
    tags = [{"Key": "Name", "Value": "patch-check"}]
    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.8.0.0/16", "Tags": tags}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.8.0.0/24", "AvailabilityZone": "us-east-1a"},
            },
            "Subnet2": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.8.1.0/24", "AvailabilityZone": "us-east-1b"},
            },
            "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "Association": {
                "Type": "AWS::EC2::SubnetRouteTableAssociation",
                "Properties": {"SubnetId": {"Ref": "Subnet"}, "RouteTableId": {"Ref": "Table"}},
            },
            "Gateway": {"Type": "AWS::EC2::InternetGateway"},
            "Attachment": {
                "Type": "AWS::EC2::VPCGatewayAttachment",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Gateway"}},
            },
            "Route": {
                "Type": "AWS::EC2::Route",
                "Properties": {
                    "RouteTableId": {"Ref": "Table"},
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "GatewayId": {"Ref": "Gateway"},
                },
                "DependsOn": ["Attachment"],
            },
            "Eip": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
            "Nat": {
                "Type": "AWS::EC2::NatGateway",
                "Properties": {"SubnetId": {"Ref": "Subnet"}, "AllocationId": {"Fn::GetAtt": ["Eip", "AllocationId"]}},
            },
            "FlowLogGroup": {"Type": "AWS::Logs::LogGroup"},
            "FlowLog": {
                "Type": "AWS::EC2::FlowLog",
                "Properties": {
                    "ResourceId": {"Ref": "Vpc"},
                    "ResourceType": "VPC",
                    "TrafficType": "ALL",
                    "LogDestinationType": "cloud-watch-logs",
                    "LogGroupName": {"Ref": "FlowLogGroup"},
                    "DeliverLogsPermissionArn": "arn:aws:iam::123456789012:role/flow",
                },
            },
            "Group": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "Port": 8080, "Protocol": "HTTP", "TargetType": "ip"},
            },
            "Cluster": {"Type": "AWS::ECS::Cluster"},
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": "patch-check",
                    "RequiresCompatibilities": ["FARGATE"],
                    "NetworkMode": "awsvpc",
                    "Cpu": "256",
                    "Memory": "512",
                    "ContainerDefinitions": [{"Name": "app", "Image": "app:latest"}],
                },
            },
            "Service": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "Cluster": {"Ref": "Cluster"},
                    "TaskDefinition": {"Ref": "Task"},
                    "DesiredCount": 2,
                    "LaunchType": "FARGATE",
                },
            },
        }
    }


def test_deleting_a_stack_deletes_its_network_service_and_target_group(local_settings: Settings) -> None:
    cfn = aws.client("cloudformation", local_settings)
    _deploy(cfn, "Network", _network_and_service_template())
    created = leftovers(local_settings)
    for kind in ("vpcs", "route tables", "internet gateways", "nat gateways", "elastic ips", "flow logs"):
        assert created.get(kind), f"no {kind} created"
    for kind in ("target groups", "clusters", "services", "task definitions"):
        assert created.get(kind), f"no {kind} created"

    cfn.delete_stack(StackName="Network")
    assert "Network" not in [stack["StackName"] for stack in cfn.describe_stacks()["Stacks"]]
    assert leftovers(local_settings) == {}


def test_apply_fails_loudly_when_an_events_or_lambda_internal_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.events.models import EventsBackend

    for owner, attribute in (
        (EventsBackend, "_normalize_event_bus_arn"),
        (LambdaBackend, "create_event_source_mapping"),
    ):
        with monkeypatch.context() as patch:
            patch.setattr(moto_patches, "_applied", [])
            patch.delattr(owner, attribute)
            with pytest.raises(MotoPatchError, match=f"{owner.__name__}.{attribute}.*no longer applies"):
                moto_patches.apply()


def test_apply_refuses_to_hide_a_delete_moto_gained(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ecs.models import Cluster

    monkeypatch.setattr(moto_patches, "_applied", [])
    monkeypatch.setattr(Cluster, "delete", lambda *args: None, raising=False)
    with pytest.raises(MotoPatchError, match=r"now has its own Cluster\.delete; the workshop's patch would hide it"):
        moto_patches.apply()


def test_a_table_created_by_cloudformation_gets_its_time_to_live(local_settings: Settings) -> None:
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        },
    }
    _deploy(aws.client("cloudformation", local_settings), "Ttl", {"Resources": {"Table": table}})
    dynamodb = aws.client("dynamodb", local_settings)
    (name,) = dynamodb.list_tables()["TableNames"]
    assert dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "ttl",
    }
