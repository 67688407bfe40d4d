"""The workshop's "build the app's image" step (notebook 03): the OAuth app's image built and
pushed to the ECR repository, by the Docker engine here when there is one, else by InfraStack's
CodeBuild project in the account (on the local target moto's CodeBuild records the build and
the app runs as a process); and the wait until the app answers its health check. Each works on
both targets and says what to do when it cannot proceed."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import httpx

from .. import aws, names
from ..errors import ConfigurationError, WorkshopError
from ..outputs import load_outputs, stack_output
from ..settings import Settings
from ..targets import choose_target
from .registration import app_base_url


# --- the app's image ---------------------------------------------------------------------------
def docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


#: Where the image is built: the Docker engine on this machine, or the CodeBuild project.
BUILD_WITH_DOCKER = "docker"
BUILD_WITH_CODEBUILD = "codebuild"
#: CodeBuild's build phases in order (the progress bar counts them).
BUILD_PHASES = (
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
)
#: Polling a build: the first wait, the longest, and how long a build may take (the project's timeout).
BUILD_POLL_FIRST = 0.01
BUILD_POLL_MAX = 10.0
BUILD_TIMEOUT = 35 * 60


def image_build_path(docker: bool | None = None) -> str:
    """``docker`` when a Docker engine answers here, else ``codebuild``."""
    return BUILD_WITH_DOCKER if (docker_engine_available() if docker is None else docker) else BUILD_WITH_CODEBUILD


@dataclass(frozen=True)
class ImageResult:
    built: bool
    message: str
    image: str = ""
    build_id: str = ""  # the CodeBuild build, when the project built (or recorded) it


class ImageBuildFailed(WorkshopError):
    """The CodeBuild build of the image did not succeed."""


def build_and_push_image(settings: Settings, *, progress: bool = True) -> ImageResult:
    """``docker build --platform linux/amd64`` of ``oauth_app/Dockerfile`` and a push to the ECR
    repository, when a Docker engine is present; otherwise the same build by InfraStack's
    CodeBuild project (see :func:`build_with_codebuild`)."""
    from ..stacks.image_tag import image_tag

    target = choose_target(settings)
    tag = image_tag(settings)
    if image_build_path() == BUILD_WITH_CODEBUILD:
        return build_with_codebuild(settings, tag, progress=progress)
    repository = stack_output(settings, names.INFRA_STACK, names.OUT_REPOSITORY_URI)
    image = f"{repository}:{tag}"
    if target.image_in_registry(tag):
        return ImageResult(False, f"The repository already holds {tag} (the same sources); nothing to build.", image)
    build = ["docker", "build", "--platform", "linux/amd64", "-f", "oauth_app/Dockerfile", "-t", image, "."]
    docker(build, settings)
    return ImageResult(True, target.publish_image(image, lambda argv, stdin: docker(argv, settings, stdin)), image)


def build_with_codebuild(settings: Settings, tag: str, *, progress: bool = True) -> ImageResult:
    """Start InfraStack's image build project with ``tag`` and wait for it (a progress bar over
    its phases, polling from milliseconds up to seconds). Refuses when the project's uploaded
    sources are not the current ones (deploy InfraStack again); a failed build raises
    :class:`ImageBuildFailed` naming its log. On the local target moto's CodeBuild records the
    build and builds nothing."""
    from ..stacks.image_tag import source_tag

    target = choose_target(settings)
    repository = stack_output(settings, names.INFRA_STACK, names.OUT_REPOSITORY_URI)
    image = f"{repository}:{tag}"
    if target.image_in_registry(tag):
        return ImageResult(False, f"The repository already holds {tag} (the same sources); nothing to build.", image)
    redeploy = "Deploy InfraStack again (notebook 01, or `bwp-workshop deploy InfraStack`), then run this cell again."
    project_name = load_outputs(settings).get(names.INFRA_STACK, {}).get(names.OUT_IMAGE_BUILD_PROJECT)
    codebuild = aws.client("codebuild", settings)
    projects = codebuild.batch_get_projects(names=[project_name])["projects"] if project_name else []
    if not projects:
        raise ConfigurationError(
            "No Docker engine here, and InfraStack has no image build project "
            f"({names.IMAGE_BUILD_PROJECT}) to build the image in the account.",
            hint=f"{redeploy} Or run this notebook where Docker runs.",
        )
    variables = {v["name"]: v.get("value", "") for v in projects[0]["environment"].get("environmentVariables", [])}
    current, deployed = source_tag(settings.project_dir), variables.get(names.BUILD_ENV_SOURCE_TAG, "")
    if deployed != current:
        raise ConfigurationError(
            f"The image sources InfraStack uploaded for {project_name} ({deployed or 'unknown'}) are not "
            f"this checkout's ({current}): the build would push old code under a new tag.",
            hint=redeploy,
        )
    started = codebuild.start_build(
        projectName=project_name,
        environmentVariablesOverride=[{"name": names.BUILD_ENV_IMAGE_TAG, "value": tag, "type": "PLAINTEXT"}],
    )["build"]
    build = _wait_for_build(codebuild, started["id"], progress=progress)
    if build["buildStatus"] != "SUCCEEDED":
        raise _build_failure(build)
    built, message = target.codebuild_outcome(build["id"], tag)
    return ImageResult(built, message, image, build["id"])


def _wait_for_build(codebuild: Any, build_id: str, *, progress: bool, timeout: float = BUILD_TIMEOUT) -> Any:
    """The build once it is complete; the wait doubles from milliseconds to ``BUILD_POLL_MAX``."""
    from ..notebook.progress import bar

    meter = bar(len(BUILD_PHASES), f"CodeBuild {build_id.split(':')[0]}", unit="phase") if progress else None
    delay, deadline = BUILD_POLL_FIRST, time.monotonic() + timeout
    try:
        while True:
            (build,) = codebuild.batch_get_builds(ids=[build_id])["builds"]
            phase = build.get("currentPhase", "")
            if meter is not None:
                done = BUILD_PHASES.index(phase) + 1 if phase in BUILD_PHASES else meter.n
                meter.set_description_str(f"CodeBuild {phase.lower() or 'starting'}")
                meter.update(max(0, done - meter.n))
            if build.get("buildComplete") or build.get("buildStatus") != "IN_PROGRESS":
                return build
            if time.monotonic() > deadline:
                raise ImageBuildFailed(
                    f"The image build {build_id} is still {phase or 'running'} after {timeout / 60:.0f} minutes.",
                    hint=f"Follow it in its log ({_log_location(build)}); run this cell again once it has finished.",
                )
            time.sleep(delay)
            delay = min(delay * 2, BUILD_POLL_MAX)
    finally:
        if meter is not None:
            meter.close()


def _log_location(build: dict[str, Any]) -> str:
    logs = build.get("logs", {})
    where = f"log group {logs.get('groupName', names.IMAGE_BUILD_LOG_GROUP)}, stream {logs.get('streamName', '?')}"
    return f"{where}: {logs['deepLink']}" if logs.get("deepLink") else where


def _build_failure(build: dict[str, Any]) -> ImageBuildFailed:
    failed = [p for p in build.get("phases", []) if p.get("phaseStatus") not in (None, "SUCCEEDED")]
    reason = ""
    if failed:
        contexts = [c.get("message", "") for c in failed[0].get("contexts", []) if c.get("message")]
        reason = f" in {failed[0]['phaseType']}" + (f" ({'; '.join(contexts)})" if contexts else "")
    return ImageBuildFailed(
        f"The image build {build['id']} ended {build['buildStatus']}{reason}. Its log: {_log_location(build)}.",
        hint="Read the end of that log: a failing `docker build` step means the Dockerfile or its sources "
        "(fix them, deploy InfraStack again, rerun); `toomanyrequests` or a network error, run this cell "
        "again; `AccessDenied` on ECR, deploy InfraStack again (the project's role).",
    )


def docker(argv: list[str], settings: Settings, stdin: str | None = None) -> None:
    result = subprocess.run(
        argv, cwd=settings.project_dir, input=stdin, capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise WorkshopError(f"`{' '.join(argv[:2])}` failed:\n{tail}", hint="Read the output above.")


# --- the running app -------------------------------------------------------------------------------
def wait_for_app(settings: Settings, timeout: float = 120) -> dict[str, Any]:
    """Until the app answers its health check: on local, (re)start the local app process first
    (it picks up new credentials); on aws, until the Fargate service runs its tasks."""
    choose_target(settings).start_app(timeout)
    url = f"{app_base_url(settings)}{names.APP_HEALTH_PATH}"
    deadline = time.monotonic() + timeout
    delay = 0.01  # backing off to a second: a local app answers within milliseconds of its start
    while True:
        try:
            response = httpx.get(url, timeout=5, trust_env=False)
            if response.status_code == 200:
                return {"url": url, "status": response.status_code, "health": response.json()}
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise WorkshopError(
                f"The app does not answer {url} after {timeout:.0f} s.",
                hint="Check the service's tasks and logs (ECS console), or the local app's log "
                "(`bwp-workshop local logs`).",
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
