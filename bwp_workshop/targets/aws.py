"""The aws target: the caller's account through the normal boto3 credential chain, and the
real Buy with Prime."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from . import AnalyticsEngine, Docker, EventRoute, Readiness, RedriveMethod, Target, botocore_session

if TYPE_CHECKING:
    import aws_cdk as cdk
    import boto3

    from ..local.processes import ServiceStatus
    from ..local.runtime import Change
    from ..sandbox.client import SandboxClient


class AwsTarget(Target):
    """An AWS account and region; Buy with Prime calls the app over the internet."""

    name: ClassVar[Literal["local", "aws"]] = "aws"
    requires_https: ClassVar[bool] = True
    queue_accepts_direct_sends: ClassVar[bool] = False
    default_event_route: ClassVar[EventRoute] = "eventbridge"
    redrive_method: ClassVar[RedriveMethod] = "move-task"
    analytics_engine: ClassVar[AnalyticsEngine] = "athena"

    # --- AWS -----------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str | None:
        return None

    def new_session(self) -> boto3.Session:
        """It must find credentials; when it does not, a ``CredentialsError`` says how to give them."""
        import boto3
        from botocore.exceptions import BotoCoreError

        from ..aws import SIGN_IN_HINT, credentials_error
        from ..errors import CredentialsError

        try:
            new = boto3.Session(botocore_session=botocore_session(), region_name=self.settings.region)
            found = new.get_credentials()
        except BotoCoreError as error:  # a profile that does not exist, an SSO cache that cannot be read
            raise credentials_error(error) from None
        if found is None:
            raise CredentialsError("No AWS credentials found for the aws target.", hint=SIGN_IN_HINT)
        return new

    def account_id(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        from .. import aws

        try:
            return str(aws.client("sts", self.settings).get_caller_identity()["Account"])
        except (BotoCoreError, ClientError) as error:
            raise aws.credentials_error(error) from None

    def tool_environment(self, env: dict[str, str]) -> dict[str, str]:
        """As it is: the caller's credential chain applies."""
        return dict(env)

    def credentials_hint(self) -> str:
        return "Sign in to AWS (`aws sso login`, AWS_PROFILE or access keys) for the account and region you deploy to."

    def aws_answers(self) -> bool:
        return True

    def require_reachable(self) -> None:
        """Nothing to check before the CLI runs: it reports credential problems itself."""

    def client_credentials_hint(self) -> str:
        return (
            "Paste the values Buy with Prime sent when it approved your app onboarding request "
            "into .env (or pass them as notebook parameters)."
        )

    # --- CDK -----------------------------------------------------------------------------
    def stack_synthesizer(self) -> cdk.IStackSynthesizer:
        import aws_cdk as cdk

        return cdk.DefaultStackSynthesizer()

    def stack_environment(self) -> cdk.Environment:
        """Whatever account the CLI's credentials resolve to."""
        import aws_cdk as cdk

        return cdk.Environment(account=cdk.Aws.ACCOUNT_ID, region=self.settings.region)

    def availability_zones(self) -> list[str] | None:
        return None

    def tls_front(self) -> bool:
        """Without a certificate: HTTPS through CloudFront (no domain needed)."""
        return not self.settings.certificate_arn

    def bootstrap_before_deploy(self) -> bool:
        return False  # an account is bootstrapped once, on purpose (notebook 00)

    def missing_event_source(self, events: Any, source: str) -> None:
        from ..errors import SetupError

        raise SetupError(
            f"The partner event source {source} does not exist in account "
            f"{self.account_id()} ({self.settings.region}).",
            hint="Subscribe first: create a Buy with Prime event subscription with an EventBridge "
            "destination for this account, region and source name; Buy with Prime then creates the "
            "source, which you associate here.",
        )

    # --- the app -------------------------------------------------------------------------
    def app_base_url(self) -> str:
        """The load balancer's (or CloudFront's) DNS name, lowercased, with its scheme
        (InfraStack's ``AppBaseUrl``)."""
        from .. import names
        from ..outputs import stack_output

        return stack_output(self.settings, names.INFRA_STACK, names.OUT_APP_BASE_URL).lower().rstrip("/")

    def start_app(self, timeout: float) -> None:
        """Until the Fargate service runs the tasks it wants."""
        import time

        from .. import aws, names
        from ..errors import ConfigurationError, WorkshopError
        from ..outputs import load_outputs

        outputs = load_outputs(self.settings).get(names.ECS_STACK, {})
        cluster, service = outputs.get(names.OUT_CLUSTER_NAME), outputs.get(names.OUT_SERVICE_NAME)
        if not cluster or not service:
            raise ConfigurationError("EcsStack is not deployed.", hint="Deploy it first: deploy('EcsStack').")
        ecs = aws.client("ecs", self.settings)
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

    def image_in_registry(self, tag: str) -> bool:
        """Whether the ECR repository holds ``tag`` (its tags are immutable: a push would fail)."""
        from .. import aws, names

        ecr = aws.client("ecr", self.settings)
        try:
            ecr.describe_images(repositoryName=names.REPOSITORY_NAME, imageIds=[{"imageTag": tag}])
        except ecr.exceptions.ImageNotFoundException:
            return False
        return True

    def publish_image(self, image: str, docker: Docker) -> str:
        """Pushed to ECR."""
        from .. import aws

        token = aws.client("ecr", self.settings).get_authorization_token()["authorizationData"][0]
        user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
        docker(["docker", "login", "--username", user, "--password-stdin", token["proxyEndpoint"]], password)
        docker(["docker", "push", image], None)
        return "Built and pushed."

    def codebuild_outcome(self, build_id: str, tag: str) -> tuple[bool, str]:
        return True, f"Built and pushed by CodeBuild (build {build_id})."

    def image_build_detail(self, with_docker: bool) -> str:
        from .. import names

        if with_docker:
            return "Docker on this machine, pushed to ECR"
        return f"CodeBuild project {names.IMAGE_BUILD_PROJECT} in the account (InfraStack), pushed to ECR"

    # --- Buy with Prime -----------------------------------------------------------------
    def public_key(self) -> str:
        """BWP_PUBLIC_KEY, else Buy with Prime's published key (the settings' default on aws)."""
        return self.settings.public_key

    def sandbox(self) -> SandboxClient | None:
        return None  # the real Buy with Prime has no sandbox this workshop drives

    def install_console_url(self) -> str:
        """The Buy with Prime console (the host of the authorize endpoint)."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.settings.authorize_url)
        return f"{parts.scheme}://{parts.netloc}/"

    def browser_install_steps(self) -> str:
        return (
            "Sign in to the Buy with Prime console as your test merchant, open your app's page in the "
            "marketplace and click Install; then set BWP_INSTALLATION_ID in .env to the installation id "
            "the token table shows."
        )

    # --- events, logs --------------------------------------------------------------------
    def send_merchant_activity(
        self, orders: int, installation_id: str | None, duplicates: int, malformed: int, history_hours: float
    ) -> dict[str, Any]:
        from ..errors import ConfigurationError

        raise ConfigurationError(
            "The Buy with Prime sandbox exists only on the local target.",
            hint="On aws, real events come from your store; use via='eventbridge' to test the consumer alone.",
        )

    def prepare_event_delivery(self) -> None:
        """Nothing: the Lambda's event source mapping polls the queue."""

    def events_not_arriving_hint(self) -> str:
        return "Check the Lambda's log group and the event source mapping in the console."

    def handler_log_lines(self, messages: tuple[str, ...]) -> list[str]:
        """The Lambda's log group, filtered to the lines that hold one of ``messages``."""
        from .. import aws, names
        from ..outputs import stack_output

        group = stack_output(self.settings, names.EVENT_STACK, names.OUT_HANDLER_LOG_GROUP)
        logs = aws.client("logs", self.settings)
        lines: list[str] = []
        pattern = " ".join(f'?"{text}"' for text in messages)
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, filterPattern=pattern):
            lines.extend(event.get("message", "") for event in page.get("events", []))
        return lines

    def operator_client(self, service: str) -> Any:
        """With the operator role's credentials (assumed now; the caller needs ``sts:AssumeRole``
        on it), or the caller's own when the deployed EventStack has no operator role."""
        from botocore.exceptions import ClientError

        from .. import aws, names
        from ..outputs import load_outputs

        role_arn = load_outputs(self.settings).get(names.EVENT_STACK, {}).get(names.OUT_OPERATOR_ROLE_ARN)
        if not role_arn:
            return aws.client(service, self.settings)
        try:
            answer = aws.client("sts", self.settings).assume_role(
                RoleArn=role_arn, RoleSessionName="bwp-workshop-operator"
            )
        except ClientError as error:
            raise aws.failed(
                f"Assuming EventStack's operator role {role_arn}",
                error,
                hint="Your identity needs sts:AssumeRole on that role (an account administrator has it).",
            ) from None
        credentials = answer["Credentials"]
        return aws.session(self.settings).client(
            service,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    # --- local services: none ------------------------------------------------------------
    def readiness(self) -> Readiness:
        """Whether the credential chain finds credentials that work."""
        from .. import aws
        from ..errors import CredentialsError

        try:
            account = self.account_id()
        except CredentialsError as error:
            return Readiness("AWS credentials", False, error.message, error.hint)
        except Exception as error:  # the credential chain raises many types; say what to do all the same
            problem = aws.credentials_error(error)
            return Readiness("AWS credentials", False, problem.message, problem.hint)
        return Readiness("AWS credentials", True, f"account {account}, region {self.settings.region}")

    def up(self) -> list[Change]:
        return []

    def down(self) -> list[Change]:
        return []

    def status(self) -> list[ServiceStatus]:
        return []

    def local_service_at(self, host: str, port: int) -> str | None:
        return None

    def warm_clients(self, services: tuple[str, ...]) -> None:
        """None made: on aws the first cell's clients wait for the credentials the cell checks."""
