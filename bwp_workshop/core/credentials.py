"""The app's client credentials from Secrets Manager (the secret the onboarding step writes),
read once per process and cached."""

from __future__ import annotations

import json
import threading
from typing import Any

from botocore.exceptions import ClientError

from ..names import CLIENT_SECRET_ID_KEY, CLIENT_SECRET_SECRET_KEY


class CredentialsUnavailable(Exception):
    """The secret is missing or malformed. The message names the secret, never its value."""


_cache: dict[str, tuple[str, str]] = {}
_lock = threading.Lock()


def client_credentials(secrets_client: Any, secret_name: str, *, refresh: bool = False) -> tuple[str, str]:
    """``(client_id, client_secret)`` from the JSON secret ``secret_name``."""
    with _lock:
        if not refresh and secret_name in _cache:
            return _cache[secret_name]
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
        _cache[secret_name] = pair
    return pair


def clear_cache() -> None:
    with _lock:
        _cache.clear()
