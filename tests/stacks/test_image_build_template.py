"""InfraStack's image build project (the image without local Docker): privileged Docker, a
buildspec that builds the Dockerfile and pushes ``$IMAGE_TAG`` to the repository, the source tag
of the uploaded sources, an uploaded source of exactly the image's files, and a role that may
do what the build does and nothing more."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from bwp_workshop import aws, names
from bwp_workshop.stacks.base_image import pinned_base
from bwp_workshop.stacks.image_build import image_build_files
from bwp_workshop.stacks.image_tag import source_tag
from bwp_workshop.testing.checkout import CHECKOUT

from .conftest import Synthesized, only, resources
from .deployed import Resolver
from .privileges import Call, judge, role_statements

INFRA = names.INFRA_STACK
ACCOUNT = aws.LOCAL_ACCOUNT_ID


def _project(synthesized: Synthesized) -> dict:
    return only(synthesized, INFRA, "AWS::CodeBuild::Project")["Properties"]


def test_the_project_builds_with_docker_in_privileged_mode(synthesized: Synthesized) -> None:
    project = _project(synthesized)
    assert project["Name"] == names.IMAGE_BUILD_PROJECT
    environment = project["Environment"]
    assert environment["PrivilegedMode"] is True
    assert environment["Type"] == "LINUX_CONTAINER" and environment["Image"].startswith("aws/codebuild/standard:")
    assert project["Source"]["Type"] == "S3"
    assert project["Artifacts"] == {"Type": "NO_ARTIFACTS"}
    assert project["LogsConfig"]["CloudWatchLogs"]["Status"] == "ENABLED"
    group = only(synthesized, INFRA, "AWS::Logs::LogGroup", "ImageBuildLogs")["Properties"]
    assert group["LogGroupName"] == names.IMAGE_BUILD_LOG_GROUP
    assert group["RetentionInDays"] == synthesized.settings.log_retention_days


def test_the_buildspec_pushes_the_tag_to_the_repository(synthesized: Synthesized) -> None:
    project = _project(synthesized)
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    tag = source_tag(CHECKOUT)
    assert variables[names.BUILD_ENV_IMAGE_TAG] == variables[names.BUILD_ENV_SOURCE_TAG] == tag
    repository = variables[names.BUILD_ENV_REPOSITORY_URI]
    (repository_id,) = resources(synthesized, INFRA, "AWS::ECR::Repository")
    assert repository_id in json.dumps(repository)  # the repository's URI, not a literal
    spec = yaml.safe_load(project["Source"]["BuildSpec"])
    commands = [c for phase in spec["phases"].values() for c in phase["commands"]]
    build = next(c for c in commands if c.startswith("docker build"))
    assert "--platform linux/amd64" in build and "-f oauth_app/Dockerfile" in build
    assert '-t "$REPOSITORY_URI:$IMAGE_TAG" .' in build
    assert commands[-1] == 'docker push "$REPOSITORY_URI:$IMAGE_TAG"'
    assert any("docker login" in c and "get-login-password" in c for c in commands)
    # The push comes after the build in the same phase: a failed build pushes nothing.
    assert spec["phases"]["build"]["commands"].index(commands[-1]) > spec["phases"]["build"]["commands"].index(build)


def test_the_buildspec_keeps_the_base_images_digest(synthesized: Synthesized) -> None:
    """The review's L1: the buildspec rewrites the base image's registry to ECR Public's mirror
    and keeps the Dockerfile's digest pin (its commands run here on the real Dockerfile)."""
    spec = yaml.safe_load(_project(synthesized)["Source"]["BuildSpec"])
    commands = [c for phase in spec["phases"].values() for c in phase["commands"]]
    (read_base,) = [c for c in commands if c.startswith("BASE=")]
    build = next(c for c in commands if c.startswith("docker build"))
    found = re.search(r'--build-arg "(PYTHON_IMAGE=[^"]+)"', build)
    assert found is not None, build
    script = f"{read_base}\nprintf '%s' \"{found.group(1)}\""
    run = subprocess.run(["bash", "-c", script], cwd=CHECKOUT, capture_output=True, text=True, check=True, timeout=30)
    pinned = pinned_base((CHECKOUT / "oauth_app" / "Dockerfile").read_text())
    assert run.stdout == f"PYTHON_IMAGE=public.ecr.aws/docker/library/{pinned.reference}"


