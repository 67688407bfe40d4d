"""The alarms, their topic, the composite "pipeline unhealthy", the operations dashboard and the
personal-data policy, in the synthesized templates: each alarm watches the stacks' own
resources with the threshold docs/operations.md gives, and notifies the one topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bwp_workshop import names
from bwp_workshop.stacks import alarms

from .conftest import Synthesized, only, resources

#: EventStack's outputs for operating it (test_all_stacks_and_ecs_templates.py checks every stack's output keys).
EVENT_STACK_ALARM_OUTPUTS = (names.OUT_DLQ_ALARM, names.OUT_PIPELINE_ALARM, names.OUT_DASHBOARD)


def _alarm(synthesized: Synthesized, stack: str, construct: str, name: str) -> dict[str, Any]:
    return only(synthesized, stack, "AWS::CloudWatch::Alarm", f"{construct}{name}")["Properties"]


def _topic_id(synthesized: Synthesized) -> str:
    (topic_id,) = resources(synthesized, names.INFRA_STACK, "AWS::SNS::Topic")
    return topic_id


def _is_topic(action: Any, synthesized: Synthesized) -> bool:
    """A reference to InfraStack's topic (its own Ref there, an import in EventStack)."""
    return action == {"Ref": _topic_id(synthesized)} or "Fn::ImportValue" in action


def _logical_id(synthesized: Synthesized, stack: str, kind: str, prefix: str) -> str:
    (found,) = [k for k in resources(synthesized, stack, kind) if k.startswith(prefix)]
    return found


def _dimension(alarm: dict[str, Any], name: str) -> Any:
    (value,) = [d["Value"] for d in alarm["Dimensions"] if d["Name"] == name]
    return value


# (construct id, metric namespace, metric name, statistic, threshold, periods x seconds, comparison)
PIPELINE = [
    (
        "DeadLetterQueue",
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        1,
        (1, 60),
        "GreaterThanOrEqualToThreshold",
    ),
    ("OldestMessage", "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", 5 * 40, (3, 60), "GreaterThanThreshold"),
    ("HandlerErrors", "AWS/Lambda", "Errors", "Sum", 1, (1, 300), "GreaterThanOrEqualToThreshold"),
    ("HandlerThrottles", "AWS/Lambda", "Throttles", "Sum", 1, (1, 300), "GreaterThanOrEqualToThreshold"),
    (
        "FailedRecords",
        names.METRICS_NAMESPACE,
        names.METRIC_FAILED,
        "Sum",
        10,
        (1, 300),
        "GreaterThanOrEqualToThreshold",
    ),
    ("DataTableThrottles", "AWS/DynamoDB", "WriteThrottleEvents", "Sum", 1, (1, 300), "GreaterThanOrEqualToThreshold"),
    ("TokenTableThrottles", "AWS/DynamoDB", "ReadThrottleEvents", "Sum", 1, (1, 300), "GreaterThanOrEqualToThreshold"),
]
APP = [
    (
        "LoadBalancer5xx",
        "AWS/ApplicationELB",
        "HTTPCode_ELB_5XX_Count",
        "Sum",
        5,
        (1, 300),
        "GreaterThanOrEqualToThreshold",
    ),
    ("App5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", 5, (1, 300), "GreaterThanOrEqualToThreshold"),
    (
        "UnhealthyTasks",
        "AWS/ApplicationELB",
        "UnHealthyHostCount",
        "Maximum",
        1,
        (2, 60),
        "GreaterThanOrEqualToThreshold",
    ),
]


