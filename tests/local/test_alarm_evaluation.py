"""The local alarm evaluation (what CloudWatch does, for the local AWS): the states a rule and a
metric alarm's data give, and, against the session's local AWS, a dead-letter queue alarm and
a composite going to ALARM when a message waits and back to OK once it is gone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bwp_workshop import aws
from bwp_workshop.local.alarm_evaluation import AlarmEvaluator, metric_state, rule_state
from bwp_workshop.settings import Settings

DLQ_ALARM = {
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "Threshold": 1.0,
    "EvaluationPeriods": 1,
    "TreatMissingData": "notBreaching",
}


@pytest.mark.parametrize(
    ("alarm", "values", "state"),
    [
        (DLQ_ALARM, [1.0], "ALARM"),
        (DLQ_ALARM, [0.0], "OK"),
        (DLQ_ALARM, [None], "OK"),  # missing, not breaching
        ({**DLQ_ALARM, "TreatMissingData": "missing"}, [None], "INSUFFICIENT_DATA"),
        ({**DLQ_ALARM, "TreatMissingData": "breaching"}, [None], "ALARM"),
        ({**DLQ_ALARM, "EvaluationPeriods": 3, "ComparisonOperator": "GreaterThanThreshold"}, [2, 2, 0.5], "OK"),
        ({**DLQ_ALARM, "EvaluationPeriods": 3, "ComparisonOperator": "GreaterThanThreshold"}, [2, 2, 2], "ALARM"),
        ({**DLQ_ALARM, "EvaluationPeriods": 3, "DatapointsToAlarm": 2}, [1, None, 1], "ALARM"),
    ],
)
def test_a_metric_alarms_state_follows_its_threshold_periods_and_missing_data(
    alarm: dict, values: list, state: str
) -> None:
    assert metric_state(alarm, values)[0] == state


def test_a_composite_rule_reads_its_childrens_states() -> None:
    states = {"arn:a": "ALARM", "arn:b": "OK", "c": "INSUFFICIENT_DATA"}
    assert rule_state('(ALARM("arn:a") OR ALARM("arn:b"))', states)
    assert not rule_state('(ALARM("arn:b") OR ALARM(c))', states)
    assert not rule_state('ALARM("arn:a") AND ALARM("arn:b")', states)
    assert rule_state('ALARM("arn:a") AND NOT ALARM("arn:b")', states)
    assert rule_state("INSUFFICIENT_DATA(c) AND (OK(arn:b) OR FALSE)", states)
    assert rule_state('ALARM("arn:missing") OR TRUE', states)


@pytest.mark.parametrize("minute", [60.0, 10.0], ids=["as CloudWatch", "a 10 s minute"])
def test_a_dead_letter_alarm_and_its_composite_go_to_alarm_and_back_to_ok(
    local_settings: Settings, minute: float
) -> None:
    """The alarms made as the stacks make them: by CloudFormation (the composite through the
    workshop's model for moto, moto_patches.alarms). With BWP_LOCAL_ALARM_MINUTE below 60 the
    one-minute period lasts that many seconds."""
    sqs = aws.client("sqs", local_settings)
    cloudwatch = aws.client("cloudwatch", local_settings)
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "dlq-watched"}},
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": "dlq",
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}],
                    "Statistic": "Maximum",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "notBreaching",
                },
            },
            "Unhealthy": {
                "Type": "AWS::CloudWatch::CompositeAlarm",
                "Properties": {
                    "AlarmName": "unhealthy",
                    "AlarmRule": {"Fn::Join": ["", ['(ALARM("', {"Fn::GetAtt": ["Alarm", "Arn"]}, '"))']]},
                },
            },
        }
    }
    aws.client("cloudformation", local_settings).create_stack(StackName="alarms", TemplateBody=json.dumps(template))
    url = sqs.get_queue_url(QueueName="dlq-watched")["QueueUrl"]
    now = datetime.now(UTC)
    evaluator = AlarmEvaluator(cloudwatch, sqs, clock=lambda: now, minute=minute)

    def states() -> dict[str, str]:
        described = cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        return {a["AlarmName"]: a["StateValue"] for a in described["MetricAlarms"] + described["CompositeAlarms"]}

    assert evaluator.evaluate() == {"dlq": "OK", "unhealthy": "OK"}
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    now += timedelta(seconds=minute + 1)  # a new period: the empty sample above is out of it
    assert evaluator.evaluate() == {"dlq": "ALARM", "unhealthy": "ALARM"}
    assert states() == {"dlq": "ALARM", "unhealthy": "ALARM"}
    reason = cloudwatch.describe_alarms(AlarmNames=["dlq"])["MetricAlarms"][0]["StateReason"]
    assert reason.startswith("Local alarm evaluation") and "threshold 1" in reason

    sqs.purge_queue(QueueUrl=url)
    now += timedelta(seconds=minute - 2)
    assert evaluator.evaluate()["dlq"] == "ALARM"  # the period still holds the sample of 1
    now += timedelta(seconds=3)
    assert evaluator.evaluate() == {"dlq": "OK", "unhealthy": "OK"}
    assert states() == {"dlq": "OK", "unhealthy": "OK"}