def test_the_uploaded_source_is_exactly_the_image_files(synthesized: Synthesized) -> None:
    manifest = json.loads((synthesized.outdir / f"{INFRA}.assets.json").read_text())
    folders = [
        synthesized.outdir / asset["source"]["path"]
        for asset in manifest["files"].values()
        if asset["source"].get("packaging") == "zip"
    ]
    assert len(folders) == 1, folders
    staged = sorted(p.relative_to(folders[0]) for p in folders[0].rglob("*") if p.is_file())
    assert staged == image_build_files(CHECKOUT)
    assert Path("oauth_app/Dockerfile") in staged and Path("bwp_workshop/names.py") in staged
    for relative in staged:
        assert (folders[0] / relative).read_bytes() == (CHECKOUT / relative).read_bytes(), relative


def _statements(synthesized: Synthesized) -> list[dict]:
    region = synthesized.settings.region
    resolver = Resolver(
        synthesized.raw,
        region=region,
        physical={
            "Repository": names.REPOSITORY_NAME,
            "ImageBuildLogs": names.IMAGE_BUILD_LOG_GROUP,
            "ImageBuild": names.IMAGE_BUILD_PROJECT,
        },
        attributes={
            ("Repository", "Arn"): f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{names.REPOSITORY_NAME}",
            ("ImageBuildLogs", "Arn"): f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{names.IMAGE_BUILD_LOG_GROUP}:*",
        },
    )
    return role_statements(synthesized.raw[INFRA], "ImageBuildRole", resolver, INFRA)


def _build_calls(region: str, source: str, repository: str) -> list[Call]:
    """What a build of this project calls with its role: CodeBuild fetches the source and writes
    the log; ``aws ecr get-login-password``; ``docker push`` (its ECR API calls, per the ECR docs)."""
    stream = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{names.IMAGE_BUILD_LOG_GROUP}:log-stream:0f1e2d3c"
    return [
        Call("s3:GetObject", (source,)),
        Call("s3:GetObjectVersion", (source,)),
        Call("logs:CreateLogStream", (stream,)),
        Call("logs:PutLogEvents", (stream,)),
        Call("ecr:GetAuthorizationToken", ("*",)),
        *(
            Call(f"ecr:{action}", (repository,))
            for action in (
                "BatchCheckLayerAvailability",
                "InitiateLayerUpload",
                "UploadLayerPart",
                "CompleteLayerUpload",
                "PutImage",
            )
        ),
    ]


def test_the_build_role_may_push_to_its_repository_only_and_write_its_own_log(synthesized: Synthesized) -> None:
    region = synthesized.settings.region
    statements = _statements(synthesized)
    repository = f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{names.REPOSITORY_NAME}"
    source = f"arn:aws:s3:::{_project(synthesized)['Source']['Location']}"  # bucket/key of the uploaded asset
    granted = {action for statement in statements for action in statement["Action"]}
    # Reading the source, writing the log and pushing; no reports, no pulls, no deletes, no writes to S3.
    assert not {a for a in granted if a.startswith("codebuild:")}, granted
    assert not {a for a in granted if a.startswith("ecr:") and ("Delete" in a or "GetDownloadUrl" in a)}, granted
    assert not {a for a in granted if a.startswith("s3:Put") or a.startswith("s3:Delete") or a == "s3:*"}, granted
    for statement in statements:
        if [a for a in statement["Action"] if a.startswith("ecr:") and a != "ecr:GetAuthorizationToken"]:
            assert statement["Resource"] == [repository], statement
        if "ecr:GetAuthorizationToken" in statement["Action"]:
            assert statement["Action"] == ["ecr:GetAuthorizationToken"]  # the one action with no resource
        if any(a.startswith("logs:") for a in statement["Action"]):
            assert all(names.IMAGE_BUILD_LOG_GROUP in r for r in statement["Resource"]), statement

    judgement = judge(_build_calls(region, source, repository), statements)
    assert not judgement.denied, judgement.denied
    # Another repository, another log group and another object of the assets bucket are refused.
    bucket = source.split("/", 1)[0]
    other = judge(
        [
            Call("ecr:PutImage", (repository.replace(names.REPOSITORY_NAME, "someone-else"),)),
            Call("logs:PutLogEvents", (f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/lambda/x:log-stream:y",)),
            Call("s3:GetObject", (f"{bucket}/another-asset.zip",)),
        ],
        statements,
    )
    assert len(other.denied) == 3, other.allowed
    # What the CDK grants beyond the build's calls (reported; the bucket-level reads of the S3 source
    # and CreateLogGroup on the project's own group).
    print("image build role, grants no build call used:", judgement.unused)
