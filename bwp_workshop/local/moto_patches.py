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
6. EventBridge addresses a bus given by name or ARN by the last ``/`` segment of it (rules,
   targets, PutEvents), while a partner bus (``aws.partner/buywithprime/<name>``) is filed
   under its full name: nothing can be routed from a partner bus. The fix addresses a bus
   by its full name, as EventBridge does.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import moto
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.core.common_models import CloudFormationModel
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import ec2_backends
from moto.events import models as events_models
from moto.secretsmanager.models import secretsmanager_backends
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


_RESOURCE_MODELS = (CfnSecret, CfnQueuePolicy, CfnSecurityGroupEgress)


# --- 6. partner event buses ------------------------------------------------------------------


def _normalize_event_bus_arn(self: Any, event_bus_arn: str | None) -> str:
    """The bus name from a name or an ARN, slashes and all (``default`` when none)."""
    if event_bus_arn is None:
        return "default"
    if event_bus_arn.startswith("arn:") and ":event-bus/" in event_bus_arn:
        return event_bus_arn.split(":event-bus/", 1)[1]
    return event_bus_arn


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
    ):
        _require(owner, attribute)

    # moto builds its type map from CloudFormationModel's direct subclasses once (lru_cache):
    # the classes above exist now, so clear the caches and check they are seen.
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
    events_models.EventsBackend._normalize_event_bus_arn = _normalize_event_bus_arn
    _applied.extend(
        [
            "change-set stacks get outputs, exports and imports; export clashes and exports in use are refused",
            "deleted stacks keep no outputs or resources (describing them re-created resources); "
            "a stack whose export is in use is not deleted",
            "change sets are looked up within their stack; deleting a missing one succeeds",
            "describing a missing change set answers ChangeSetNotFound",
            *(f"CloudFormation creates {model.cloudformation_type()}" for model in _RESOURCE_MODELS),
            "event buses are addressed by their full name, so partner buses route events",
        ]
    )
    return list(_applied)
