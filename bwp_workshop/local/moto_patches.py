"""Fills the gaps in moto's CloudFormation that stop the real ``cdk deploy`` from working.

Applied by :mod:`bwp_workshop.local.moto_server` before the server starts. Each fix reaches
into moto internals, so moto is pinned exactly (see ``MOTO_VERSION``) and ``apply`` checks
that every attribute it patches is still there: a moto upgrade that moves one fails here,
loudly, instead of as a hung deploy. ``tests/local/test_moto_patches.py`` checks each fix's
behaviour through a real server.

The gaps (moto 5.2.5):

1. A stack created through a change set (how the cdk CLI deploys) gets no Outputs and no
   Exports, and cannot see other stacks' exports, so ``Fn::ImportValue`` fails. (The fix
   also refuses, as CloudFormation does, an export name another stack exports and the
   removal of an export another stack imports.)
2. Change sets are looked up by name across all stacks, so the CLI's fixed name
   ``cdk-deploy-change-set`` finds another stack's change set; and ``DeleteChangeSet`` of a
   missing change set answers 500 (the CLI retries for minutes) where CloudFormation treats
   it as done. Executed change sets are kept, where CloudFormation removes them.
3. ``DescribeChangeSet`` of a missing change set answers ``ValidationError``; the CLI waits
   for ``ChangeSetNotFound`` (404).
4. Describing a deleted stack evaluates its outputs (and listing its resources, its
   resources) again, which re-creates each resource they refer to: after ``cdk destroy`` an
   exported queue was back.
5. ``AWS::SecretsManager::Secret``, ``AWS::SQS::QueuePolicy`` and
   ``AWS::EC2::SecurityGroupEgress`` are skipped with a warning, so what refers to them breaks.
6. ``AWS::CloudWatch::Alarm`` is skipped with a warning.
7. An SQS event source mapping makes moto receive each new message itself and run the
   function, which needs Docker: the message is hidden for the visibility timeout and
   counted as received. The local target's event runner is the event source instead, so the
   mapping is kept as a record only.
8. EventBridge reads an event bus name or ARN as its last ``/`` segment, so a partner bus
   (``aws.partner/buywithprime/<name>``, created under its full name) is not found by a rule
   (CloudFormation's ``AWS::Events::Rule`` included), ``PutEvents`` or ``DescribeEventBus``.
9. ``DescribeEventSource`` and ``DescribePartnerEventSource`` of a missing source answer 500
   (KeyError) instead of ``ResourceNotFoundException``.
10. Deleting a stack leaves its route tables, routes, NAT gateway (and its network interface),
    Elastic IP, internet gateway attachment and flow log in place, so the VPC cannot be
    deleted (``cdk destroy`` of a VPC stack failed with "has dependencies"); and its ECS
    service, cluster and task definition and its load balancer target group.
11. A DynamoDB table created by CloudFormation ignores ``TimeToLiveSpecification``.
12. ``ReceiveMessage`` checks each message it returns against the queue's retention period
    by computing every queue attribute, three of which scan the whole queue: a receive from
    a queue of n messages costs n scans, so a queue 1,000 events deep drained at about ten
    messages a second. The fix reads the retention period alone.
13. ``SendMessage`` to a standard queue computes every queue attribute (three scan the
    queue) to read one that only FIFO queues have: each message sent to a queue n deep cost
    a scan of n, so EventBridge's delivery into the event queue slowed as the queue filled
    (quadratic). The fix skips that lookup for standard queues (FIFO queues are unchanged).
14. EventBridge compiles the JSONPath expressions of its default input template (eight of
    them) again for every event it delivers to a target (about 8 ms of CPU per event). The
    fix caches compiled expressions by their text (they are immutable).
15. ``DeleteMessage`` rebuilds the queue's message list from the list it read when it
    started, without the lock ``SendMessage`` takes: when two deletes and a send overlap, the
    slower delete writes back the old list, so the new message is lost and the message the
    other delete removed comes back (10,000 messages, 4 consumers: 180 lost, 569 delivered
    twice). The move to a dead-letter queue in ``ReceiveMessage`` has the same shape. The fix
    deletes, receives and dead-letters under the queue's lock (a receive claims each message
    it returns under it, so two receives no longer hand out the same message), finds the
    message without rebuilding the list, and copies a received message shallowly (moto
    deep-copied each one).
16. moto records every model object it creates in a class-level list that is never cleared
    (for its dashboard): each DynamoDB Scan deep-copied every item into it (about 26 MiB per
    scan of 10,000 items) and each received SQS message was copied into it too. The fix turns
    that record off for DynamoDB items and SQS messages (S3's reset needs it for its keys).
17. Every request looked its service up by listing moto's package folder and matching some
    four hundred URL patterns, under one lock that all requests share. The fix remembers the
    answer per host; and each request listed its handler class's methods (``inspect``), which
    the fix lists once per class.
18. Counting a queue's visible, in-flight and delayed messages (``GetQueueAttributes``, and the
    wake-up check of every long poll after each send) read the clock twice per message through
    ``datetime``; the fix reads it once per count.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import uuid
from typing import Any

import jsonpath_ng.ext
import moto
from moto.awslambda import models as lambda_models
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from moto.core import responses as core_responses
from moto.core.common_models import BaseModel, CloudFormationModel
from moto.core.responses import ActionResult, EmptyResult
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item as DynamoItem
from moto.dynamodb.models.table import Table as DynamoTable
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_ip_addresses import ElasticAddress
from moto.ec2.models.flow_logs import FlowLogs
from moto.ec2.models.internet_gateways import InternetGateway
from moto.ec2.models.nat_gateways import NatGateway
from moto.ec2.models.route_tables import Route, RouteTable
from moto.ec2.models.vpn_gateway import VPCGatewayAttachment
from moto.ecs import models as ecs_models
from moto.elbv2 import models as elbv2_models
from moto.events import models as events_models
from moto.moto_server import werkzeug_app
from moto.s3.models import FakeKey
from moto.secretsmanager.models import secretsmanager_backends
from moto.sqs import models as sqs_models
from moto.sqs.models import sqs_backends

from ..errors import MotoPatchError

MOTO_VERSION = "5.2.5"

_applied: list[str] = []


class ChangeSetNotFound(CloudFormationError):
    code = "ChangeSetNotFound"

    def __init__(self, name: str) -> None:
        super().__init__(f"ChangeSet [{name}] does not exist")


def _find_change_set(backend: Any, name_or_arn: str, stack_name: str | None = None) -> Any | None:
    """The change set by ARN, or by name within ``stack_name`` (name or stack id). moto looks
    names up across all stacks, so every stack's ``cdk-deploy-change-set`` collides."""
    if name_or_arn in backend.change_sets:
        return backend.change_sets[name_or_arn]
    for change_set in backend.change_sets.values():
        if change_set.change_set_name == name_or_arn and stack_name in (
            None,
            change_set.stack_name,
            change_set.stack_id,
        ):
            return change_set
    return None


