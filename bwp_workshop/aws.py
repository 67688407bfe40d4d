"""The one place that hands out boto3 sessions and clients for the selected target.

* ``local``: every client talks to the moto server of the local runtime, with dummy
  credentials, so nothing can reach a real account by mistake.
* ``aws``: the normal boto3 credential chain (environment, profile, SSO, instance role);
  when it finds nothing, a ``CredentialsError`` says how to provide credentials.

Nothing here creates a client at import time; clients are cached per target, region and
endpoint, so repeated calls are cheap and a changed setting gets fresh clients.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    UnauthorizedSSOTokenError,
)

from .errors import CredentialsError, SetupError
from .settings import Settings
from .targets import choose_target
from .targets.local import LOCAL_ACCOUNT_ID as LOCAL_ACCOUNT_ID  # the local target's, named where clients are
from .targets.local import LOCAL_CREDENTIALS as LOCAL_CREDENTIALS

#: How to give the aws target credentials (shown wherever they are missing or refused).
SIGN_IN_HINT = (
    "Sign in first, in the terminal that starts JupyterLab (or set the variables in .env): "
    "with AWS IAM Identity Center, `aws configure sso` once, then `aws sso login --profile NAME` and "
    "AWS_PROFILE=NAME; with access keys, `aws configure` or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(and AWS_SESSION_TOKEN for temporary keys). Check with `aws sts get-caller-identity`. "
    "No account yet? Set BWP_TARGET=local to rehearse the whole workshop without one."
)

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)

_lock = threading.Lock()
_sessions: dict[tuple[str, str], boto3.Session] = {}
_clients: dict[tuple[str, str, str | None, str], Any] = {}


def endpoint_url(settings: Settings) -> str | None:
    """The AWS endpoint override for the target (the moto server on local, none on aws)."""
    return choose_target(settings).endpoint_url


def session(settings: Settings) -> boto3.Session:
    """A boto3 session for the target. On aws it must find credentials."""
    key = (settings.target, settings.region)
    with _lock:
        cached = _sessions.get(key)
    if cached is not None:
        return cached
    new = choose_target(settings).new_session()
    with _lock:
        return _sessions.setdefault(key, new)


def client(service: str, settings: Settings) -> Any:
    """A (cached) boto3 client for ``service`` on the target."""
    endpoint = endpoint_url(settings)
    key = (settings.target, settings.region, endpoint, service)
    with _lock:
        cached = _clients.get(key)
    if cached is not None:
        return cached
    shared = session(settings)
    with _lock:  # a boto3 session is not thread-safe; its clients are
        if key not in _clients:
            _clients[key] = shared.client(service, endpoint_url=endpoint, config=_CLIENT_CONFIG)
        return _clients[key]


def resource(service: str, settings: Settings) -> Any:
    """A boto3 resource for ``service`` on the target (resources are not cached: they are
    cheap wrappers and not meant to be shared across threads)."""
    return session(settings).resource(service, endpoint_url=endpoint_url(settings), config=_CLIENT_CONFIG)


def credentials_error(error: Exception) -> CredentialsError:
    """What is wrong with the aws target's credentials, said so a person can act on it (the
    error's text names no secret: botocore's messages carry profile names, not keys)."""
    text = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    if isinstance(error, ProfileNotFound):
        what = f"The AWS profile in AWS_PROFILE does not exist here ({text})."
    elif isinstance(error, SSOTokenLoadError | UnauthorizedSSOTokenError) or "sso" in text.lower():
        what = f"The AWS SSO sign-in has expired or never happened ({text})."
        return CredentialsError(
            what, hint="Run `aws sso login` (with --profile NAME if you use one), then run the cell again."
        )
    elif code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
        what = "The AWS credentials have expired."
    elif code in ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AccessDenied"):
        what = f"AWS refused the credentials ({code})."
    elif isinstance(error, NoCredentialsError):
        what = "No AWS credentials found for the aws target."
    else:
        what = f"The AWS credentials could not be used ({type(error).__name__}: {text})."
    return CredentialsError(what, hint=SIGN_IN_HINT)


def account_id(settings: Settings) -> str:
    """The account the target deploys into."""
    return choose_target(settings).account_id()


def subprocess_environment(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for an AWS tool run as a subprocess (the cdk CLI, the AWS CLI), from
    ``base`` (default: this process's environment), as the target makes it
    (:meth:`~bwp_workshop.targets.Target.tool_environment`), with the region set."""
    env = choose_target(settings).tool_environment(dict(os.environ if base is None else base))
    env.update(AWS_REGION=settings.region, AWS_DEFAULT_REGION=settings.region)
    return env


def clear_cache() -> None:
    """Forget cached sessions and clients (after the target or credentials change)."""
    with _lock:
        _sessions.clear()
        _clients.clear()


def error_code(error: ClientError) -> str:
    """The ``Code`` of an AWS API error."""
    return str(error.response.get("Error", {}).get("Code", ""))


def failed(action: str, error: ClientError, hint: str) -> SetupError:
    """``action`` failed with an AWS API error: its code and message, and what to do."""
    message = error.response.get("Error", {}).get("Message", "")
    return SetupError(f"{action} failed: {error_code(error)} {message}".rstrip(), hint=hint)
