"""The workshop's steps that are not one call elsewhere: the onboarding request, approval on
the local target, the app's image, waiting for the app, the merchant install, and clean-up.
Each works on both targets and says what to do when it cannot proceed."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import aws, names
from .envfile import set_env_values, unset_env_values
from .errors import ConfigurationError, WorkshopError
from .outputs import load_outputs, stack_output
from .settings import Settings, get_settings

APP_NAME = "SupaDupa Analytics"


# --- onboarding --------------------------------------------------------------------------------
def app_base_url(settings: Settings | None = None) -> str:
    """The app's base URL as Buy with Prime will call it: on aws the load balancer's DNS name,
    lowercased, with its scheme (InfraStack's ``AppBaseUrl``); on local the local app process."""
    settings = settings or get_settings()
    if settings.is_local:
        return settings.local_app_url
    return stack_output(settings, names.INFRA_STACK, names.OUT_APP_BASE_URL).lower().rstrip("/")


def onboarding_request(settings: Settings | None = None) -> dict[str, str]:
    """What the app onboarding request to Buy with Prime asks for: the app's four URLs."""
    base = app_base_url(settings)
    return {
        "app name": APP_NAME,
        "launch URL": f"{base}/launch",
        "install URL (OAuth redirect URI)": f"{base}/install",
        "settings URL": f"{base}/settings",
        "uninstall URL": f"{base}/uninstall",
    }


def approve_onboarding_locally(settings: Settings | None = None) -> dict[str, str]:
    """On the local target: the sandbox approves the onboarding request and issues a client id
    and secret, written into ``.env``. An app the sandbox already knows with the same URLs is
    reused (re-running the step changes nothing)."""
    settings = settings or get_settings()
    if not settings.is_local:
        raise ConfigurationError(
            "Only the local target's sandbox approves onboarding requests.",
            hint="On aws, send the onboarding request to Buy with Prime and paste the client id and "
            "secret it sends you into .env (BWP_CLIENT_ID, BWP_CLIENT_SECRET).",
        )
    from .sandbox.client import SandboxClient, write_credentials_to_env

    request = onboarding_request(settings)
    urls = list(request.values())[1:]
    with SandboxClient(settings) as sandbox:
        if settings.client_id and settings.client_secret.get_secret_value():
            for app in sandbox.apps():
                known = [app.get(key) for key in ("launch_url", "install_url", "settings_url", "uninstall_url")]
                if app.get("client_id") == settings.client_id and known == urls:
                    return {"client id": settings.client_id, "client secret": "******** (in .env)", "new": "no"}
        registration = sandbox.register_app(*urls)
    write_credentials_to_env(settings, registration)
    return {"client id": registration.client_id, "client secret": "******** (in .env)", "new": "yes"}


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
    from .stacks.image_tag import image_tag

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
        from .local.runtime import OAUTH_APP_SERVICE, LocalRuntime

        LocalRuntime(settings).up()
        status = next(s for s in LocalRuntime(settings).status() if s.name == OAUTH_APP_SERVICE)
        if status.state != "running":
            raise WorkshopError(f"The local app is {status.state}.", hint=f"See its log: {status.log_file}")
    else:
        _wait_for_service(settings, timeout)
    url = f"{app_base_url(settings)}{names.APP_HEALTH_PATH}"
    deadline = time.monotonic() + timeout
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
        time.sleep(1)


def _wait_for_service(settings: Settings, timeout: float) -> None:
    outputs = load_outputs(settings).get(names.ECS_STACK, {})
    cluster, service = outputs.get(names.OUT_CLUSTER_NAME), outputs.get(names.OUT_SERVICE_NAME)
    if not cluster or not service:
        raise ConfigurationError("EcsStack is not deployed.", hint="Deploy it first: deploy('EcsStack').")
    ecs = aws.client("ecs", settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        if described["runningCount"] >= described["desiredCount"] > 0:
            return
        time.sleep(5)
    raise WorkshopError(
        f"The service {service} runs fewer tasks than it wants after {timeout:.0f} s.",
        hint="Was the image pushed? Open the service's events in the ECS console.",
    )


# --- the merchant install ----------------------------------------------------------------------
def install_app(settings: Settings | None = None, merchant_id: str | None = None) -> dict[str, Any]:
    """A merchant installs the app. On local the sandbox drives the browser flow and the new
    installation id goes into ``.env`` (BWP_INSTALLATION_ID); on aws, the link to open."""
    settings = settings or get_settings()
    if not settings.is_local:
        return {
            "what to do": "In the Buy with Prime console, open your app's page in the marketplace and "
            "install it for your test merchant; then set BWP_INSTALLATION_ID in .env to the installation "
            "id the token table shows.",
            "launch URL": f"{app_base_url(settings)}/launch",
        }
    from .sandbox.client import SandboxClient

    stack_output(settings, names.ECS_STACK, names.OUT_SERVICE_NAME)  # the app runs: says what to deploy if not
    with SandboxClient(settings) as sandbox:
        outcome = sandbox.install(merchant_id)
    if not outcome.ok or not outcome.installation_id:
        raise WorkshopError(
            f"The install did not complete: {outcome.error or outcome.status_code}.",
            hint="See the local app's log (`bwp-workshop local logs oauth-app`); is the app running "
            "with the credentials the sandbox issued (notebook 03)?",
        )
    set_env_values({"BWP_INSTALLATION_ID": outcome.installation_id}, settings)
    return {
        "installation id": outcome.installation_id,
        "status": outcome.status_code,
        "went through": [url.split("?")[0] for url in outcome.redirects],
    }


def console_install_url(settings: Settings | None = None) -> str:
    """The page a person opens in a browser to install the app as a merchant: on local the
    sandbox's console (pick a merchant, click Install); on aws the Buy with Prime console
    (the host of the authorize endpoint), where the app's marketplace page has Install."""
    settings = settings or get_settings()
    if settings.is_local:
        from .sandbox.config import CONSOLE_PATH

        return f"{settings.sandbox_url}{CONSOLE_PATH}"
    parts = urlsplit(settings.authorize_url)
    return f"{parts.scheme}://{parts.netloc}/"


def browser_install(settings: Settings | None = None) -> dict[str, str]:
    """How a person installs the app with a browser, beside the scripted :func:`install_app`:
    the page to open and what to click there."""
    settings = settings or get_settings()
    url = console_install_url(settings)
    if settings.is_local:
        steps = (
            "Open the sandbox console, pick a merchant, click Install next to your app: the browser goes "
            "through the app's launch URL, the authorize page and back to the app's install URL. "
            "The console then lists the installation, with Settings and Uninstall."
        )
    else:
        steps = (
            "Sign in to the Buy with Prime console as your test merchant, open your app's page in the "
            "marketplace and click Install; then set BWP_INSTALLATION_ID in .env to the installation id "
            "the token table shows."
        )
    return {"open in a browser": url, "what to do": steps}


# --- clean-up ---------------------------------------------------------------------------------------
def clean_up_outside_cloudformation(settings: Settings | None = None) -> dict[str, Any]:
    """What the workshop made outside CloudFormation: event subscriptions, the partner event bus,
    the client credentials secret, the stacks' log groups. Run after destroying the stacks."""
    from . import onboarding

    settings = settings or get_settings()
    done: dict[str, Any] = {}
    done["partner event bus deleted"] = onboarding.delete_partner_event_bus(
        settings, f"{names.PARTNER_SOURCE_PREFIX}/{settings.event_source_name}"
    )
    done["client credentials secret deleted"] = onboarding.delete_client_credentials(settings)
    logs = aws.client("logs", settings)
    deleted = 0
    for prefix in ("/aws/lambda/EventStack", "/ecs/bwp", "EcsStack", "EventStack", "InfraStack"):
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
            for group in page.get("logGroups", []):
                logs.delete_log_group(logGroupName=group["logGroupName"])
                deleted += 1
    done["log groups deleted"] = deleted
    unset_env_values(["EVENT_BUS_ARN"], settings)
    return done


def leftovers(settings: Settings | None = None) -> dict[str, list[str]]:
    """Anything of the workshop still in the account: stacks, tables, queues, functions, the
    secret, the partner bus. Empty lists everywhere means clean."""
    settings = settings or get_settings()
    cloudformation = aws.client("cloudformation", settings)
    stacks = [
        s["StackName"]
        for page in cloudformation.get_paginator("list_stacks").paginate()
        for s in page["StackSummaries"]
        if s["StackName"] in names.STACKS and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    tables = [
        t
        for t in aws.client("dynamodb", settings).list_tables()["TableNames"]
        if any(t.startswith(stack) for stack in names.STACKS)
    ]
    queues = [q for q in aws.client("sqs", settings).list_queues().get("QueueUrls", []) if "EventStack" in q]
    functions = [
        f["FunctionName"]
        for f in aws.client("lambda", settings).list_functions()["Functions"]
        if f["FunctionName"].startswith("EventStack")
    ]
    secrets = [
        s["Name"]
        for s in aws.client("secretsmanager", settings).list_secrets()["SecretList"]
        if s["Name"] == names.CLIENT_SECRET_NAME
    ]
    buses = [
        b["Name"]
        for b in aws.client("events", settings).list_event_buses(NamePrefix=names.PARTNER_SOURCE_PREFIX)["EventBuses"]
    ]
    repositories = []
    try:
        repositories = [
            r["repositoryName"]
            for r in aws.client("ecr", settings).describe_repositories()["repositories"]
            if r["repositoryName"] == names.REPOSITORY_NAME
        ]
    except Exception:  # a registry the target does not offer is not a leftover
        repositories = []
    return {
        "stacks": stacks,
        "tables": tables,
        "queues": queues,
        "functions": functions,
        "secrets": secrets,
        "partner buses": buses,
        "repositories": repositories,
    }
