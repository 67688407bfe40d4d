"""The credentials of the app's webhook, as Buy with Prime's auth profile carries them
(events-mutations-createauthprofile: OAuth 2.0 client credentials or HTTP basic).

One secret, kept where the app's client secret is (Secrets Manager ``names.CLIENT_SECRET_NAME``,
injected into the app by ECS; ``.env`` on the local target): the webhook secret is an HMAC of
the client secret, so rotating the client secret rotates it (then tell Buy with Prime with
``updateAuthProfile``). The user name / OAuth client id is the app's client id (not secret).

* HTTP basic: ``Authorization: Basic base64(client_id:webhook_secret)``.
* OAuth client credentials: Buy with Prime gets a token at the app's token endpoint with the same
  pair, then sends ``Authorization: Bearer <token>``. A token is ``<expiry>.<HMAC>`` under a key
  derived from the webhook secret: any of the app's tasks can check it, none has to store it.

Every comparison is constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any, Literal

#: Lifetime of a webhook access token, in seconds.
TOKEN_TTL_S = 3600

#: The two kinds of auth profile (events-mutations-createauthprofile).
AuthKind = Literal["oauth", "basic"]
AUTH_KINDS: tuple[str, ...] = ("oauth", "basic")


def webhook_secret(client_secret: str) -> str:
    """The webhook's secret, derived from the app's client secret."""
    return hmac.new(client_secret.encode(), b"bwp-workshop webhook secret", hashlib.sha256).hexdigest()


def auth_config(client_id: str, client_secret: str, kind: str, auth_endpoint: str = "") -> dict[str, Any]:
    """The ``authConfig`` (events-mutations-createauthprofile) of the app's webhook credentials:
    HTTP basic, or OAuth 2.0 client credentials against ``auth_endpoint`` (the app's token
    endpoint). It holds the webhook secret: never print or store it."""
    secret = webhook_secret(client_secret)
    if kind == "basic":
        return {"basicAuthConfig": {"username": client_id, "password": secret}}
    if kind != "oauth" or not auth_endpoint:
        raise ValueError(f"an auth profile is oauth (with its auth endpoint) or basic, not {kind!r}")
    return {
        "oAuthConfig": {
            "clientParameters": {"clientId": client_id, "clientSecret": secret},
            "authEndpoint": auth_endpoint,
            "httpMethod": "POST",
        }
    }


def profile_alias(client_id: str, kind: str, installation_id: str) -> str:
    """The ``authProfileAliasId`` of the installation's profile of the app's webhook credentials:
    a hash of the client id (no secret in it), one per installation (a profile is made with the
    installation's token). A rotated client secret keeps the alias: the profile is updated
    (events-mutations-updateauthprofile), so its subscriptions keep delivering."""
    digest = hashlib.sha256(f"{kind}\0{client_id}\0{installation_id}".encode()).hexdigest()
    return f"bwp-workshop-{kind}-{digest[:16]}"


def _token_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"bwp-workshop webhook token", hashlib.sha256).digest()


def issue_token(secret: str, now: float | None = None) -> str:
    """An access token valid for :data:`TOKEN_TTL_S` seconds."""
    expiry = int((time.time() if now is None else now) + TOKEN_TTL_S)
    signature = hmac.new(_token_key(secret), str(expiry).encode(), hashlib.sha256).hexdigest()
    return f"{expiry}.{signature}"


def token_valid(secret: str, token: str, now: float | None = None) -> bool:
    """Whether ``token`` was issued under ``secret`` and has not expired."""
    expiry, _, signature = token.partition(".")
    if not expiry.isdigit() or len(expiry) > 12:
        return False
    expected = hmac.new(_token_key(secret), expiry.encode(), hashlib.sha256).hexdigest()
    fresh = int(expiry) > (time.time() if now is None else now)
    return hmac.compare_digest(expected.encode(), signature.encode()) and fresh


def basic_pair(header: str) -> tuple[str, str] | None:
    """The (user, password) of an ``Authorization: Basic`` value, or None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if colon else None


def pair_matches(pair: tuple[str, str] | None, client_id: str, secret: str) -> bool:
    """Whether ``pair`` is (client_id, secret), compared in constant time (both parts always)."""
    user, password = pair or ("", "")
    same_user = hmac.compare_digest(user.encode(), client_id.encode())
    same_password = hmac.compare_digest(password.encode(), secret.encode())
    return bool(pair) and bool(client_id and secret) and same_user and same_password


def bearer(header: str) -> str | None:
    """The token of an ``Authorization: Bearer`` value, or None."""
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
