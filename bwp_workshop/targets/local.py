"""The local target: moto server for AWS, the Buy with Prime sandbox, the OAuth app as a process
and the event runner in place of the Lambda's event source, all on this machine
(:mod:`bwp_workshop.local.runtime` starts and stops them)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import httpx

from . import AnalyticsEngine, Docker, EventRoute, Readiness, RedriveMethod, Target, botocore_session

if TYPE_CHECKING:
    import aws_cdk as cdk
    import boto3

    from ..local.processes import ServiceStatus
    from ..local.runtime import Change
    from ..sandbox.client import SandboxClient

#: The account id moto reports for the dummy credentials.
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class LocalTarget(Target):
    """Everything on this machine; nothing can reach a real account by mistake."""

    name: ClassVar[Literal["local", "aws"]] = "local"
    requires_https: ClassVar[bool] = False
    queue_accepts_direct_sends: ClassVar[bool] = True
    default_event_route: ClassVar[EventRoute] = "sandbox"
    redrive_method: ClassVar[RedriveMethod] = "copy"
    analytics_engine: ClassVar[AnalyticsEngine] = "duckdb"

    # --- AWS -----------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str | None:
        return self.settings.local_aws_endpoint

    def new_session(self) -> boto3.Session:
        import boto3

        # Nothing from the user's AWS setup applies to the local AWS: not their keys, not their
        # profile (a profile that does not exist here would make boto3 refuse to start).
        core = botocore_session(
            {
                "profile": (None, None, None, None),  # (config key, env var, default, converter)
                "config_file": (None, None, os.devnull, None),
                "credentials_file": (None, None, os.devnull, None),
            }
        )
        return boto3.Session(botocore_session=core, region_name=self.settings.region, **LOCAL_CREDENTIALS)

    def account_id(self) -> str:
        return LOCAL_ACCOUNT_ID

    def tool_environment(self, env: dict[str, str]) -> dict[str, str]:
        """Every inherited ``AWS_*`` variable dropped (a profile or session token would win over
        the dummy keys), the tool pointed at moto."""
        env = {name: value for name, value in env.items() if not name.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.settings.local_aws_endpoint,
            AWS_ACCESS_KEY_ID=LOCAL_CREDENTIALS["aws_access_key_id"],
            AWS_SECRET_ACCESS_KEY=LOCAL_CREDENTIALS["aws_secret_access_key"],
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        return env

    def credentials_hint(self) -> str:
        return "Start the local AWS with `bwp-workshop local up` (or `make workshop`)."

    def aws_answers(self) -> bool:
        """Whether the moto server answers."""
        try:
            url = f"{self.settings.local_aws_endpoint}/_bwp/health"
            return httpx.get(url, timeout=3, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def require_reachable(self) -> None:
        """The moto server must answer."""
        from ..errors import DeployError

        if not self.aws_answers():
            raise DeployError(
                f"The local AWS does not answer on {self.settings.local_aws_endpoint}.",
                hint="Start it with `bwp-workshop local up` (BWP_LOCAL_MOTO_PORT sets its port).",
            )

    def client_credentials_hint(self) -> str:
        return (
            "On the local target the Buy with Prime sandbox issues them when it approves the app "
            "onboarding request; put them in .env."
        )

    # --- CDK -----------------------------------------------------------------------------
    def stack_synthesizer(self) -> cdk.IStackSynthesizer:
        """Without the BootstrapVersion rule: it reads an SSM-typed parameter which moto cannot
        resolve when a stack is updated."""
        import aws_cdk as cdk

        return cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)

    def stack_environment(self) -> cdk.Environment:
        import aws_cdk as cdk

        return cdk.Environment(account=LOCAL_ACCOUNT_ID, region=self.settings.region)

    def availability_zones(self) -> list[str] | None:
        """Two fixed zones: the VPC checks its zones against the account's, and on local the
        account is fixed, so the app answers that lookup rather than have the CLI ask moto."""
        return [f"{self.settings.region}a", f"{self.settings.region}b"]

    def tls_front(self) -> bool:
        return False

    def bootstrap_before_deploy(self) -> bool:
        """A fresh local AWS is bootstrapped by the first deploy."""
        from ..deploy.commands import is_bootstrapped

        return not is_bootstrapped(self.settings)

    def missing_event_source(self, events: Any, source: str) -> None:
        """Created here, as Buy with Prime would when an event subscription is made."""
        events.create_partner_event_source(Name=source, Account=LOCAL_ACCOUNT_ID)

    # --- the app -------------------------------------------------------------------------
    def app_base_url(self) -> str:
        return self.settings.local_app_url

    def start_app(self, timeout: float) -> None:
        """(Re)start the local app process (it picks up new credentials)."""
        from ..errors import WorkshopError
        from ..local.runtime import OAUTH_APP_SERVICE, LocalRuntime

        runtime = LocalRuntime(self.settings)
        runtime.up()
        status = next(s for s in runtime.status() if s.name == OAUTH_APP_SERVICE)
        if status.state != "running":
            raise WorkshopError(f"The local app is {status.state}.", hint=f"See its log: {status.log_file}")

    def image_in_registry(self, tag: str) -> bool:
        return False  # the local AWS has no registry

    def publish_image(self, image: str, docker: Docker) -> str:
        return "Built; the local AWS has no registry to push to, so it stays here."

    def codebuild_outcome(self, build_id: str, tag: str) -> tuple[bool, str]:
        return (
            False,
            f"No Docker engine here: the local AWS's CodeBuild recorded build {build_id} of {tag} "
            "(it builds nothing); the local target runs the app as a process instead.",
        )

    def image_build_detail(self, with_docker: bool) -> str:
        from .. import names

        if with_docker:
            return "Docker on this machine"
        return (
            f"CodeBuild project {names.IMAGE_BUILD_PROJECT} on the local AWS (recorded only; the app runs as a process)"
        )

    # --- Buy with Prime -----------------------------------------------------------------
    def public_key(self) -> str:
        """BWP_PUBLIC_KEY, else the sandbox's key, read from the file the sandbox writes when it
        first starts ("" before that)."""
        from ..setting_checks import public_key_pem

        if self.settings.public_key:
            return self.settings.public_key
        try:
            return public_key_pem(self.settings.sandbox_public_key_file.read_text())
        except FileNotFoundError:
            return ""

    def sandbox(self) -> SandboxClient | None:
        from ..sandbox.client import SandboxClient

        return SandboxClient(self.settings)

    def install_console_url(self) -> str:
        from ..sandbox.config import CONSOLE_PATH

        return f"{self.settings.sandbox_url}{CONSOLE_PATH}"

    def browser_install_steps(self) -> str:
        return (
            "Open the sandbox console, pick a merchant, click Install next to your app and Allow on the "
            "consent page: the browser goes through the app's launch URL, the authorize page and the app's "
            "install URL, and ends on the app's page. The console then lists the installation, with "
            "Settings and Uninstall."
        )

    # --- events, logs --------------------------------------------------------------------
    def send_merchant_activity(
        self, orders: int, installation_id: str | None, duplicates: int, malformed: int, history_hours: float
    ) -> dict[str, Any]:
        """The sandbox emits them; the data-table keys are those of the sandbox's ledger entries."""
        from ..sandbox.client import SandboxClient
        from ..sandbox.event_shapes import MALFORMATIONS, record_key

        kinds = [MALFORMATIONS[i % len(MALFORMATIONS)] for i in range(malformed)]
        with SandboxClient(self.settings) as sandbox:
            result = sandbox.emit(
                orders,
                installation_id=installation_id or self.settings.installation_id or None,
                duplicates=duplicates,
                malformed=kinds,
                spread_hours=history_hours,
            )
        entries = result.get("entries", [])
        valid = [e for e in entries if e.get("malformed") is None and record_key(e) is not None]
        return {
            "via": "sandbox",
            "event_ids": [record_key(entry) for entry in valid],
            "keys": [(str(entry["installation_id"]), record_key(entry)) for entry in valid],
            "malformed": len(entries) - len(valid),
            "messages": int(result.get("deliveries", len(entries))),
            "undelivered": int(result.get("undelivered", 0)),
        }

    def prepare_event_delivery(self) -> None:
        """The event runner polls the deployed queue."""
        from ..local.runtime import ensure_event_runner

        ensure_event_runner(self.settings)

    def events_not_arriving_hint(self) -> str:
        return "Is the event runner up (`bwp-workshop local status`)? Its log is .bwp/logs/event-runner.log."

    def handler_log_lines(self, messages: tuple[str, ...]) -> list[str]:
        """The event runner's log (it hosts the handler), every line: the caller picks ``messages``."""
        from ..local.event_runner import SERVICE_NAME
        from ..local.processes import ProcessRegistry

        path = ProcessRegistry(self.settings.bwp_dir).log_dir / f"{SERVICE_NAME}.log"
        try:
            return path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def operator_client(self, service: str) -> Any:
        """The target's own client: the local AWS checks no roles."""
        from .. import aws

        return aws.client(service, self.settings)

    # --- local services ------------------------------------------------------------------
    def readiness(self) -> Readiness:
        """Whether every local service runs."""
        states = {service.name: service.state for service in self.status()}
        running = all(state == "running" for state in states.values())
        detail = ", ".join(f"{name} {state}" for name, state in states.items())
        return Readiness("local runtime", running, detail, "Start it: `bwp-workshop local up` (the next cell does).")

    def up(self) -> list[Change]:
        from ..local.runtime import LocalRuntime

        return LocalRuntime(self.settings).up()

    def down(self) -> list[Change]:
        from ..local.runtime import LocalRuntime

        return LocalRuntime(self.settings).down()

    def status(self) -> list[ServiceStatus]:
        from ..local.runtime import LocalRuntime

        return LocalRuntime(self.settings).status()

    def local_service_at(self, host: str, port: int) -> str | None:
        from ..local.runtime import service_ports

        if host not in {self.settings.local_host, "localhost", "127.0.0.1"}:
            return None
        return service_ports(self.settings).get(port)

    def warm_clients(self, services: tuple[str, ...]) -> None:
        from .. import aws

        for service in services:
            aws.client(service, self.settings)
