"""The app's client credentials from Secrets Manager (the secret the onboarding step writes),
cached for ``CACHE_SECONDS``: a secret rotated in Secrets Manager is picked up within that time
without a redeploy, or at once by a caller that reads again with ``refresh`` (after the token
endpoint refused the cached pair)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from ..names import CLIENT_SECRET_ID_KEY, CLIENT_SECRET_SECRET_KEY


class CredentialsUnavailable(Exception):
    """The secret is missing or malformed. The message names the secret, never its value."""


#: How long a read secret is used before it is read again (seconds).
CACHE_SECONDS = 300.0

_cache: dict[str, tuple[tuple[str, str], float]] = {}
_lock = threading.Lock()


def client_credentials(secrets_client: Any, secret_name: str, *, refresh: bool = False) -> tuple[str, str]:
    """``(client_id, client_secret)`` from the JSON secret ``secret_name`` (read again when the
    cached copy is older than ``CACHE_SECONDS``, or with ``refresh``)."""
    with _lock:
        cached = _cache.get(secret_name)
        if not refresh and cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
    try:
        value = secrets_client.get_secret_value(SecretId=secret_name)["SecretString"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        raise CredentialsUnavailable(f"cannot read secret {secret_name} ({code})") from None
    try:
        data = json.loads(value)
        pair = (str(data[CLIENT_SECRET_ID_KEY]), str(data[CLIENT_SECRET_SECRET_KEY]))
    except (ValueError, KeyError, TypeError):
        raise CredentialsUnavailable(
            f"secret {secret_name} is not a JSON object with {CLIENT_SECRET_ID_KEY} and {CLIENT_SECRET_SECRET_KEY}"
        ) from None
    if not all(pair):
        raise CredentialsUnavailable(f"secret {secret_name} has an empty {CLIENT_SECRET_ID_KEY} or client secret")
    with _lock:
        _cache[secret_name] = (pair, time.monotonic())
    return pair


def clear_cache() -> None:
    with _lock:
        _cache.clear()
