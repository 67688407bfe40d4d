"""CloudFormation resource types moto 5.2.5 skips with a warning, so what refers to them breaks.

``AWS::SecretsManager::Secret``, ``AWS::SQS::QueuePolicy``, ``AWS::Events::EventBusPolicy``,
``AWS::EC2::SecurityGroupEgress`` and ``AWS::CloudWatch::Alarm``: each model below makes the
real thing in moto's own service.
moto finds resource models as the direct subclasses of ``CloudFormationModel`` (defining the
class registers it); the patches clear moto's cached type map and check moto now maps each type
to the workshop's model, so a moto that gained its own support is noticed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from moto.cloudformation import parsing as cfn_parsing
from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.events.models import EventsBackend, events_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sqs.models import sqs_backends

from .patch import Patch, refuse


class _PatchModel:
    """Defaults shared by the resource models below. A mixin, not a ``CloudFormationModel``:
    moto registers every direct subclass of that class as a resource type."""

    #: What Ref returns.
    physical_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class _NamedWithArn(_PatchModel):
    """A resource whose Ref is its name and whose ``Arn`` attribute is its ARN."""

    name: str
    arn: str

    def __init__(self, name: str, arn: str) -> None:
        self.physical_id = name
        self.name = name
        self.arn = arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"Arn"}

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Arn":
            return self.arn
        raise NotImplementedError(attribute_name)


class CfnSecret(_PatchModel, CloudFormationModel):
    """``AWS::SecretsManager::Secret``: a real secret in moto's Secrets Manager; Ref is its ARN."""

    def __init__(self, arn: str, name: str) -> None:
        self.physical_id = arn
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"Id"}

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Id":
            return self.physical_id
        raise NotImplementedError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnSecret:
        props = cloudformation_json.get("Properties", {})
        backend = secretsmanager_backends[account_id][region_name]
        secret_string = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if secret_string is None and generate is not None:
            password = backend.get_random_password(
                password_length=int(generate.get("PasswordLength", 32)),
                exclude_characters=generate.get("ExcludeCharacters", ""),
                exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                include_space=bool(generate.get("IncludeSpace", False)),
                require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
            )
            password = json.loads(password)["RandomPassword"] if password.startswith("{") else password
            if "GenerateStringKey" in generate:
                document = json.loads(generate.get("SecretStringTemplate") or "{}")
                document[generate["GenerateStringKey"]] = password
                secret_string = json.dumps(document)
            else:
                secret_string = password
        name = props.get("Name") or resource_name
        backend.create_secret(
            name=name,
            secret_string=secret_string,
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        return cls(backend.secrets[name].arn, name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CfnSecret,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CfnSecret:
        """In place while the name stays (the ARN and a generated value survive), as in
        CloudFormation; a new name replaces the secret."""
        props = cloudformation_json.get("Properties", {})
        if props.get("Name", original_resource.name) != original_resource.name:
            return super().update_from_cloudformation_json(
                original_resource, props["Name"], cloudformation_json, account_id, region_name
            )
        backend = secretsmanager_backends[account_id][region_name]
        secret = backend.secrets[original_resource.name]
        if "Description" in props:
            secret.description = props["Description"]
        if "SecretString" in props:
            backend.put_secret_value(
                secret_id=original_resource.name,
                secret_string=props["SecretString"],
                secret_binary=None,
                client_request_token=str(uuid.uuid4()),
                version_stages=["AWSCURRENT"],
            )
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        secretsmanager_backends[account_id][region_name].delete_secret(
            secret_id=self.physical_id, recovery_window_in_days=None, force_delete_without_recovery=True
        )


class CfnQueuePolicy(_PatchModel, CloudFormationModel):
    """``AWS::SQS::QueuePolicy``: sets the ``Policy`` attribute of each listed queue."""

    def __init__(self, queue_names: list[str], physical_id: str) -> None:
        self.queue_names = queue_names
        self.physical_id = physical_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnQueuePolicy:
        props = cloudformation_json["Properties"]
        backend = sqs_backends[account_id][region_name]
        document = props["PolicyDocument"]
        policy = document if isinstance(document, str) else json.dumps(document)
        names = [str(url).rstrip("/").rsplit("/", 1)[-1] for url in props["Queues"]]
        for name in names:
            backend.set_queue_attributes(name, {"Policy": policy})
        return cls(names, resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = sqs_backends[account_id][region_name]
        for name in self.queue_names:
            if name in backend.queues:
                backend.set_queue_attributes(name, {"Policy": ""})


class CfnSecurityGroupEgress(_PatchModel, CloudFormationModel):
    """``AWS::EC2::SecurityGroupEgress``: an egress rule on an existing security group."""

    def __init__(self, group_id: str, rule: dict[str, Any], physical_id: str) -> None:
        self.group_id = group_id
        self.rule = rule
        self.physical_id = physical_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::SecurityGroupEgress"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnSecurityGroupEgress:
        props = cloudformation_json["Properties"]
        ip_ranges = [
            {key: props[key], "Description": props.get("Description")} for key in ("CidrIp", "CidrIpv6") if key in props
        ]
        destinations = (
            [{"GroupId": props["DestinationSecurityGroupId"]}] if "DestinationSecurityGroupId" in props else []
        )
        prefix_lists = (
            [{"PrefixListId": props["DestinationPrefixListId"]}] if "DestinationPrefixListId" in props else []
        )
        rule = {
            "ip_protocol": str(props["IpProtocol"]),
            "from_port": props.get("FromPort"),
            "to_port": props.get("ToPort"),
            "ip_ranges": ip_ranges,
            "source_groups": destinations,
            "prefix_list_ids": prefix_lists,
        }
        ec2_backends[account_id][region_name].authorize_security_group_egress(group_name_or_id=props["GroupId"], **rule)
        return cls(props["GroupId"], rule, resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = ec2_backends[account_id][region_name]
        if backend.get_security_group_by_name_or_id(self.group_id) is not None:
            backend.revoke_security_group_egress(group_name_or_id=self.group_id, **self.rule)


class CfnAlarm(_NamedWithArn, CloudFormationModel):
    """``AWS::CloudWatch::Alarm`` on a single metric: a real alarm in moto's CloudWatch; Ref is its name."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnAlarm:
        props = cloudformation_json["Properties"]
        name = props.get("AlarmName") or resource_name
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=props.get("Namespace", ""),
            metric_name=props.get("MetricName", ""),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period", 60)),
            threshold=float(props.get("Threshold", 0)),
            statistic=props.get("Statistic", ""),
            description=props.get("AlarmDescription", ""),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in props.get("Dimensions", [])],
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            extended_statistic=props.get("ExtendedStatistic"),
            unit=props.get("Unit"),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(name, alarm.alarm_arn)

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])


class CfnEventBusPolicy(_PatchModel, CloudFormationModel):
    """``AWS::Events::EventBusPolicy`` (one statement): the statement on the bus's policy."""

    def __init__(self, bus: str, statement_id: str) -> None:
        self.bus = bus
        self.statement_id = statement_id
        self.physical_id = statement_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Events::EventBusPolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnEventBusPolicy:
        props = cloudformation_json["Properties"]
        bus = str(props.get("EventBusName") or "default").rsplit("/", 1)[-1]
        statement_id = str(props["StatementId"])
        statement = {**props["Statement"], "Sid": statement_id}
        events_backends[account_id][region_name].put_permission(
            event_bus_name=bus,
            action="",
            principal="",
            statement_id=statement_id,
            condition={},
            policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
        return cls(bus, statement_id)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = events_backends[account_id][region_name]
        if self.bus in backend.event_buses:
            backend.event_buses[self.bus].remove_statement(self.statement_id)


def _registered(model: type[CloudFormationModel]) -> Callable[[], None]:
    def check() -> None:
        # moto caches its type map (lru_cache) from the subclasses it saw at the first deploy.
        for cached in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
            cached.cache_clear()
        registered = cfn_parsing.get_model_map().get(model.cloudformation_type())
        if registered is not model:
            raise refuse(
                f"{model.cloudformation_type()} is handled by {registered!r}, not by the workshop's model.",
                hint="Check whether moto now supports it natively and drop the workshop's model if so.",
            )

    return check


#: moto methods a model calls beyond those every backend has had for years.
_MOTO_CALLS: dict[type, tuple[tuple[Any, str], ...]] = {
    CfnAlarm: ((CloudWatchBackend, "put_metric_alarm"), (CloudWatchBackend, "delete_alarms")),
    CfnEventBusPolicy: ((EventsBackend, "put_permission"),),
}

#: Each model and the test that deploys it.
RESOURCE_MODELS: tuple[tuple[type[CloudFormationModel], str], ...] = (
    (
        CfnSecret,
        "tests/local/test_moto_patches.py::test_secrets_queue_policies_and_egress_rules_are_created_and_deleted",
    ),
    (
        CfnQueuePolicy,
        "tests/local/test_moto_patches.py::test_secrets_queue_policies_and_egress_rules_are_created_and_deleted",
    ),
    (CfnEventBusPolicy, "tests/local/test_moto_patches.py::test_a_bus_of_the_stack_carries_rules_and_a_bus_policy"),
    (
        CfnSecurityGroupEgress,
        "tests/local/test_moto_patches.py::test_secrets_queue_policies_and_egress_rules_are_created_and_deleted",
    ),
    (CfnAlarm, "tests/local/test_moto_fixes_for_stacks.py::test_alarms_are_created_and_deleted_with_their_stack"),
)

PATCHES = tuple(
    Patch(
        cfn_parsing,
        "get_model_map",
        f"CloudFormation creates {model.cloudformation_type()}",
        guard=guard,
        uses=((cfn_parsing, "get_model_list"), (cfn_parsing, "get_name_type_map"), *_MOTO_CALLS.get(model, ())),
        check=_registered(model),
    )
    for model, guard in RESOURCE_MODELS
)
