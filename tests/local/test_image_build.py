"""The image without local Docker, on the local AWS: InfraStack deployed by the real cdk CLI
creates the CodeBuild project (the workshop's CloudFormation model for moto) with the uploaded
sources, and notebook 03's step with no Docker engine starts a build with the image tag, follows
it and says it was recorded; stale sources and a failed build say what to do (naming the log)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bwp_workshop import aws, deploy, names
from bwp_workshop.errors import ConfigurationError, MotoPatchError
from bwp_workshop.local import moto_patches
from bwp_workshop.outputs import outputs_file
from bwp_workshop.settings import Settings
from bwp_workshop.stacks.image_build import image_build_files
from bwp_workshop.stacks.image_tag import DOCKERIGNORE, image_tag, source_tag
from bwp_workshop.steps import image
from bwp_workshop.testing.checkout import CHECKOUT


@pytest.fixture
def settings(local_settings: Settings) -> Settings:
    return local_settings.model_copy(update={"build_dir": CHECKOUT / ".bwp" / "build"})


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Docker engine here, whatever this machine has."""
    monkeypatch.setattr(image, "docker_engine_available", lambda: False)


def _variables(environment: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["value"] for v in environment["environmentVariables"]}


def test_the_project_is_deployed_and_a_build_without_docker_is_started_with_the_tag(
    settings: Settings, no_docker: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    infra = deploy.deploy(settings, names.INFRA_STACK, progress=False)
    assert infra[names.OUT_IMAGE_BUILD_PROJECT] == names.IMAGE_BUILD_PROJECT
    codebuild = aws.client("codebuild", settings)
    (project,) = codebuild.batch_get_projects(names=[names.IMAGE_BUILD_PROJECT])["projects"]
    assert project["environment"]["privilegedMode"] is True
    variables = _variables(project["environment"])
    assert variables[names.BUILD_ENV_SOURCE_TAG] == source_tag(CHECKOUT)
    assert variables[names.BUILD_ENV_REPOSITORY_URI] == infra[names.OUT_REPOSITORY_URI]
    assert project["logsConfig"]["cloudWatchLogs"]["groupName"] == names.IMAGE_BUILD_LOG_GROUP
    assert "docker push" in project["source"]["buildspec"]
    # The source CDK uploaded is in the local AWS's S3, and holds exactly the image's files.
    assert project["source"]["type"] == "S3"
    bucket, key = project["source"]["location"].split("/", 1)
    body = aws.client("s3", settings).get_object(Bucket=bucket, Key=key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert sorted(Path(n) for n in archive.namelist() if not n.endswith("/")) == image_build_files(CHECKOUT)

    # --- no Docker: the build is started with the tag, followed, and reported as recorded ---
    result = image.build_and_push_image(settings)
    assert not result.built
    assert result.build_id and result.build_id in result.message and "recorded" in result.message
    assert result.image == f"{infra[names.OUT_REPOSITORY_URI]}:{image_tag(settings)}"
    assert codebuild.list_builds_for_project(projectName=names.IMAGE_BUILD_PROJECT)["ids"] == [result.build_id]
    (build,) = codebuild.batch_get_builds(ids=[result.build_id])["builds"]
    assert _variables(build["environment"])[names.BUILD_ENV_IMAGE_TAG] == image_tag(settings)
    assert build["logs"]["groupName"] == names.IMAGE_BUILD_LOG_GROUP
    shown = capsys.readouterr().out
    assert "CodeBuild completed" in shown and f"{len(image.BUILD_PHASES)}/{len(image.BUILD_PHASES)}" in shown

    # BWP_IMAGE_TAG names the tag the build pushes.
    chosen = image.build_and_push_image(settings.model_copy(update={"image_tag": "release-7"}), progress=False)
    (build,) = codebuild.batch_get_builds(ids=[chosen.build_id])["builds"]
    assert _variables(build["environment"])[names.BUILD_ENV_IMAGE_TAG] == "release-7"

    # --- sources changed since InfraStack uploaded them: deploy InfraStack again, nothing started ---
    changed = tmp_path / "checkout"
    for relative in [*image_build_files(CHECKOUT), DOCKERIGNORE]:
        (changed / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CHECKOUT / relative, changed / relative)
    with (changed / "oauth_app" / "app.py").open("a") as handle:
        handle.write("\n# changed after the deploy\n")
    with pytest.raises(ConfigurationError) as stale:
        image.build_and_push_image(settings.model_copy(update={"project_dir": changed}), progress=False)
    assert source_tag(changed) in stale.value.message and variables[names.BUILD_ENV_SOURCE_TAG] in stale.value.message
    assert "Deploy InfraStack again" in stale.value.hint
    assert len(codebuild.list_builds_for_project(projectName=names.IMAGE_BUILD_PROJECT)["ids"]) == 2

    # --- a build that fails names its log (moto's record of the build, turned FAILED in BUILD) ---
    def fail_the_build(parsed: dict[str, Any], **_: Any) -> None:
        for recorded in parsed.get("builds", []):
            recorded["buildStatus"], recorded["currentPhase"], recorded["buildComplete"] = "FAILED", "COMPLETED", True
            for phase in recorded["phases"]:
                if phase["phaseType"] == "BUILD":
                    phase["phaseStatus"] = "FAILED"
                    phase["contexts"] = [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": "docker build exit 1"}]

    codebuild.meta.events.register("after-call.codebuild.BatchGetBuilds", fail_the_build)
    try:
        with pytest.raises(image.ImageBuildFailed) as failed:
            image.build_and_push_image(settings, progress=False)
    finally:
        codebuild.meta.events.unregister("after-call.codebuild.BatchGetBuilds", fail_the_build)
    latest = codebuild.list_builds_for_project(projectName=names.IMAGE_BUILD_PROJECT)["ids"][-1]
    (recorded,) = codebuild.batch_get_builds(ids=[latest])["builds"]
    message = failed.value.message
    assert latest in message and "FAILED in BUILD" in message and "docker build exit 1" in message
    assert recorded["logs"]["groupName"] in message and recorded["logs"]["streamName"] in message
    assert recorded["logs"]["deepLink"] in message
    assert "Dockerfile" in failed.value.hint and "run this cell again" in failed.value.hint

    # --- destroy removes the project ---
    deploy.destroy(settings, names.INFRA_STACK, progress=False)
    assert codebuild.list_projects()["projects"] == []


def test_without_the_project_the_step_says_to_deploy_infra_stack_again(settings: Settings, no_docker: None) -> None:
    """InfraStack deployed before the project existed: its outputs name no build project."""
    outputs_file(settings).parent.mkdir(parents=True, exist_ok=True)
    outputs_file(settings).write_text(
        json.dumps({names.INFRA_STACK: {names.OUT_REPOSITORY_URI: "000000000000.dkr.ecr.us-east-1.amazonaws.com/x"}})
    )
    with pytest.raises(ConfigurationError) as caught:
        image.build_and_push_image(settings, progress=False)
    assert names.IMAGE_BUILD_PROJECT in caught.value.message
    assert "Deploy InfraStack again" in caught.value.hint


def test_the_codebuild_fix_fails_loudly_when_moto_moves_what_it_relies_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.codebuild import models

    monkeypatch.setattr(moto_patches, "_applied", [])
    monkeypatch.delattr(models.CodeBuildBackend, "delete_project")
    with pytest.raises(MotoPatchError, match="delete_project"):
        moto_patches.apply()


def test_the_local_aws_reports_the_codebuild_fixes(local_settings: Settings) -> None:
    import httpx

    from bwp_workshop.local.moto_server import HEALTH_PATH

    health = httpx.get(f"{aws.endpoint_url(local_settings)}{HEALTH_PATH}", trust_env=False).json()
    assert "CloudFormation creates AWS::CodeBuild::Project" in health["fixes"]
