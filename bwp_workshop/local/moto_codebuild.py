"""CodeBuild on the local AWS: the CloudFormation model moto lacks, and builds that keep what
they were started with.

moto 5.2.5 keeps CodeBuild projects and builds as records (nothing is built), but its
CloudFormation has no ``AWS::CodeBuild::Project``: ``cdk deploy`` of InfraStack skipped the
image build project with a warning. Two fixes, applied by
:mod:`bwp_workshop.local.moto_server` next to :func:`bwp_workshop.local.moto_patches.apply`:

1. ``AWS::CodeBuild::Project``: a project in moto's CodeBuild (Ref is its name, ``Arn`` its
   ARN); deleting the stack deletes it.
2. ``StartBuild`` records the build's environment (the project's variables with the
   ``environmentVariablesOverride`` applied), its source and its log group and stream, where
   moto kept placeholders: a build shows the tag it was started with and names its log.

:func:`apply` checks that every moto attribute the fixes rely on exists, so a moto upgrade that
moves one fails loudly here.
"""

from __future__ import annotations

import copy
from typing import Any

import moto
from moto.cloudformation import parsing as cfn_parsing
from moto.codebuild import models as codebuild_models
from moto.codebuild import responses as codebuild_responses
from moto.core.common_models import CloudFormationModel

from ..errors import MotoPatchError

_applied: list[str] = []


class CfnCodeBuildProject(CloudFormationModel):
    """``AWS::CodeBuild::Project``: a project in moto's CodeBuild."""

    def __init__(self, name: str, arn: str) -> None:
        self.name = name
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeBuild::Project"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in {"Arn"}

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Arn":
            return self.arn
        raise NotImplementedError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnCodeBuildProject:
        props = cloudformation_json["Properties"]
        name = props.get("Name") or resource_name
        backend = codebuild_models.codebuild_backends[account_id][region_name]
        environment = props["Environment"]
        metadata = backend.create_project(
            project_name=name,
            description=props.get("Description"),
            project_source=_camel(props["Source"]),
            artifacts=_camel(props.get("Artifacts", {"Type": "NO_ARTIFACTS"})),
            environment={
                **_camel({k: v for k, v in environment.items() if k != "EnvironmentVariables"}),
                "environmentVariables": [
                    {"name": v["Name"], "value": str(v["Value"]), "type": v.get("Type", "PLAINTEXT")}
                    for v in environment.get("EnvironmentVariables", [])
                ],
            },
            service_role=props["ServiceRole"],
            tags=[{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])],
            cache=_camel(props["Cache"]) if "Cache" in props else None,
            timeout=props.get("TimeoutInMinutes"),
            queued_timeout=props.get("QueuedTimeoutInMinutes"),
            source_version=props.get("SourceVersion"),
            logs_config=_camel(props["LogsConfig"]) if "LogsConfig" in props else None,
            vpc_config=_camel(props["VpcConfig"]) if "VpcConfig" in props else None,
        )
        return cls(name, metadata["arn"])

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CfnCodeBuildProject,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CfnCodeBuildProject:
        """Replaced: the new sources (and their tag) are a new project record under the same name."""
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        codebuild_models.codebuild_backends[account_id][region_name].delete_project(self.name)


#: Property names whose API name is not the camel case of the CloudFormation name.
_API_NAMES = {"BuildSpec": "buildspec"}


def _camel(value: Any) -> Any:
    """CloudFormation's property names (``PrivilegedMode``) as the API's (``privilegedMode``)."""
    if isinstance(value, dict):
        return {_API_NAMES.get(key, key[:1].lower() + key[1:]): _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _wrap_start_build(original: Any) -> Any:
    def start_build(self: Any) -> Any:
        result = original(self)
        backend = self.codebuild_backend
        name = self._get_param("projectName")
        project = backend.codebuild_projects[name].project_metadata
        build = backend.build_metadata[name].build_metadata  # the dict the response serializes
        environment = copy.deepcopy(project["environment"])
        variables = {v["name"]: v for v in environment.get("environmentVariables", [])}
        for override in self._get_param("environmentVariablesOverride") or []:
            variables[override["name"]] = {"type": "PLAINTEXT", **override}
        environment["environmentVariables"] = list(variables.values())
        build["environment"] = environment
        build["source"] = copy.deepcopy(project["source"])
        group = project.get("logsConfig", {}).get("cloudWatchLogs", {}).get("groupName") or f"/aws/codebuild/{name}"
        stream = build["id"].split(":", 1)[1]
        region, account = self.region, self.current_account
        build["logs"] = {
            "groupName": group,
            "streamName": stream,
            "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:"
            f"group={group};stream={stream}",
            "cloudWatchLogsArn": f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}",
            "cloudWatchLogs": {"status": "ENABLED", "groupName": group},
        }
        return result

    return start_build


def _require(owner: Any, attribute: str) -> None:
    if not hasattr(owner, attribute):
        raise MotoPatchError(
            f"moto {moto.__version__} has no {getattr(owner, '__name__', owner)}.{attribute}; "
            "the local AWS's CodeBuild fix in bwp_workshop.local.moto_codebuild no longer applies.",
            hint="Install the pinned moto[server] (make setup), or re-check the CodeBuild fix for this moto.",
        )


def apply() -> list[str]:
    """Apply both fixes once (later calls return the same list). Returns the fixes' names."""
    if _applied:
        return list(_applied)
    backend_class = codebuild_models.CodeBuildBackend
    for owner, attribute in (
        (codebuild_models, "codebuild_backends"),
        (backend_class, "create_project"),
        (backend_class, "delete_project"),
        (backend_class, "start_build"),
        (codebuild_responses.CodeBuildResponse, "start_build"),
        (codebuild_responses.CodeBuildResponse, "codebuild_backend"),
        (cfn_parsing, "get_model_list"),
        (cfn_parsing, "get_model_map"),
        (cfn_parsing, "get_name_type_map"),
    ):
        _require(owner, attribute)
    # What a backend and a build keep (a probe backend, never registered).
    probe = backend_class("us-east-1", "123456789012")
    for attribute in ("codebuild_projects", "build_metadata", "build_metadata_history"):
        _require(probe, attribute)
    metadata = codebuild_models.CodeBuildProjectMetadata(
        "123456789012", "us-east-1", "probe", None, None, "probe:1", "role"
    ).build_metadata
    for key in ("id", "environment", "source", "logs"):
        if key not in metadata:
            raise MotoPatchError(
                f"moto {moto.__version__}'s CodeBuild builds have no {key!r}.",
                hint="Re-check the StartBuild fix in bwp_workshop.local.moto_codebuild against this moto.",
            )
    # moto builds its type map from CloudFormationModel's direct subclasses once (lru_cache).
    for cached in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
        cached.cache_clear()
    registered = cfn_parsing.get_model_map().get(CfnCodeBuildProject.cloudformation_type())
    if registered is not CfnCodeBuildProject:
        raise MotoPatchError(
            f"AWS::CodeBuild::Project is handled by {registered!r} in moto {moto.__version__}, "
            "not by the workshop's model.",
            hint="Check whether moto now supports it natively and drop bwp_workshop.local.moto_codebuild's model.",
        )
    response = codebuild_responses.CodeBuildResponse
    response.start_build = _wrap_start_build(response.start_build)
    _applied.extend(
        [
            "CloudFormation creates AWS::CodeBuild::Project",
            "CodeBuild builds record their environment overrides, source and log group and stream",
        ]
    )
    return list(_applied)