@pytest.mark.parametrize(
    ("stack", "construct", "spec"),
    [(names.EVENT_STACK, "Alarms", spec) for spec in PIPELINE]
    + [(names.INFRA_STACK, "AppAlarms", spec) for spec in APP],
    ids=[spec[0] for spec in PIPELINE + APP],
)
def test_each_alarm_watches_its_metric_with_its_threshold_and_notifies_the_topic(
    synthesized: Synthesized, stack: str, construct: str, spec: tuple
) -> None:
    name, namespace, metric, statistic, threshold, (periods, seconds), comparison = spec
    alarm = _alarm(synthesized, stack, construct, name)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (namespace, metric, statistic)
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["Period"]) == (threshold, periods, seconds)
    assert alarm["ComparisonOperator"] == comparison
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmDescription"]
    for actions in (alarm["AlarmActions"], alarm["OKActions"]):
        assert len(actions) == 1 and _is_topic(actions[0], synthesized)


def test_the_alarms_watch_the_stacks_own_resources(synthesized: Synthesized) -> None:
    event = names.EVENT_STACK
    queues = resources(synthesized, event, "AWS::SQS::Queue")
    dlq = next(k for k in queues if k.startswith("DeadLetterQueue"))
    queue = next(k for k in queues if k != dlq)
    function = _logical_id(synthesized, event, "AWS::Lambda::Function", "Handler")
    table = _logical_id(synthesized, event, "AWS::DynamoDB::Table", "DataTable")
    assert _dimension(_alarm(synthesized, event, "Alarms", "DeadLetterQueue"), "QueueName") == {
        "Fn::GetAtt": [dlq, "QueueName"]
    }
    assert _dimension(_alarm(synthesized, event, "Alarms", "OldestMessage"), "QueueName") == {
        "Fn::GetAtt": [queue, "QueueName"]
    }
    assert _dimension(_alarm(synthesized, event, "Alarms", "HandlerErrors"), "FunctionName") == {"Ref": function}
    assert _dimension(_alarm(synthesized, event, "Alarms", "DataTableThrottles"), "TableName") == {"Ref": table}
    assert "Fn::ImportValue" in _dimension(_alarm(synthesized, event, "Alarms", "TokenTableThrottles"), "TableName")
    assert _dimension(_alarm(synthesized, event, "Alarms", "FailedRecords"), "service") == names.EVENT_HANDLER_SERVICE
    infra = names.INFRA_STACK
    balancer = _logical_id(synthesized, infra, "AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancer")
    group = _logical_id(synthesized, infra, "AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroup")
    assert _dimension(_alarm(synthesized, infra, "AppAlarms", "App5xx"), "LoadBalancer") == {
        "Fn::GetAtt": [balancer, "LoadBalancerFullName"]
    }
    assert _dimension(_alarm(synthesized, infra, "AppAlarms", "UnhealthyTasks"), "TargetGroup") == {
        "Fn::GetAtt": [group, "TargetGroupFullName"]
    }


def test_the_composite_is_any_pipeline_alarm_and_notifies_the_topic(synthesized: Synthesized) -> None:
    composite = only(synthesized, names.EVENT_STACK, "AWS::CloudWatch::CompositeAlarm")["Properties"]
    rule = json.dumps(composite["AlarmRule"])
    children = [k for k in resources(synthesized, names.EVENT_STACK, "AWS::CloudWatch::Alarm")]
    assert len(children) == len(PIPELINE)
    for child in children:
        assert f'"Fn::GetAtt": ["{child}", "Arn"]' in rule
    assert rule.count("ALARM(") == len(PIPELINE) and " OR " in rule and " AND " not in rule
    assert _is_topic(composite["AlarmActions"][0], synthesized) and _is_topic(composite["OKActions"][0], synthesized)
    outputs = synthesized.raw[names.EVENT_STACK]["Outputs"]
    assert outputs[names.OUT_PIPELINE_ALARM]["Value"] == {
        "Ref": _logical_id(synthesized, names.EVENT_STACK, "AWS::CloudWatch::CompositeAlarm", "Alarms")
    }
    assert outputs[names.OUT_DLQ_ALARM]["Value"] == {
        "Ref": _logical_id(synthesized, names.EVENT_STACK, "AWS::CloudWatch::Alarm", "AlarmsDeadLetterQueue")
    }


