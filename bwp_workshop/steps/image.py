"""The workshop's "build the app's image" step (notebook 03): the OAuth app's image built and
pushed to the ECR repository when a Docker engine is present (the local target runs the app as a
process instead), and the wait until the app answers its health check. Each works on both
targets and says what to do when it cannot proceed."""

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
from ..settings import Settings, get_settings
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


@dataclass(frozen=True)
class ImageResult:
    built: bool
    message: str
    image: str = ""


def build_and_push_image(settings: Settings | None = None) -> ImageResult:
    """``docker build --platform linux/amd64`` of ``oauth_app/Dockerfile`` and a push to the ECR
    repository, when a Docker engine is present; otherwise says what happens instead."""
    settings = settings or get_settings()
    from ..stacks.image_tag import image_tag

    tag = image_tag(settings)
    if not docker_engine_available():
        where = (
            "the local target runs the app as a process instead (`bwp-workshop local up`)"
            if settings.is_local
            else "build and push it on a machine with Docker: "
            f"`docker build --platform linux/amd64 -f oauth_app/Dockerfile -t <repository-uri>:{tag} .`"
        )
        return ImageResult(False, f"No Docker engine here, so no image is built; {where}.")
    repository = stack_output(settings, names.INFRA_STACK, names.OUT_REPOSITORY_URI)
    image = f"{repository}:{tag}"
    if not settings.is_local and _image_in_repository(settings, tag):
        return ImageResult(False, f"The repository already holds {tag} (the same sources); nothing to build.", image)
    build = ["docker", "build", "--platform", "linux/amd64", "-f", "oauth_app/Dockerfile", "-t", image, "."]
    _docker(build, settings)
    if settings.is_local:
        return ImageResult(True, "Built; the local AWS has no registry to push to, so it stays here.", image)
    token = aws.client("ecr", settings).get_authorization_token()["authorizationData"][0]
    import base64

    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    _docker(["docker", "login", "--username", user, "--password-stdin", token["proxyEndpoint"]], settings, password)
    _docker(["docker", "push", image], settings)
    return ImageResult(True, "Built and pushed.", image)


def _image_in_repository(settings: Settings, tag: str) -> bool:
    """Whether the ECR repository holds ``tag`` (its tags are immutable: a push would fail)."""
    ecr = aws.client("ecr", settings)
    try:
        ecr.describe_images(repositoryName=names.REPOSITORY_NAME, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return False
    return True


def _docker(argv: list[str], settings: Settings, stdin: str | None = None) -> None:
    result = subprocess.run(
        argv, cwd=settings.project_dir, input=stdin, capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise WorkshopError(f"`{' '.join(argv[:2])}` failed:\n{tail}", hint="Read the output above.")


# --- the running app -------------------------------------------------------------------------------
def wait_for_app(settings: Settings | None = None, timeout: float = 120) -> dict[str, Any]:
    """Until the app answers its health check: on local, (re)start the local app process first
    (it picks up new credentials); on aws, until the Fargate service runs its tasks."""
    settings = settings or get_settings()
    if settings.is_local:
        from ..local.runtime import OAUTH_APP_SERVICE, LocalRuntime

        LocalRuntime(settings).up()
        status = next(s for s in LocalRuntime(settings).status() if s.name == OAUTH_APP_SERVICE)
        if status.state != "running":
            raise WorkshopError(f"The local app is {status.state}.", hint=f"See its log: {status.log_file}")
    else:
        _wait_for_service(settings, timeout)
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


def _wait_for_service(settings: Settings, timeout: float) -> None:
    outputs = load_outputs(settings).get(names.ECS_STACK, {})
    cluster, service = outputs.get(names.OUT_CLUSTER_NAME), outputs.get(names.OUT_SERVICE_NAME)
    if not cluster or not service:
        raise ConfigurationError("EcsStack is not deployed.", hint="Deploy it first: deploy('EcsStack').")
    ecs = aws.client("ecs", settings)
    deadline = time.monotonic() + timeout
    delay = 0.5
    while time.monotonic() < deadline:
        described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        if described["runningCount"] >= described["desiredCount"] > 0:
            return
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    raise WorkshopError(
        f"The service {service} runs fewer tasks than it wants after {timeout:.0f} s.",
        hint="Was the image pushed? Open the service's events in the ECS console.",
    )
