"""CodeBuild: moto 5.2.5 keeps projects and builds as records (nothing is built), but its
CloudFormation has no ``AWS::CodeBuild::Project``, so ``cdk deploy`` of InfraStack skipped the
image build project with a warning. The model below makes the project in moto's CodeBuild (Ref
is its name, ``Arn`` its ARN; deleting the stack deletes it). And ``StartBuild`` kept
placeholders where a build records its environment (the project's variables with the
``environmentVariablesOverride`` applied), its source and its log group and stream: with the
patch a build shows the tag it was started with and names its log.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.cloudformation import parsing as cfn_parsing
from moto.codebuild import models as codebuild_models
from moto.codebuild import responses as codebuild_responses
from moto.core.common_models import CloudFormationModel

from .cloudformation_resources import _NamedWithArn, _registered
from .patch import Patch, refuse


class CfnCodeBuildProject(_NamedWithArn, CloudFormationModel):
    """``AWS::CodeBuild::Project``: a project in moto's CodeBuild."""

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeBuild::Project"

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


def _check_builds() -> None:
    """A build's record still has what the StartBuild patch fills in (a probe, never registered)."""
    metadata = codebuild_models.CodeBuildProjectMetadata(
        "123456789012", "us-east-1", "probe", None, None, "probe:1", "role"
    ).build_metadata
    missing = [key for key in ("id", "environment", "source", "logs") if key not in metadata]
    if missing:
        raise refuse(
            f"CodeBuild builds have no {', '.join(missing)}.",
            hint="Re-check the StartBuild patch in bwp_workshop.local.moto_patches.codebuild against this moto.",
        )
    probe = codebuild_models.CodeBuildBackend("us-east-1", "123456789012")
    for attribute in ("codebuild_projects", "build_metadata", "build_metadata_history"):
        if not hasattr(probe, attribute):
            raise refuse(
                f"a CodeBuild backend keeps no {attribute}.",
                hint="Re-check the StartBuild patch in bwp_workshop.local.moto_patches.codebuild against this moto.",
            )


_BACKEND = codebuild_models.CodeBuildBackend
_RESPONSE = codebuild_responses.CodeBuildResponse

PATCHES = (
    Patch(
        cfn_parsing,
        "get_model_map",
        f"CloudFormation creates {CfnCodeBuildProject.cloudformation_type()}",
        guard="tests/local/test_image_build.py::test_the_project_is_deployed_and_a_build_without_docker_is_started_with_the_tag",
        uses=(
            (cfn_parsing, "get_model_list"),
            (cfn_parsing, "get_name_type_map"),
            (codebuild_models, "codebuild_backends"),
            (_BACKEND, "create_project"),
            (_BACKEND, "delete_project"),
        ),
        check=_registered(CfnCodeBuildProject),
    ),
    Patch(
        _RESPONSE,
        "start_build",
        "CodeBuild builds record their environment overrides, source and log group and stream",
        guard="tests/local/test_image_build.py::test_the_project_is_deployed_and_a_build_without_docker_is_started_with_the_tag",
        wrapper=_wrap_start_build,
        uses=((_RESPONSE, "codebuild_backend"), (_BACKEND, "start_build")),
        check=_check_builds,
    ),
)