def test_one_topic_refuses_requests_without_tls_and_has_no_subscription_by_default(
    synthesized: Synthesized,
) -> None:
    topic = _topic_id(synthesized)
    (policy,) = resources(synthesized, names.INFRA_STACK, "AWS::SNS::TopicPolicy").values()
    deny, allow = sorted(policy["Properties"]["PolicyDocument"]["Statement"], key=lambda s: s["Effect"] != "Deny")
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Only this account's CloudWatch alarms may publish (the policy replaces SNS's default one).
    assert (allow["Effect"], allow["Principal"], allow["Action"]) == (
        "Allow",
        {"Service": "cloudwatch.amazonaws.com"},
        "sns:Publish",
    )
    assert allow["Resource"] == {"Ref": topic} and "aws:SourceAccount" in allow["Condition"]["StringEquals"]
    assert policy["Properties"]["Topics"] == [{"Ref": topic}]
    assert not resources(synthesized, names.INFRA_STACK, "AWS::SNS::Subscription")
    assert not resources(synthesized, names.EVENT_STACK, "AWS::SNS::Topic")
    assert synthesized.raw[names.INFRA_STACK]["Outputs"][names.OUT_ALARM_TOPIC_ARN]["Value"] == {"Ref": topic}


def test_an_alarm_email_subscribes_to_the_topic() -> None:
    """The construct on its own (a whole synth per setting would cost a minute)."""
    import aws_cdk as cdk
    from aws_cdk import assertions

    stack = cdk.Stack(cdk.App(), "T")
    alarms.AlarmTopic(stack, "Topic", email="ops@example.com")
    assertions.Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_the_dashboard_is_built_from_the_stacks_resources(synthesized: Synthesized) -> None:
    dashboard = only(synthesized, names.EVENT_STACK, "AWS::CloudWatch::Dashboard")["Properties"]
    body = json.dumps(dashboard["DashboardBody"])
    function = _logical_id(synthesized, names.EVENT_STACK, "AWS::Lambda::Function", "Handler")
    for piece in (
        f'{{"Ref": "{function}"}}',  # duration, errors, throttles of the handler
        "ApproximateAgeOfOldestMessage",
        "ApproximateNumberOfMessagesVisible",
        f'MetricName=\\\\\\"{names.METRIC_STORED}\\\\\\"',  # per event type, by SEARCH
        names.METRIC_FAILED,
        names.METRIC_DEAD_LETTERED,
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "LoadBalancerFullName",  # the app's load balancer, imported from InfraStack
        "alarm",  # the alarms' states
    ):
        assert piece in body, piece
    assert "bwp-oauth" not in body  # no name typed in: the load balancer by reference
    outputs = synthesized.raw[names.EVENT_STACK]["Outputs"]
    assert outputs[names.OUT_DASHBOARD]["Value"] == {
        "Ref": _logical_id(synthesized, names.EVENT_STACK, "AWS::CloudWatch::Dashboard", "Operations")
    }


@pytest.mark.parametrize(("stack", "prefix"), [(names.EVENT_STACK, "HandlerLogs"), (names.ECS_STACK, "AppLogs")])
def test_log_groups_that_see_customers_mask_names_and_emails(synthesized: Synthesized, stack: str, prefix: str) -> None:
    group = only(synthesized, stack, "AWS::Logs::LogGroup", prefix)["Properties"]
    policy = group["DataProtectionPolicy"]

    def names_in(statement: dict[str, Any]) -> set[str]:
        return {str(identifier["Fn::Join"][1][-1]).rsplit("/", 1)[-1] for identifier in statement["DataIdentifier"]}

    by_operation = {next(iter(statement["Operation"])): names_in(statement) for statement in policy["Statement"]}
    assert by_operation == {"Audit": {"Name", "EmailAddress"}, "Deidentify": {"Name", "EmailAddress"}}
