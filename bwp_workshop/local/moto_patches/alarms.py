"""What the stacks' alarms need from moto 5.2.5's CloudFormation.

- ``Fn::GetAtt`` of ``LoadBalancerFullName`` (a load balancer) and ``TargetGroupFullName`` (a
  target group): the dimensions of the load balancer metrics the OAuth app's alarms and the
  dashboard watch. moto raises NotImplementedError for the first and has no attributes at all
  for the second, which fails InfraStack's deploy.
- ``AWS::CloudWatch::CompositeAlarm``: moto skips the type with a warning; the model below
  makes a real composite alarm in moto's CloudWatch (``put_metric_alarm`` with a rule, as
  moto's own ``PutCompositeAlarm`` does), so it is listed and its state can be set.
- ``GetMetricStatistics`` matches dimensions exactly, as CloudWatch does: moto also counts the
  data points that carry more dimensions than asked for, so the handler's per-event-type
  counts would be added to the totals an alarm reads.
"""

from __future__ import annotations

import inspect
from typing import Any

from moto.cloudformation import parsing as cfn_parsing
from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup

from .cloudformation_resources import _NamedWithArn, _registered
from .patch import Patch


def _full_name(arn: str, marker: str) -> str:
    """``app/<name>/<id>`` or ``targetgroup/<name>/<id>``: the ARN's resource part, as
    CloudWatch names the metrics' dimension."""
    return arn.split(marker, 1)[1] if marker in arn else arn.rsplit(":", 1)[-1]


def _load_balancer_attribute(original: Any) -> Any:
    def get_cfn_attribute(self: FakeLoadBalancer, attribute_name: str) -> Any:
        if attribute_name == "LoadBalancerFullName":
            return _full_name(self.arn, ":loadbalancer/")
        return original(self, attribute_name)

    return get_cfn_attribute


def _target_group_attribute(self: FakeTargetGroup, attribute_name: str) -> Any:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name == "TargetGroupFullName":
        return "targetgroup/" + _full_name(self.arn, ":targetgroup/")
    if attribute_name == "TargetGroupArn":
        return self.arn
    if attribute_name == "TargetGroupName":
        return self.name
    raise UnformattedGetAttTemplateException()


def _exact_dimensions(original: Any) -> Any:
    signature = inspect.signature(original)

    def get_metric_statistics(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Any:
        found = original(self, *args, **kwargs)
        asked = signature.bind(self, *args, **kwargs).arguments.get("dimensions") or []
        wanted = sorted((d["Name"], d.get("Value")) for d in asked)
        kept = []
        for statistics in found:
            statistics.metric_data = [
                datum
                for datum in statistics.metric_data
                if sorted((d.name, d.value) for d in datum.dimensions) == wanted
            ]
            if statistics.metric_data:
                kept.append(statistics)
        return kept

    return get_metric_statistics


class CfnCompositeAlarm(_NamedWithArn, CloudFormationModel):
    """``AWS::CloudWatch::CompositeAlarm``: a real composite alarm in moto's CloudWatch; Ref is its name."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::CompositeAlarm"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnCompositeAlarm:
        props = cloudformation_json["Properties"]
        name = props.get("AlarmName") or resource_name
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace="",
            metric_name="",
            comparison_operator="",
            evaluation_periods=0,
            period=0,
            threshold=0.0,
            statistic="",
            description=props.get("AlarmDescription", ""),
            dimensions=[],
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
            rule=props["AlarmRule"],
        )
        return cls(name, alarm.alarm_arn)

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])


def _composite_rule_kept() -> None:
    _registered(CfnCompositeAlarm)()
    if "rule" not in inspect.signature(CloudWatchBackend.put_metric_alarm).parameters:
        from .patch import refuse

        raise refuse(
            "CloudWatchBackend.put_metric_alarm takes no rule (composite alarms).",
            hint="Re-check the CompositeAlarm model against moto's PutCompositeAlarm.",
        )


PATCHES = (
    Patch(
        CloudWatchBackend,
        "get_metric_statistics",
        "GetMetricStatistics matches a metric's dimensions exactly, as CloudWatch does",
        guard="tests/local/test_moto_alarm_patches.py::test_metric_statistics_match_dimensions_exactly",
        wrapper=_exact_dimensions,
    ),
    Patch(
        FakeLoadBalancer,
        "get_cfn_attribute",
        "CloudFormation resolves a load balancer's LoadBalancerFullName (its metrics' dimension)",
        guard="tests/local/test_moto_alarm_patches.py::test_the_metric_dimensions_of_a_load_balancer_and_its_target_group_resolve",
        wrapper=_load_balancer_attribute,
    ),
    Patch(
        FakeTargetGroup,
        "get_cfn_attribute",
        "CloudFormation resolves a target group's TargetGroupFullName (its metrics' dimension)",
        guard="tests/local/test_moto_alarm_patches.py::test_the_metric_dimensions_of_a_load_balancer_and_its_target_group_resolve",
        replacement=_target_group_attribute,
        adds=True,
    ),
    Patch(
        cfn_parsing,
        "get_model_map",
        "CloudFormation creates AWS::CloudWatch::CompositeAlarm",
        guard="tests/local/test_moto_alarm_patches.py::test_a_composite_alarm_is_made_and_deleted_by_cloudformation",
        uses=(
            (cfn_parsing, "get_model_list"),
            (cfn_parsing, "get_name_type_map"),
            (CloudWatchBackend, "put_metric_alarm"),
            (CloudWatchBackend, "delete_alarms"),
        ),
        check=_composite_rule_kept,
    ),
)
