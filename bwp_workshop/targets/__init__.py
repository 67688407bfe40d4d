"""Where the workshop runs: the :class:`Target` that ``settings.target`` names,
:func:`choose_target`. What is passed down is the :class:`~bwp_workshop.settings.Settings`,
explicitly, from the notebook's ``start`` or the CLI; a Target holds nothing but those settings,
so whoever needs one makes it from them and gets the same answers. Steps and notebooks ask it
what differs between the ``local`` target (moto server and the Buy with Prime sandbox on this
machine) and the ``aws`` target (an account and the real Buy with Prime); they never branch on
which one it is.

* :class:`~bwp_workshop.targets.local.LocalTarget`: the local runtime's services.
* :class:`~bwp_workshop.targets.aws.AwsTarget`: the caller's account and credential chain.
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from ..settings import Settings

if TYPE_CHECKING:
    import aws_cdk as cdk
    import boto3

    from ..local.processes import ServiceStatus
    from ..local.runtime import Change
    from ..sandbox.client import SandboxClient

#: How test events are sent when the caller says ``via="auto"``.
EventRoute = Literal["sandbox", "eventbridge"]
#: How the dead-letter queue's messages go back to the event queue with ``method="auto"``.
RedriveMethod = Literal["copy", "move-task"]
#: What answers the analytics queries.
AnalyticsEngine = Literal["duckdb", "athena"]
#: Runs a docker command (``argv``, and what to write to its standard input, or None).
Docker = Callable[[list[str], "str | None"], None]


class Readiness(NamedTuple):
    """Whether the target can be used now: what was checked, the outcome, and what to do."""

    name: str
    ok: bool
    detail: str
    hint: str = ""


class Target(ABC):
    """What differs between the targets, asked by the code that runs on either. It holds the
    settings it was chosen from (:attr:`settings`)."""

    #: ``local`` or ``aws``: the value of BWP_TARGET (and the CLI's ``--target``).
    name: ClassVar[Literal["local", "aws"]]
    #: Whether Buy with Prime calls the app's URLs over the internet, so they must be HTTPS.
    requires_https: ClassVar[bool]
    #: Whether the event queue takes messages put on it directly (on aws only EventStack's rules may).
    queue_accepts_direct_sends: ClassVar[bool]
    #: How test events go when no route is named: the sandbox's merchant activity, or EventBridge.
    default_event_route: ClassVar[EventRoute]
    #: How the dead-letter queue is redriven when no method is named.
    redrive_method: ClassVar[RedriveMethod]
    #: What answers the analytics queries: DuckDB over a synced copy, or Athena.
    analytics_engine: ClassVar[AnalyticsEngine]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"{type(self).__name__}(region={self.settings.region!r}, state={str(self.settings.bwp_dir)!r})"

    # --- AWS: endpoint, session, account, tools -------------------------------------------
    @property
    @abstractmethod
    def endpoint_url(self) -> str | None:
        """The AWS endpoint override (the moto server on local, none on aws)."""

    @abstractmethod
    def new_session(self) -> boto3.Session:
        """A new boto3 session (:func:`bwp_workshop.aws.session` caches it)."""

    @abstractmethod
    def account_id(self) -> str:
        """The account the stacks deploy into."""

    @abstractmethod
    def tool_environment(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` made right for an AWS tool run as a subprocess (the cdk CLI, the AWS CLI)."""

    @abstractmethod
    def credentials_hint(self) -> str:
        """What to do when the target's AWS refuses or cannot be reached."""

    @abstractmethod
    def aws_answers(self) -> bool:
        """Whether the target's AWS answers (on aws: assumed; the CLI reports credential problems)."""

    @abstractmethod
    def require_reachable(self) -> None:
        """Raise a ``DeployError`` when the target's AWS cannot be deployed to at all."""

    @abstractmethod
    def client_credentials_hint(self) -> str:
        """Where the app's client id and secret come from."""

    # --- CDK -----------------------------------------------------------------------------
    @abstractmethod
    def stack_synthesizer(self) -> cdk.IStackSynthesizer:
        """The synthesizer of every stack."""

    @abstractmethod
    def stack_environment(self) -> cdk.Environment:
        """The stacks' account and region."""

    @abstractmethod
    def availability_zones(self) -> list[str] | None:
        """The VPC's zones when the target fixes them (None: the account's)."""

    @abstractmethod
    def tls_front(self) -> bool:
        """Whether InfraStack serves the app over HTTPS through CloudFront."""

    @abstractmethod
    def bootstrap_before_deploy(self) -> bool:
        """Whether a deploy bootstraps the environment itself first."""

    @abstractmethod
    def missing_event_source(self, events: Any, source: str) -> None:
        """The partner event source ``source`` does not exist: create it, or say who does."""

    # --- the app -------------------------------------------------------------------------
    @abstractmethod
    def app_base_url(self) -> str:
        """The app's base URL as Buy with Prime calls it."""

    @abstractmethod
    def start_app(self, timeout: float) -> None:
        """Bring the app up with the current configuration, until its service runs."""

    @abstractmethod
    def image_in_registry(self, tag: str) -> bool:
        """Whether the image registry already holds the app's image ``tag``."""

    @abstractmethod
    def publish_image(self, image: str, docker: Docker) -> str:
        """Publish the image Docker built as ``image`` (running ``docker``); what was done, in a sentence."""

    @abstractmethod
    def codebuild_outcome(self, build_id: str, tag: str) -> tuple[bool, str]:
        """Whether a finished CodeBuild build built an image, and what it did, in a sentence."""

    @abstractmethod
    def image_build_detail(self, with_docker: bool) -> str:
        """Where the app's image is built (Docker here, or CodeBuild), for the preflight."""

    # --- Buy with Prime -----------------------------------------------------------------
    @abstractmethod
    def public_key(self) -> str:
        """The PEM of the key that signs verification tokens ("" while there is none yet)."""

    @abstractmethod
    def sandbox(self) -> SandboxClient | None:
        """A client of the Buy with Prime sandbox (to use in a ``with``), or None where there is none."""

    @abstractmethod
    def install_console_url(self) -> str:
        """The page a person opens to install the app as a merchant."""

    @abstractmethod
    def browser_install_steps(self) -> str:
        """What to click on :meth:`install_console_url`."""

    # --- events, logs --------------------------------------------------------------------
    @abstractmethod
    def send_merchant_activity(
        self, orders: int, installation_id: str | None, duplicates: int, malformed: int, history_hours: float
    ) -> dict[str, Any]:
        """Events of ``orders`` simulated orders of the installation's merchant walking their
        lifecycles (``duplicates`` delivered twice, ``malformed`` broken ones added, orders placed
        over the past ``history_hours``): ``{"via", "event_ids", "keys", "malformed", "messages",
        "undelivered"}``. Only a sandbox simulates merchants."""

    @abstractmethod
    def prepare_event_delivery(self) -> None:
        """Make sure what carries events from the queue to the handler polls the deployed queue."""

    @abstractmethod
    def events_not_arriving_hint(self) -> str:
        """Where to look when sent events do not reach the data table."""

    @abstractmethod
    def handler_log_lines(self, messages: tuple[str, ...]) -> list[str]:
        """The event handler's log lines, at least those that hold one of ``messages``."""

    @abstractmethod
    def operator_client(self, service: str) -> Any:
        """A ``service`` client with the rights of EventStack's operator role."""

    # --- local services ------------------------------------------------------------------
    @abstractmethod
    def readiness(self) -> Readiness:
        """Whether the target can be used now (the local services run; AWS credentials work)."""

    @abstractmethod
    def up(self) -> list[Change]:
        """Start the local services, or bring them in line with what is deployed (aws: none)."""

    @abstractmethod
    def down(self) -> list[Change]:
        """Stop the local services ``up`` started (aws: none)."""

    @abstractmethod
    def status(self) -> list[ServiceStatus]:
        """Each local service: running, stopped or unhealthy (aws: none)."""

    @abstractmethod
    def local_service_at(self, host: str, port: int) -> str | None:
        """The local service that listens at ``host:port`` (aws: none)."""

    @abstractmethod
    def warm_clients(self, services: tuple[str, ...]) -> None:
        """Make the clients a notebook's first cell uses, while the kernel waits."""