# --- 1. change-set stacks: imports in, outputs and exports out ---------------------------


def _wrap_create_change_set(original: Any) -> Any:
    def create_change_set(self: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
        change_set_id, stack_id = original(self, *args, **kwargs)
        stack = self.stacks[stack_id]
        # Let the stack's resources resolve Fn::ImportValue against the region's exports.
        stack.cross_stack_resources = self.exports
        stack.resource_map.cross_stack_resources = self.exports
        return change_set_id, stack_id

    return create_change_set


def _literal_export_names(template: dict[str, Any]) -> set[str]:
    outputs = template.get("Outputs") or {}
    names = (output.get("Export", {}).get("Name") for output in outputs.values() if isinstance(output, dict))
    return {name for name in names if isinstance(name, str)}


def _importers(backend: Any, export_name: str, but: str) -> list[str]:
    """Names of the stacks (other than ``but``) whose template imports ``export_name``."""
    needle = json.dumps({"Fn::ImportValue": export_name})
    return [
        stack.name
        for stack in backend.stacks.values()
        if stack.stack_id != but and needle in json.dumps(stack.template_dict)
    ]


def _check_exports(backend: Any, stack: Any, change_set: Any) -> list[str]:
    """Refuse, before anything changes, what CloudFormation refuses: exporting a name another
    stack exports, or dropping an export another stack imports. Returns the stack's current
    export names."""
    current = [export.name for export in stack.exports] if stack.template_dict else []
    wanted = _literal_export_names(change_set.template_dict)
    for name in wanted:
        owner = backend.exports.get(name)
        if owner is not None and owner.exporting_stack_id != stack.stack_id:
            raise ValidationError(
                message=f"Export with name {name} is already exported by stack {owner.exporting_stack_id}"
            )
    for name in set(current) - wanted:
        users = _importers(backend, name, but=stack.stack_id)
        if users:
            raise ValidationError(message=f"Cannot delete export {name} as it is in use by {', '.join(users)}")
    return current


def _wrap_execute_change_set(original: Any) -> Any:
    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = _find_change_set(self, change_set_name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(change_set_name)
        stack = self.stacks[change_set.stack_id]
        old_exports = _check_exports(self, stack, change_set)
        original(self, change_set_name=change_set.change_set_id, stack_name=stack_name)
        # moto keeps the template string but not what is derived from it: redo that.
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        for name in old_exports:
            self.exports.pop(name, None)
        self._validate_export_uniqueness(stack)
        for export in stack.exports:
            self.exports[export.name] = export
        # As in CloudFormation, executing a change set removes the stack's change sets.
        for change_set_id in [cid for cid, cs in self.change_sets.items() if cs.stack_id == stack.stack_id]:
            del self.change_sets[change_set_id]

    return execute_change_set


# --- 2 and 3. missing change sets, looked up within their stack --------------------------


def _delete_change_set_response(self: Any) -> Any:
    backend = self.cloudformation_backend
    change_set = _find_change_set(backend, self._get_param("ChangeSetName"), self._get_param("StackName"))
    if change_set is not None:
        del backend.change_sets[change_set.change_set_id]
    return EmptyResult()


def _describe_change_set_response(self: Any) -> Any:
    name = self._get_param("ChangeSetName")
    change_set = _find_change_set(self.cloudformation_backend, name, self._get_param("StackName"))
    if change_set is None:
        raise ChangeSetNotFound(name)
    return ActionResult(change_set)


# --- 4. deleted stacks --------------------------------------------------------------------


def _wrap_delete_stack(original: Any) -> Any:
    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        for stack in list(self.stacks.values()):
            if name_or_stack_id in (stack.name, stack.stack_id) and stack.template_dict:
                for export in stack.exports:  # as in CloudFormation: not while another stack imports
                    users = _importers(self, export.name, but=stack.stack_id)
                    if users:
                        raise ValidationError(
                            message=f"Export {export.name} cannot be deleted as it is in use by {', '.join(users)}"
                        )
        original(self, name_or_stack_id)
        # moto evaluates a stack's outputs and resources lazily, and evaluating one that refers
        # to a deleted resource creates the resource again: describing a deleted stack (as
        # `cdk destroy` does while it waits) brought back every exported resource. A deleted
        # stack keeps neither outputs nor resources to evaluate.
        for stack in self.deleted_stacks.values():
            if stack.output_map.outputs or stack.resource_map._resource_json_map:
                stack.output_map = cfn_parsing.OutputMap(stack.resource_map, {}, stack.stack_id)
                stack.resource_map._resource_json_map = {}

    return delete_stack


# --- 5. resource types moto's CloudFormation skips ----------------------------------------


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
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


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
    def create_from_cloudformation_json(  # type: ignore[override]
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
    def update_from_cloudformation_json(  # type: ignore[override]
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
    def create_from_cloudformation_json(  # type: ignore[override]
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
    def create_from_cloudformation_json(  # type: ignore[override]
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


class CfnAlarm(_PatchModel, CloudFormationModel):
    """``AWS::CloudWatch::Alarm`` on a single metric: a real alarm in moto's CloudWatch; Ref is its name."""

    def __init__(self, name: str) -> None:
        self.physical_id = name
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"Arn"}

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Arn":
            return self.arn
        raise NotImplementedError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
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
        model = cls(name)
        model.arn = alarm.alarm_arn
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])


_RESOURCE_MODELS = (CfnSecret, CfnQueuePolicy, CfnSecurityGroupEgress, CfnAlarm)


# --- 7. SQS event source mappings are records ------------------------------------------------


def _wrap_create_event_source_mapping(original: Any) -> Any:
    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        mapping = original(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == mapping.event_source_arn:
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    return create_event_source_mapping


# --- 6. event bus names with "/" ------------------------------------------------------------


def _event_bus_name(self: Any, event_bus_arn: str | None) -> str:
    """The bus name in a name or ARN, as EventBridge reads it: everything after ``event-bus/``."""
    if not event_bus_arn:
        return "default"
    marker = ":event-bus/"
    return event_bus_arn.split(marker, 1)[1] if marker in event_bus_arn else event_bus_arn


def _wrap_describe_source(original: Any) -> Any:
    def describe(self: Any, name: str) -> Any:
        try:
            return original(self, name)
        except KeyError:
            raise events_models.ResourceNotFoundException(f"Event source {name} does not exist.") from None

    return describe


# --- 10. network resources deleted with their stack -------------------------------------------
# moto's stack deletion calls ``resource.delete(account_id, region_name)`` and retries what
# raises (a dependency still there) in a later pass, so each delete may refuse until its
# dependents are gone, as EC2 does.


def _delete_route_table(self: Any, account_id: str, region_name: str) -> None:
    ec2_backends[account_id][region_name].delete_route_table(self.id)


def _delete_route(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self.route_table.id not in backend.route_tables:
        return  # deleted with its route table
    try:
        backend.delete_route(
            self.route_table.id,
            self.destination_cidr_block,
            destination_ipv6_cidr_block=self.destination_ipv6_cidr_block,
            destination_prefix_list_id=getattr(self.destination_prefix_list, "id", None),
        )
    except EC2ClientError as error:
        if "InvalidRoute.NotFound" not in str(error.code):
            raise


def _delete_nat_gateway(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self.id in backend.nat_gateways:
        backend.delete_nat_gateway(self.id)
    eni = getattr(self, "_eni", None)
    if eni is not None and eni.id in backend.enis:
        for address in list(backend.addresses):
            if address.eni is eni:
                backend.disassociate_address(address=address.public_ip)
        backend.delete_network_interface(eni.id)


def _delete_elastic_address(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self in backend.addresses:
        backend.release_address(address=self.public_ip)


def _delete_internet_gateway(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self.id in backend.internet_gateways:
        backend.delete_internet_gateway(self.id)


def _delete_gateway_attachment(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    gateway = str(self.gateway_id or "")
    if gateway.startswith("igw-") and gateway in backend.internet_gateways:
        if backend.internet_gateways[gateway].vpc is not None:
            backend.detach_internet_gateway(gateway, self.vpc_id)
    elif gateway.startswith("vgw-") and gateway in backend.vpn_gateways:
        backend.detach_vpn_gateway(gateway, self.vpc_id)


def _delete_flow_log(self: Any, account_id: str, region_name: str) -> None:
    backend = ec2_backends[account_id][region_name]
    if self.id in backend.flow_logs:
        backend.delete_flow_logs([self.id])


def _delete_ecs_service(self: Any, account_id: str, region_name: str) -> None:
    backend = ecs_models.ecs_backends[account_id][region_name]
    service = backend.services.get(f"{self.cluster_name}:{self.name}")
    if service is not None and service.status == "ACTIVE":
        backend.delete_service(self.cluster_name, self.name, force=True)


def _delete_ecs_cluster(self: Any, account_id: str, region_name: str) -> None:
    backend = ecs_models.ecs_backends[account_id][region_name]
    if any(service.cluster_name == self.name and service.status == "ACTIVE" for service in backend.services.values()):
        raise ValidationError(message=f"The cluster {self.name} still has services")  # retried after them
    if self.name in backend.clusters:
        backend.delete_cluster(self.arn)


def _delete_task_definition(self: Any, account_id: str, region_name: str) -> None:
    backend = ecs_models.ecs_backends[account_id][region_name]
    if self.status == "ACTIVE":
        backend.deregister_task_definition(self.arn)


def _delete_target_group(self: Any, account_id: str, region_name: str) -> None:
    backend = elbv2_models.elbv2_backends[account_id][region_name]
    if self.arn in backend.target_groups:
        backend.delete_target_group(self.arn)


_NETWORK_DELETES = (
    (RouteTable, _delete_route_table),
    (Route, _delete_route),
    (NatGateway, _delete_nat_gateway),
    (ElasticAddress, _delete_elastic_address),
    (InternetGateway, _delete_internet_gateway),
    (VPCGatewayAttachment, _delete_gateway_attachment),
    (FlowLogs, _delete_flow_log),
    (ecs_models.Service, _delete_ecs_service),
    (ecs_models.Cluster, _delete_ecs_cluster),
    (ecs_models.TaskDefinition, _delete_task_definition),
    (elbv2_models.FakeTargetGroup, _delete_target_group),
)


# --- 11. table time to live ------------------------------------------------------------------


def _wrap_table_create(original: Any) -> Any:
    function = original.__func__

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kw: Any
    ) -> Any:
        table = function(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        spec = cloudformation_json.get("Properties", {}).get("TimeToLiveSpecification")
        if spec:
            dynamodb_backends[account_id][region_name].update_time_to_live(
                table.name,
                {"Enabled": str(spec.get("Enabled")).lower() == "true", "AttributeName": spec["AttributeName"]},
            )
        return table

    return classmethod(create_from_cloudformation_json)


# --- applying -------------------------------------------------------------------------------


def _require(owner: Any, attribute: str) -> None:
    if not hasattr(owner, attribute):
        raise MotoPatchError(
            f"moto {moto.__version__} has no {getattr(owner, '__name__', owner)}.{attribute}; "
            "a local-AWS fix in bwp_workshop.local.moto_patches no longer applies.",
            hint=f"Install the pinned moto[server]=={MOTO_VERSION} (make setup), or re-check the fix for this moto.",
        )


def _check_version() -> None:
    if moto.__version__ != MOTO_VERSION:
        raise MotoPatchError(
            f"The local AWS needs moto {MOTO_VERSION}; moto {moto.__version__} is installed.",
            hint=f"Run `make setup` (or pip install 'moto[server]=={MOTO_VERSION}') in the workshop environment.",
        )


# --- 12. the retention check of ReceiveMessage -------------------------------------------------


def _message_within_retention(self: Any, queue_name: str, message: Any) -> bool:
    """As moto's check, with the retention period read directly instead of through every
    queue attribute (some of which scan the queue)."""
    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return bool(retain_until > sqs_models.unix_time())


# --- 13. SendMessage to a standard queue -------------------------------------------------------


def _wrap_send_message(original: Any) -> Any:
    """moto's ``send_message`` for standard queues without the attribute lookup that only
    matters to FIFO queues (``ContentBasedDeduplication``); FIFO queues go to moto's own."""

    def send_message(
        self: Any,
        queue_name: str,
        message_body: str,
        message_attributes: dict[str, Any] | None = None,
        delay_seconds: int | None = None,
        deduplication_id: str | None = None,
        group_id: str | None = None,
        system_attributes: dict[str, Any] | None = None,
        validate_group_id: bool = True,
    ) -> Any:
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:
            return original(
                self,
                queue_name,
                message_body,
                message_attributes,
                delay_seconds,
                deduplication_id,
                group_id,
                system_attributes,
                validate_group_id,
            )
        self._validate_message(
            queue,
            message_body=message_body,
            delay_seconds=int(delay_seconds or 0),
            deduplication_id=deduplication_id,
            group_id=group_id,
            validate_group_id=validate_group_id,
        )
        delay = int(delay_seconds) if delay_seconds is not None else queue.delay_seconds
        message = sqs_models.Message(str(sqs_models.random.uuid4()), message_body, system_attributes)
        if deduplication_id is not None:
            message.deduplication_id = deduplication_id
            message.sequence_number = "".join(sqs_models.random.choice("0123456789") for _ in range(20))
        if group_id is not None:
            message.group_id = group_id
        if message_attributes:
            message.message_attributes = message_attributes
        if delay > sqs_models.MAXIMUM_MESSAGE_DELAY:
            raise sqs_models.InvalidParameterValue(
                f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            )
        message.mark_sent(delay_seconds=delay)
        queue.add_message(message)
        return message

    return send_message


# --- 15. SQS deletes, receives and dead-letter moves under the queue's lock --------------------


def _delete_message(self: Any, receipt_handle: str) -> None:
    """moto's ``Queue.delete_message`` under the queue's lock (the one ``add_message`` takes),
    removing the one message in place instead of writing back a list read before."""
    with self._messages_lock:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: SQS accepts a second delete
        for index, message in enumerate(self._messages):  # noqa: B007 - used after the loop
            if message.had_receipt_handle(receipt_handle):
                break
        else:
            raise sqs_models.ReceiptHandleIsInvalid()
        del self._messages[index]
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)


def _receive_message(
    self: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    """moto's ``SQSBackend.receive_message`` with each pass over the queue under its lock: a
    message is claimed (marked received) or moved out for the dead-letter queue while no
    delete, send or other receive can interleave. The pass stops once it has ``count``
    messages (moto first listed every visible message), and the returned copies are shallow
    (moto deep-copied each message, body included)."""
    names = message_attribute_names or []
    queue = self.get_queue(queue_name)
    result: list[Any] = []
    polling_end = sqs_models.unix_time() + wait_seconds_timeout
    while True:
        if result or (wait_seconds_timeout and sqs_models.unix_time() > polling_end):
            break
        to_dead_letter: list[Any] = []
        with queue._messages_lock:
            now = sqs_models.unix_time_millis()
            pending_groups = set(queue.pending_message_groups) if queue.fifo_queue else set()
            redrive = queue.redrive_policy if queue.dead_letter_queue is not None else None
            for message in queue._messages:
                if not (now > message.visible_at and now >= message.delayed_until):
                    continue  # in flight or delayed
                if message in queue.pending_messages:
                    # Pending but visible again: its consumer timed out.
                    queue.pending_messages.remove(message)
                    if queue.fifo_queue:
                        pending_groups = set(queue.pending_message_groups)
                if message.group_id and queue.fifo_queue and message.group_id in pending_groups:
                    continue  # another consumer still holds this group
                if redrive and message.approximate_receive_count >= redrive["maxReceiveCount"]:
                    to_dead_letter.append(message)
                    continue
                queue.pending_messages.add(message)
                message.mark_received(visibility_timeout=visibility_timeout)
                if not self.is_message_valid_based_on_retention_period(queue_name, message):
                    break
                answer = copy.copy(message)  # the caller's view; attributes filtered on the copy
                sqs_models._filter_message_attributes(answer, names)
                result.append(answer)
                if len(result) >= count:
                    break
            for message in to_dead_letter:
                queue._messages.remove(message)
        # Outside this queue's lock: adding takes the dead-letter queue's lock.
        for message in to_dead_letter:
            queue.dead_letter_queue.add_message(message)
        if not result:
            if wait_seconds_timeout == 0:
                break
            queue.wait_for_messages(1)
    return result


# --- 16. no instance records for DynamoDB items and SQS messages -------------------------------

_UNTRACKED_MODELS = (DynamoItem, sqs_models.Message)


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``BaseModel.__new__`` without appending the instance to ``cls.instances_tracked``."""
    return object.__new__(cls)


# --- 17. the service of a request, remembered per host -----------------------------------------

_BACKEND_CACHE_SIZE = 1024


def _wrap_backend_for_host(original: Any) -> Any:
    found: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host in found:
            return found[host]
        backend = original(self, host)
        if backend and len(found) < _BACKEND_CACHE_SIZE:  # misses print a hint each time, as before
            found[host] = backend
        return backend

    return get_backend_for_host


def _cached_method_names(original: Any) -> Any:
    names: dict[type, list[str]] = {}

    def method_names_from_class(clazz: type) -> list[str]:
        if clazz not in names:
            names[clazz] = original(clazz)
        return names[clazz]

    return method_names_from_class


# --- 18. queue counts with one clock read ---------------------------------------------------------


def _visible_messages(self: Any) -> list[Any]:
    now = sqs_models.unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and now >= m.delayed_until]


def _not_visible_count(self: Any) -> int:
    now = sqs_models.unix_time_millis()
    return sum(1 for m in self._messages if not now > m.visible_at)


def _delayed_count(self: Any) -> int:
    now = sqs_models.unix_time_millis()
    return sum(1 for m in self._messages if now < m.delayed_until)


def _has_visible(queue: Any) -> bool:
    now = sqs_models.unix_time_millis()
    return any(now > m.visible_at and now >= m.delayed_until for m in queue._messages)


def _wait_for_messages(self: Any, timeout: int) -> None:
    with self._messages_lock:
        self._messages_lock.wait_for(lambda: _has_visible(self), timeout=timeout)


def apply() -> list[str]:
    """Apply every fix once (later calls return the same list). Returns the fixes' names."""
    if _applied:
        return list(_applied)
    _check_version()
    backend = cfn_models.CloudFormationBackend
    for owner, attribute in (
        (backend, "create_change_set"),
        (backend, "execute_change_set"),
        (responses.CloudFormationResponse, "delete_change_set"),
        (responses.CloudFormationResponse, "describe_change_set"),
        (responses.CloudFormationResponse, "cloudformation_backend"),
        (backend, "_validate_export_uniqueness"),
        (backend, "delete_stack"),
        (cfn_parsing, "OutputMap"),
        (cfn_models.Stack, "_parse_template"),
        (cfn_models.Stack, "_create_output_map"),
        (cfn_models.Stack, "exports"),
        (cfn_parsing, "get_model_list"),
        (cfn_parsing, "get_model_map"),
        (cfn_parsing, "get_name_type_map"),
        (events_models.EventsBackend, "_normalize_event_bus_arn"),
        (events_models.EventsBackend, "_get_event_bus"),
        (lambda_models.LambdaBackend, "create_event_source_mapping"),
        (events_models.EventsBackend, "describe_event_source"),
        (events_models.EventsBackend, "describe_partner_event_source"),
        (events_models, "ResourceNotFoundException"),
        (DynamoTable, "create_from_cloudformation_json"),
        (DynamoDBBackend, "update_time_to_live"),
        (CloudWatchBackend, "put_metric_alarm"),
        (CloudWatchBackend, "delete_alarms"),
        (sqs_models.SQSBackend, "is_message_valid_based_on_retention_period"),
        (sqs_models, "unix_time"),
        (sqs_models.SQSBackend, "send_message"),
        (sqs_models.SQSBackend, "_validate_message"),
        (sqs_models, "Message"),
        (sqs_models, "random"),
        (sqs_models, "MAXIMUM_MESSAGE_DELAY"),
        (sqs_models, "InvalidParameterValue"),
        (jsonpath_ng.ext, "parse"),
        (sqs_models.Queue, "delete_message"),
        (sqs_models.Queue, "pending_messages"),
        (sqs_models.Queue, "pending_message_groups"),
        (sqs_models.Queue, "wait_for_messages"),
        (sqs_models.Queue, "messages"),
        (sqs_models.Queue, "approximate_number_of_messages_not_visible"),
        (sqs_models.Queue, "approximate_number_of_messages_delayed"),
        (sqs_models.SQSBackend, "receive_message"),
        (sqs_models, "ReceiptHandleIsInvalid"),
        (sqs_models, "unix_time_millis"),
        (sqs_models, "_filter_message_attributes"),
        (sqs_models.Message, "had_receipt_handle"),
        (sqs_models.Message, "mark_received"),
        (sqs_models.Message, "all_receipt_handles"),
        (BaseModel, "__new__"),
        (DynamoItem, "instances_tracked"),
        (sqs_models.Message, "instances_tracked"),
        (FakeKey, "instances_tracked"),
        (werkzeug_app.DomainDispatcherApplication, "get_backend_for_host"),
        (core_responses, "method_names_from_class"),
    ):
        _require(owner, attribute)
    # What a queue sets on itself (a probe queue, never registered with a backend).
    probe = sqs_models.Queue("bwp-probe", "us-east-1", "123456789012")
    for attribute in ("_messages", "_messages_lock", "deleted_messages", "redrive_policy", "dead_letter_queue"):
        _require(probe, attribute)
    if not isinstance(probe._messages_lock, threading.Condition):
        raise MotoPatchError(
            f"moto {moto.__version__} no longer guards a queue's messages with a Condition.",
            hint="Re-check the SQS lock fix in bwp_workshop.local.moto_patches against this moto.",
        )
    for model in _UNTRACKED_MODELS:
        if model.__new__ is not BaseModel.__new__:
            raise MotoPatchError(
                f"moto {moto.__version__} makes {model.__name__} objects in another way; "
                "the fix that stops recording them no longer applies.",
                hint="Re-check the instance-tracking fix in bwp_workshop.local.moto_patches.",
            )

    # moto builds its type map from CloudFormationModel's direct subclasses once (lru_cache):
    # the classes above exist now, so clear the caches and check they are seen.
    for model, _ in _NETWORK_DELETES:
        if hasattr(model, "delete"):
            raise MotoPatchError(
                f"moto {moto.__version__} now deletes {model.__name__} itself; the workshop's fix would hide it.",
                hint="Drop the workshop's delete for it in bwp_workshop.local.moto_patches.",
            )
    for cached in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
        cached.cache_clear()
    model_map = cfn_parsing.get_model_map()
    for model in _RESOURCE_MODELS:
        registered = model_map.get(model.cloudformation_type())
        if registered is not model:
            raise MotoPatchError(
                f"{model.cloudformation_type()} is handled by {registered!r} in moto {moto.__version__}, "
                "not by the workshop's model.",
                hint="Check whether moto now supports it natively and drop the workshop's model if so.",
            )

    backend.create_change_set = _wrap_create_change_set(backend.create_change_set)
    backend.execute_change_set = _wrap_execute_change_set(backend.execute_change_set)
    backend.delete_stack = _wrap_delete_stack(backend.delete_stack)
    responses.CloudFormationResponse.delete_change_set = _delete_change_set_response
    responses.CloudFormationResponse.describe_change_set = _describe_change_set_response
    events_models.EventsBackend._normalize_event_bus_arn = _event_bus_name
    for model, delete in _NETWORK_DELETES:
        model.delete = delete  # type: ignore[attr-defined]
    DynamoTable.create_from_cloudformation_json = _wrap_table_create(  # type: ignore[method-assign]
        DynamoTable.__dict__["create_from_cloudformation_json"]
    )
    for method in ("describe_event_source", "describe_partner_event_source"):
        setattr(
            events_models.EventsBackend, method, _wrap_describe_source(getattr(events_models.EventsBackend, method))
        )
    lambda_models.LambdaBackend.create_event_source_mapping = _wrap_create_event_source_mapping(
        lambda_models.LambdaBackend.create_event_source_mapping
    )
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = _message_within_retention
    sqs_models.SQSBackend.send_message = _wrap_send_message(sqs_models.SQSBackend.send_message)
    # moto's event template parser imports ``parse`` from jsonpath_ng.ext at each call.
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(jsonpath_ng.ext.parse)
    sqs_models.Queue.delete_message = _delete_message
    sqs_models.SQSBackend.receive_message = _receive_message
    for model in _UNTRACKED_MODELS:
        model.__new__ = _untracked_new  # type: ignore[assignment]
    werkzeug_app.DomainDispatcherApplication.get_backend_for_host = _wrap_backend_for_host(
        werkzeug_app.DomainDispatcherApplication.get_backend_for_host
    )
    core_responses.method_names_from_class = _cached_method_names(core_responses.method_names_from_class)
    sqs_models.Queue.messages = property(_visible_messages)  # type: ignore[assignment]
    sqs_models.Queue.approximate_number_of_messages_not_visible = property(_not_visible_count)  # type: ignore
    sqs_models.Queue.approximate_number_of_messages_delayed = property(_delayed_count)  # type: ignore
    sqs_models.Queue.wait_for_messages = _wait_for_messages
    _applied.extend(
        [
            "change-set stacks get outputs, exports and imports; export clashes and exports in use are refused",
            "deleted stacks keep no outputs or resources (describing them re-created resources); "
            "a stack whose export is in use is not deleted",
            "change sets are looked up within their stack; deleting a missing one succeeds",
            "describing a missing change set answers ChangeSetNotFound",
            *(f"CloudFormation creates {model.cloudformation_type()}" for model in _RESOURCE_MODELS),
            "SQS event source mappings are records (the local event runner consumes the queue)",
            "event bus names and ARNs are read whole, so partner buses (names with '/') are found",
            "describing a missing event source answers ResourceNotFoundException",
            "deleting a stack deletes its route tables, routes, NAT gateway, Elastic IP, internet gateway "
            "attachment, flow log, ECS service, cluster and task definition, and target group",
            "tables created by CloudFormation get their time to live",
            "receiving from a queue reads its retention period alone (not every attribute, per message)",
            "sending to a standard queue computes no queue attribute (each send scanned the queue)",
            "EventBridge compiles each JSONPath of its input template once (not once per event)",
            "SQS deletes, receives and dead-letter moves hold the queue's lock (overlapping deletes "
            "and sends lost messages and brought deleted ones back); a receive copies messages shallowly",
            "DynamoDB items and SQS messages are not recorded in moto's instance lists (every Scan "
            "kept a copy of every item)",
            "the service of a request is remembered per host (each request listed moto's folder), "
            "and a handler class's methods are listed once",
            "queue counts read the clock once per count, not twice per message",
        ]
    )
    return list(_applied)
