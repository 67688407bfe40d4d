"""CloudFormation stacks deployed the way the cdk CLI deploys them: through change sets.

moto 5.2.5 gives a stack created through a change set no Outputs and no Exports, and lets it
see no other stack's exports (``Fn::ImportValue`` fails). It looks change sets up by name
across all stacks, so every stack's ``cdk-deploy-change-set`` collides; it answers 500 to
``DeleteChangeSet`` of a missing change set (the CLI retries for minutes) and
``ValidationError`` to ``DescribeChangeSet`` of one (the CLI waits for ``ChangeSetNotFound``);
and it keeps executed change sets. Describing a deleted stack evaluated its outputs and
resources again, which re-created each resource they refer to: after ``cdk destroy`` an
exported queue was back. As CloudFormation does, the patches also refuse an export name
another stack exports, and removing or deleting an export another stack imports.
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation import responses
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.core.responses import ActionResult, EmptyResult

from .patch import Patch


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


# --- change-set stacks: imports in, outputs and exports out


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


# --- change sets looked up within their stack


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


# --- deleted stacks


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


_BACKEND = cfn_models.CloudFormationBackend
_RESPONSE = responses.CloudFormationResponse

PATCHES = (
    Patch(
        _BACKEND,
        "create_change_set",
        "stacks created through a change set resolve Fn::ImportValue against the region's exports",
        guard="tests/local/test_moto_patches.py::test_change_set_stacks_get_outputs_and_exports_and_can_import",
        wrapper=_wrap_create_change_set,
    ),
    Patch(
        _BACKEND,
        "execute_change_set",
        "executing a change set gives the stack its outputs and exports, refuses export clashes and "
        "exports in use, and removes the stack's change sets",
        guard="tests/local/test_moto_patches.py::test_change_set_stacks_get_outputs_and_exports_and_can_import",
        wrapper=_wrap_execute_change_set,
        uses=(
            (_BACKEND, "_validate_export_uniqueness"),
            (cfn_models.Stack, "_parse_template"),
            (cfn_models.Stack, "_create_output_map"),
            (cfn_models.Stack, "exports"),
        ),
    ),
    Patch(
        _RESPONSE,
        "delete_change_set",
        "change sets are deleted within their stack; deleting a missing one succeeds",
        guard="tests/local/test_moto_patches.py::test_a_missing_change_set_is_not_found_and_deleting_it_succeeds",
        replacement=_delete_change_set_response,
        uses=((_RESPONSE, "cloudformation_backend"),),
    ),
    Patch(
        _RESPONSE,
        "describe_change_set",
        "change sets are described within their stack; a missing one answers ChangeSetNotFound",
        guard="tests/local/test_moto_patches.py::test_a_missing_change_set_is_not_found_and_deleting_it_succeeds",
        replacement=_describe_change_set_response,
        uses=((_RESPONSE, "cloudformation_backend"),),
    ),
    Patch(
        _BACKEND,
        "delete_stack",
        "deleted stacks keep no outputs or resources to evaluate (describing them re-created resources); "
        "a stack whose export is in use is not deleted",
        guard="tests/local/test_moto_patches.py::test_describing_a_deleted_stack_does_not_bring_its_resources_back",
        wrapper=_wrap_delete_stack,
        uses=((cfn_parsing, "OutputMap"),),
    ),
)