class _SearchPaths(list[str]):
    """The model loader's folders. boto3 adds its own to the loader of every session it makes;
    with one loader for the process, once is enough."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def _model_loader() -> Any:
    """The process's one loader of botocore's service models (AWS_DATA_PATH honoured, as
    botocore's own loader does)."""
    import botocore.loaders

    extra = [os.path.expanduser(p) for p in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if p]
    return botocore.loaders.Loader(extra_search_paths=_SearchPaths(extra))


def botocore_session(session_vars: dict[str, Any] | None = None) -> Any:
    """A botocore session (for ``boto3.Session(botocore_session=...)``) that reads the service
    models through the process's one loader: a session with a loader of its own parses each
    service's JSON model again, tens of milliseconds a client."""
    import botocore.session

    core = botocore.session.Session(session_vars=session_vars)
    core.register_component("data_loader", _model_loader())
    return core


def choose_target(settings: Settings) -> Target:
    """The target ``settings.target`` names, holding ``settings``."""
    if settings.target == "aws":
        from .aws import AwsTarget

        return AwsTarget(settings)
    from .local import LocalTarget

    return LocalTarget(settings)


__all__ = [
    "AnalyticsEngine",
    "Docker",
    "EventRoute",
    "Readiness",
    "RedriveMethod",
    "Target",
    "botocore_session",
    "choose_target",
]
