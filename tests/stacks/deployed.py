"""What a deployable gets from its synthesized stack, with the references resolved as
CloudFormation and ECS would: the container's environment and secrets, the Lambda's
environment; and what each deployable reads."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bwp_workshop import aws


class Unresolved(KeyError):
    """A reference the test did not say how to resolve (a new one in the template)."""


@dataclass
class Resolver:
    """Resolves the intrinsic functions of values in the synthesized templates.

    ``physical``: a logical id prefix (the CDK appends a hash) -> the physical id a ``Ref``
    gives; ``attributes``: (logical id prefix, attribute) -> what ``Fn::GetAtt`` gives.
    ``Fn::ImportValue`` follows the exporting stack's output."""

    templates: Mapping[str, dict[str, Any]]
    region: str
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    account: str = aws.LOCAL_ACCOUNT_ID

    def _lookup(self, table: Mapping[Any, str], stack: str, logical: str, key: Any) -> str:
        if logical not in self.templates[stack].get("Resources", {}):
            raise Unresolved(f"{stack}: no resource {logical}")
        for candidate, value in table.items():
            prefix = candidate[0] if isinstance(candidate, tuple) else candidate
            if logical.startswith(prefix) and (not isinstance(candidate, tuple) or candidate[1] == key):
                return value
        raise Unresolved(f"{stack}: {logical} {key or 'Ref'}")

    def _export(self, name: str) -> str:
        for stack, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                if self.resolve(output.get("Export", {}).get("Name", ""), stack) == name:
                    return str(self.resolve(output["Value"], stack))
        raise Unresolved(f"no stack exports {name}")

    def resolve(self, value: Any, stack: str) -> Any:
        if isinstance(value, list):
            return [self.resolve(item, stack) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item, stack) for key, item in value.items()}
        ((function, argument),) = value.items()
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
        }
        if function == "Ref":
            return pseudo[argument] if argument in pseudo else self._lookup(self.physical, stack, argument, None)
        if function == "Fn::GetAtt":
            logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self._lookup(self.attributes, stack, logical, attribute)
        if function == "Fn::ImportValue":
            return self._export(self.resolve(argument, stack))
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.resolve(items, stack))
        if function == "Fn::Select":
            index, items = argument
            return self.resolve(items, stack)[int(self.resolve(index, stack))]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text, stack)).split(separator)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return str(self.resolve(variables[name], stack))
                return str(self.resolve({"Ref": name} if "." not in name else {"Fn::GetAtt": name}, stack))

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        return {function: self.resolve(argument, stack)}


def container(template: dict[str, Any]) -> dict[str, Any]:
    (task,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    (definition,) = task["Properties"]["ContainerDefinitions"]
    return definition


def lambda_function(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    return function["Properties"]


def ecs_secret_value(value_from: str, settings: Any) -> str:
    """What the ECS agent injects for ``valueFrom``
    (``arn:aws:secretsmanager:region:account:secret:name:json-key:version-stage:version-id``)."""
    parts = value_from.split(":")
    secret_id, json_key = ":".join(parts[:7]), (parts[7] if len(parts) > 7 else "")
    stage = parts[8] if len(parts) > 8 and parts[8] else "AWSCURRENT"
    answer = aws.client("secretsmanager", settings).get_secret_value(SecretId=secret_id, VersionStage=stage)
    text = answer["SecretString"]
    return str(json.loads(text)[json_key]) if json_key else text


def task_environment(template: dict[str, Any], resolver: Resolver, stack: str, settings: Any) -> dict[str, str]:
    """The container's environment as ECS sets it: the task definition's variables, resolved,
    and its secrets read from Secrets Manager."""
    definition = container(template)
    env = {item["Name"]: str(resolver.resolve(item["Value"], stack)) for item in definition.get("Environment", [])}
    for item in definition.get("Secrets", []):
        env[item["Name"]] = ecs_secret_value(str(resolver.resolve(item["ValueFrom"], stack)), settings)
    return env


def platform_environment(settings: Any) -> dict[str, str]:
    """What the platform (not the stack) gives every task and function, pointed at the local
    AWS: region and credentials (on AWS the role's, here the local AWS's)."""
    env = aws.subprocess_environment(settings, base={})
    return {name: value for name, value in env.items() if name.startswith("AWS_")}


def config_reads(model: Any) -> tuple[set[str], set[str]]:
    """(required, optional) environment variable names a pydantic-settings class reads."""
    from pydantic import AliasChoices

    required, optional = set(), set()
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            variables = {str(choice) for choice in alias.choices}
        elif isinstance(alias, str):
            variables = {alias}
        else:
            variables = {name.upper()}  # case-insensitive match on the field name
        (required if info.is_required() else optional).update(variables)
    return required, optional


#: Runs in the Lambda's Python: records every environment variable looked up by name (not the
#: ones only iterated over) while the handler is imported and handles the event on stdin, and
#: the variables its configuration reads; its AWS calls go to ``call_log`` (tests/stacks/call_log).
RECORDING_SCRIPT = """
import json, os, sys, types
sys.path.insert(0, {folder!r})

class Recording(type(os.environ)):
    reads = set()
    iterating = 0

    def __iter__(self):
        Recording.iterating += 1
        try:
            yield from super().__iter__()
        finally:
            Recording.iterating -= 1

    def __getitem__(self, key):
        if not Recording.iterating:
            Recording.reads.add(key)
        return super().__getitem__(key)

os.environ.__class__ = Recording
sys.path.append({call_log_dir!r})
import call_log
call_log.install({call_log!r})
import handler
# The context object Lambda passes (the fields powertools' Logger and Metrics read).
context = types.SimpleNamespace(
    function_name="f", memory_limit_in_mb=512, aws_request_id="r", function_version="$LATEST",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
)
response = handler.handler(json.loads(sys.stdin.read()), context)

class Keys(dict):
    seen = set()

    def get(self, key, default=None):
        Keys.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        Keys.seen.add(key)
        return super().__getitem__(key)

handler.Config.from_environment(Keys(os.environ))
print(json.dumps({{"response": response, "reads": sorted(Recording.reads), "config": sorted(Keys.seen)}}))
"""


def without(env: Mapping[str, str], prefix: str = "AWS_") -> set[str]:
    return {name for name in env if not name.startswith(prefix)}
