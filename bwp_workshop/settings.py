"""The workshop's configuration: one pydantic-settings class, read from the environment and `.env`.

Precedence, highest first: process environment, the project's ``.env`` file, the defaults
below. Every variable is documented in ``.env.example``.

Facts about Buy with Prime that are not publicly confirmed (token URL, API version, the
verification-token key) are defaults here, never constants in code, so they can be changed
without a release.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import setting_checks as checks
from .errors import ConfigurationError
from .project import dotenv_path as dotenv_path  # where .env is, named where it is read
from .project import find_project_dir as find_project_dir
from .setting_checks import LOG_RETENTION_DAYS as LOG_RETENTION_DAYS  # the stacks read it here
from .setting_checks import is_placeholder

# BWP_PUBLIC_KEY_PEM, Buy with Prime's published verification key (the aws target's default),
# lives with the verification code, which the OAuth app's image carries. On the local target
# the sandbox's own key is used. It is imported when first needed: the verification code pulls
# in PyJWT and cryptography, which a notebook's first cell does not need.


def __getattr__(name: str) -> str:
    if name == "BWP_PUBLIC_KEY_PEM":
        from .core.verification import BWP_PUBLIC_KEY_PEM

        return BWP_PUBLIC_KEY_PEM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The real Buy with Prime endpoints, used on the aws target unless set otherwise.
AWS_BWP_ENDPOINTS = {
    "authorize_url": "https://console.buywithprime.amazon.com/marketplace/authorize",
    "token_url": "https://api.buywithprime.amazon.com/token",
    "graphql_url": "https://api.buywithprime.amazon.com/graphql",
}
#: The sandbox serves the authorize endpoint at the same path as the real console.
SANDBOX_AUTHORIZE_PATH = "/marketplace/authorize"


class Settings(BaseSettings):
    """Everything the workshop reads from its environment. Field ``x`` is variable ``BWP_X``
    unless an alias says otherwise."""

    model_config = SettingsConfigDict(
        env_prefix="BWP_",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
        hide_input_in_errors=True,  # a validation error must never echo the client secret
    )

    # --- where and what --------------------------------------------------------------
    target: Literal["local", "aws"] = Field(
        "local", description="`local` (moto server + BwP sandbox, no accounts needed) or `aws`."
    )
    region: Annotated[str, AfterValidator(checks.region_shape)] = Field(
        default_factory=lambda: os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        description="AWS region of the stacks and the partner event source: BWP_REGION (environment or "
        ".env), else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.",
    )
    project_dir: Path = Field(default_factory=find_project_dir, description="The workshop checkout.")
    state_dir: Path | None = Field(
        None, description="Runtime state (stack outputs, local processes); default <project>/.bwp."
    )
    build_dir: Path | None = Field(
        None, description="Cache of built artifacts (the event Lambda's folder); default <state dir>/build."
    )

    # --- Buy with Prime app credentials and installation ------------------------------
    client_id: str = Field("", description="OAuth client id issued when the app onboarding is approved.")
    client_secret: SecretStr = Field(SecretStr(""), description="OAuth client secret issued with the client id.")
    installation_id: str = Field("", description="Installation to use in API examples (set after install).")
    event_bus_arn: Annotated[str, AfterValidator(checks.event_bus_arn_shape)] = Field(
        "",
        validation_alias=AliasChoices("EVENT_BUS_ARN", "BWP_EVENT_BUS_ARN"),
        description="ARN of the partner event bus aws.partner/buywithprime/<name>.",
    )

    event_source_name: str = Field(
        "supadupa-analytics",
        pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="<name> of the partner event source aws.partner/buywithprime/<name> that event "
        "subscriptions deliver to (globally unique on aws: pick one for your company).",
    )

    event_destination: Literal["eventbridge", "webhook"] = Field(
        "eventbridge",
        description="Where notebook 05 has Buy with Prime deliver events: eventbridge (the partner event bus) "
        "or webhook (the app's /webhooks/events, which puts them on EventStack's webhook bus).",
    )

    # --- Buy with Prime endpoints (unconfirmed facts are configurable) ----------------
    # Empty means "the target's default": the real BwP on aws, the sandbox on local.
    authorize_url: str = Field("", description="BwP authorize endpoint (empty: the target's default).")
    token_url: str = Field("", description="BwP token endpoint (empty: the target's default).")
    graphql_url: str = Field("", description="BwP GraphQL endpoint (empty: the target's default).")
    api_version: str = Field("2024-11-01", description="Sent as x-api-version; empty sends none.")
    public_key: Annotated[str, AfterValidator(checks.public_key_pem)] = Field(
        "",
        description="PEM of the key that signs verification tokens (empty: BwP's published key on aws, "
        "the sandbox's key on local, read from its file when used).",
    )

    # --- the stacks -------------------------------------------------------------------------
    certificate_arn: Annotated[str, AfterValidator(checks.certificate_arn_shape)] = Field(
        "",
        description="ACM certificate ARN for an HTTPS:443 listener on the load balancer (HTTP then "
        "redirects to HTTPS); empty: HTTP only.",
    )
    app_domain_name: str = Field(
        "",
        description="DNS name the certificate covers and that points at the load balancer; the app's base "
        "URL uses it when set (empty: the load balancer's own DNS name).",
    )
    token_table_key: Literal["aws-owned", "customer"] = Field(
        "aws-owned",
        description="Encryption key of the token table (it holds every merchant's refresh token): aws-owned "
        "(DynamoDB's default), or customer: a customer-managed KMS key (about 1 USD a month) whose policy "
        "lets only the OAuth app's and the event handler's roles (and BWP_TOKEN_KEY_USERS) use it, through "
        "DynamoDB, each use in CloudTrail.",
    )
    token_key_users: str = Field(
        "",
        pattern=r"^(arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+)?(,arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+)*$",
        description="With token_table_key=customer: comma-separated IAM role ARNs that may also use the key, "
        "such as the role the notebooks run as (they read tokens to call the Buy with Prime API); empty: none.",
    )
    alarm_email: str = Field(
        "",
        pattern=r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$",
        description="E-mail address subscribed to the alarms' SNS topic (it confirms from the message AWS "
        "sends); empty: no subscription, the alarms still show in CloudWatch.",
    )
    image_tag: str = Field(
        "",
        pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$",
        description="Tag of the OAuth app image in the ECR repository, whose tags are immutable (empty: "
        "src-<hash of the image's sources>, a new tag whenever the app changes).",
    )
    lambda_timeout: int = Field(
        30, ge=1, le=900, description="Event Lambda timeout in seconds (the queue's visibility timeout is 6x)."
    )
    max_receive_count: int = Field(
        10,
        ge=1,
        le=1000,
        description="Receives of one message before the queue moves it to the dead-letter queue. With the "
        "visibility timeout (6x the Lambda timeout) it sets how long a transient failure is retried: "
        "(count - 1) x visibility, 27 minutes with the defaults.",
    )
    event_batch_size: int = Field(10, ge=1, le=10000, description="Messages per Lambda invocation (SQS batch).")
    event_batch_window: int = Field(
        1, ge=0, le=300, description="Seconds the event source waits to fill a batch (0: no wait)."
    )
    event_max_concurrency: int = Field(
        5,
        ge=2,
        le=1000,
        description="Most concurrent Lambda invocations the queue's event source starts (it bounds the calls "
        "to the Buy with Prime token endpoint and API in a burst of events).",
    )
    log_retention_days: Annotated[int, AfterValidator(checks.log_retention_value)] = Field(
        30, description="Retention of the app's and the Lambda's CloudWatch log groups, in days."
    )
    log_level: Annotated[str, AfterValidator(checks.log_level_name)] = Field(
        "INFO", description="Log level of the event Lambda (DEBUG, INFO, WARNING, ERROR)."
    )
    assembly_cache: bool = Field(
        True,
        description="Reuse the synthesized stacks (the cloud assembly under <state dir>/cdk.out) while nothing "
        "that shapes a template changed; false synthesizes on every deploy, diff and destroy.",
    )

    # --- the local runtime --------------------------------------------------------------
    local_host: str = Field("127.0.0.1", description="Address the local services bind to.")
    local_moto_port: int = Field(4566, ge=1, le=65535, description="Port of the local AWS (moto server).")
    local_sandbox_port: int = Field(4567, ge=1, le=65535, description="Port of the BwP sandbox.")
    local_app_port: int = Field(8080, ge=1, le=65535, description="Port of the local OAuth app.")
    local_ready_timeout: float = Field(30.0, gt=0, description="Seconds to wait for a local service.")
    local_event_runner_port: int = Field(
        4568, ge=1, le=65535, description="Port of the local event runner's health endpoint."
    )
    local_event_retry_after: float = Field(
        1.0,
        ge=0,
        description="Seconds until the local event runner redelivers a failed record at its first receive; "
        "the delay doubles with each receive, up to 60 s (AWS waits for the queue's visibility timeout).",
    )
    local_alarm_minute: float = Field(
        60.0,
        gt=0,
        le=60,
        description="Seconds a CloudWatch minute lasts in the local alarm evaluation: 60 evaluates the "
        "alarms' periods as CloudWatch does; less makes alarms fire and clear sooner (a rehearsal in a "
        "hurry, the tests).",
    )

    @model_validator(mode="after")
    def _target_defaults(self) -> Settings:
        """Fill the BwP endpoints left empty with the target's: BwP's public ones on aws, the
        sandbox's on local; and the key on aws (BwP's published one). On local the sandbox's key
        is read where it is used (:meth:`~bwp_workshop.targets.Target.public_key`): the sandbox
        writes it when it first starts, after these settings may have been read."""
        defaults = AWS_BWP_ENDPOINTS if self.target == "aws" else self.sandbox_endpoints
        for name, url in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, url)
        if not self.public_key and self.target == "aws":
            from .core.verification import BWP_PUBLIC_KEY_PEM

            object.__setattr__(self, "public_key", BWP_PUBLIC_KEY_PEM)
        return self

    @model_validator(mode="after")
    def _no_placeholders_on_aws(self) -> Settings:
        if self.target != "aws":
            return self
        checks = {
            "BWP_CLIENT_ID": self.client_id,
            "BWP_CLIENT_SECRET": self.client_secret.get_secret_value(),
        }
        for variable, value in checks.items():
            if value and is_placeholder(value):
                raise ValueError(
                    f"{variable} holds a placeholder value on the aws target. Set {variable} to the "
                    "value Buy with Prime issued when it approved your app onboarding request "
                    "(in .env or the environment), or leave it empty until then."
                )
        return self

    @property
    def bwp_dir(self) -> Path:
        """Where runtime state lives: ``BWP_STATE_DIR`` (relative to the project), else ``.bwp/``."""
        return (self.project_dir / (self.state_dir or ".bwp")).expanduser().resolve()

    @property
    def build_cache_dir(self) -> Path:
        """Where built artifacts are cached: ``BWP_BUILD_DIR`` (relative to the project), else ``<state dir>/build``."""
        if self.build_dir is None:
            return self.bwp_dir / "build"
        return (self.project_dir / self.build_dir).expanduser().resolve()

    @property
    def sandbox_dir(self) -> Path:
        """The BwP sandbox's state (app registrations, installations, orders, signing key)."""
        return self.bwp_dir / "sandbox"

    @property
    def sandbox_public_key_file(self) -> Path:
        """PEM of the key the sandbox signs verification tokens with, written when it first starts."""
        return self.sandbox_dir / "verification-key.pub.pem"

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.local_host}:{self.local_sandbox_port}"

    @property
    def sandbox_endpoints(self) -> dict[str, str]:
        return {
            "authorize_url": f"{self.sandbox_url}{SANDBOX_AUTHORIZE_PATH}",
            "token_url": f"{self.sandbox_url}/token",
            "graphql_url": f"{self.sandbox_url}/graphql",
        }

    @property
    def local_app_url(self) -> str:
        """Where the local stand-in of the Fargate service listens."""
        return f"http://{self.local_host}:{self.local_app_port}"

    @property
    def local_aws_endpoint(self) -> str:
        """The moto endpoint. ``localhost`` rather than 127.0.0.1 on purpose: moto reads S3
        template URLs path-style only when the host is ``localhost``."""
        return f"http://localhost:{self.local_moto_port}"

    def require_client_credentials(self) -> tuple[str, str]:
        """The client id and secret, or an error that says where to put them."""
        missing = [
            name
            for name, value in (
                ("BWP_CLIENT_ID", self.client_id),
                ("BWP_CLIENT_SECRET", self.client_secret.get_secret_value()),
            )
            if not value
        ]
        if missing:
            from .targets import choose_target

            raise ConfigurationError(
                f"{' and '.join(missing)} not set.", hint=choose_target(self).client_credentials_hint()
            )
        return self.client_id, self.client_secret.get_secret_value()

    def masked(self) -> dict[str, str]:
        """All settings as strings, with the secret masked; safe to print."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "********" if value.get_secret_value() else ""
            elif name == "public_key":
                text = f"PEM, sha256 {hashlib.sha256(value.encode()).hexdigest()[:16]}"
            else:
                text = str(value) if value is not None else ""
            shown[name] = text
        shown["bwp_dir"] = str(self.bwp_dir)
        return shown


def get_settings(**overrides: Any) -> Settings:
    """Read the settings afresh (the environment and ``<project>/.env``), so a cell that just
    wrote ``.env`` sees the new values. Errors become a ``ConfigurationError`` that names the
    variable to fix."""
    project_dir = Path(str(overrides["project_dir"])) if "project_dir" in overrides else find_project_dir()
    env_file = dotenv_path(project_dir)
    try:
        return Settings(_env_file=env_file if env_file.is_file() else None, **overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{_variable_name(field)}: {message}")
        raise ConfigurationError(
            "Invalid workshop configuration:\n  " + "\n  ".join(problems),
            hint=f"Fix the variable in the environment or in {env_file} (see .env.example).",
        ) from None


def _variable_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"BWP_{field.upper()}" if info else field
