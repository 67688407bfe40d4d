"""The moto patches the stacks' alarms need (bwp_workshop.local.moto_patches.alarms), through the
session's patched moto server: the load balancer and target group full names their metrics
are named by (CloudFormation's GetAtt), and a composite alarm made by CloudFormation."""

from __future__ import annotations

import json

from bwp_workshop import aws
from bwp_workshop.settings import Settings


def test_the_metric_dimensions_of_a_load_balancer_and_its_target_group_resolve(local_settings: Settings) -> None:
    subnet = {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}}}
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.7.0.0/16"}},
            "A": {
                **subnet,
                "Properties": {**subnet["Properties"], "CidrBlock": "10.7.1.0/24", "AvailabilityZone": "us-east-1a"},
            },
            "B": {
                **subnet,
                "Properties": {**subnet["Properties"], "CidrBlock": "10.7.2.0/24", "AvailabilityZone": "us-east-1b"},
            },
            "Balancer": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Name": "watched", "Subnets": [{"Ref": "A"}, {"Ref": "B"}]},
            },
            "Group": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {"Name": "watched-tasks", "Port": 8080, "Protocol": "HTTP", "VpcId": {"Ref": "Vpc"}},
            },
        },
        "Outputs": {
            "Balancer": {"Value": {"Fn::GetAtt": ["Balancer", "LoadBalancerFullName"]}},
            "Group": {"Value": {"Fn::GetAtt": ["Group", "TargetGroupFullName"]}},
            "GroupName": {"Value": {"Fn::GetAtt": ["Group", "TargetGroupName"]}},
        },
    }
    cfn = aws.client("cloudformation", local_settings)
    cfn.create_stack(StackName="balanced", TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName="balanced")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    elbv2 = aws.client("elbv2", local_settings)
    balancer_arn = elbv2.describe_load_balancers(Names=["watched"])["LoadBalancers"][0]["LoadBalancerArn"]
    group_arn = elbv2.describe_target_groups(Names=["watched-tasks"])["TargetGroups"][0]["TargetGroupArn"]
    assert outputs["Balancer"] == balancer_arn.split(":loadbalancer/")[1] and outputs["Balancer"].startswith(
        "app/watched/"
    )
    assert outputs["Group"] == group_arn.rsplit(":", 1)[1] and outputs["Group"].startswith("targetgroup/watched-tasks/")
    assert outputs["GroupName"] == "watched-tasks"


def test_a_composite_alarm_is_made_and_deleted_by_cloudformation(local_settings: Settings) -> None:
    template = {
        "Resources": {
            "Unhealthy": {
                "Type": "AWS::CloudWatch::CompositeAlarm",
                "Properties": {"AlarmName": "unhealthy", "AlarmRule": "FALSE", "AlarmDescription": "d"},
            }
        },
        "Outputs": {"Name": {"Value": {"Ref": "Unhealthy"}}},
    }
    cfn = aws.client("cloudformation", local_settings)
    cloudwatch = aws.client("cloudwatch", local_settings)
    cfn.create_stack(StackName="composite", TemplateBody=json.dumps(template))
    (composite,) = cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert (composite["AlarmName"], composite["AlarmRule"], composite["AlarmDescription"]) == (
        "unhealthy",
        "FALSE",
        "d",
    )
    assert cfn.describe_stacks(StackName="composite")["Stacks"][0]["Outputs"][0]["OutputValue"] == "unhealthy"
    cfn.delete_stack(StackName="composite")
    assert not cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]


def test_metric_statistics_match_dimensions_exactly(local_settings: Settings) -> None:
    from datetime import UTC, datetime, timedelta

    cloudwatch = aws.client("cloudwatch", local_settings)
    now = datetime.now(UTC)
    total = [{"Name": "service", "Value": "s"}]
    cloudwatch.put_metric_data(
        Namespace="N",
        MetricData=[
            {"MetricName": "M", "Dimensions": total, "Value": 2, "Timestamp": now},
            {
                "MetricName": "M",
                "Dimensions": [*total, {"Name": "event_type", "Value": "T"}],
                "Value": 2,
                "Timestamp": now,
            },
        ],
    )

    def sums(dimensions: list[dict[str, str]]) -> list[float]:
        answer = cloudwatch.get_metric_statistics(
            Namespace="N",
            MetricName="M",
            Dimensions=dimensions,
            StartTime=now - timedelta(minutes=1),
            EndTime=now + timedelta(minutes=1),
            Period=120,
            Statistics=["Sum"],
        )
        return [point["Sum"] for point in answer["Datapoints"]]

    assert sums(total) == [2.0]  # not 4: the per-type data point has another dimension set
    assert sums([*total, {"Name": "event_type", "Value": "T"}]) == [2.0]
    assert sums([]) == []  # no data point has no dimension
