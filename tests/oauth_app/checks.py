"""What the OAuth app's tests check in several places: the token table's items, the bad
verification tokens (``BAD_TOKENS``, also the token rows of tests/faults/test_oauth_bad_requests.py),
a table that fails on purpose, and that the app logged what it should and no secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from bwp_workshop.core.verification import request_hash
from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK

from .conftest import BASE_URL, CLIENT_SECRET, OTHER_KEY, PUBLIC_PEM, AppLogs, all_items, sign


def token_items(table: Any) -> list[dict[str, Any]]:
    return [item for item in all_items(table) if not item[TOKEN_PK].startswith(OAUTH_STATE_PREFIX)]


def state_items(table: Any) -> list[dict[str, Any]]:
    return [item for item in all_items(table) if item[TOKEN_PK].startswith(OAUTH_STATE_PREFIX)]


def assert_nothing_secret_logged(
    app_logs: AppLogs,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    *values: str,
    logged: Iterable[str],
) -> None:
    """The app logged each line of ``logged`` (so what is checked next is real log lines), and
    neither its logs nor anything else logged or printed during the test holds the client
    secret, a token or any of ``values``."""
    assert app_logs.records, "the app logged nothing"
    for line in logged:
        assert line in app_logs.text, f"the app did not log {line!r}; it logged:\n{app_logs.text}"
    out = capsys.readouterr()
    # The test's own HTTP client logs the URLs it calls (codes, tokens); everything else counts.
    others = [
        r.getMessage()
        for r in caplog.records
        if not (r.name == "httpx" and BASE_URL in r.getMessage()) and r not in app_logs.records
    ]
    text = "\n".join([app_logs.text, *others, out.out, out.err])
    for value in (CLIENT_SECRET, "access-token-", "refresh-token-", *values):
        assert value not in text, f"{value[:12]}... was logged"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(url: str) -> str:
    """Algorithm confusion: an HS256 token keyed with the (public) verification key."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(
        json.dumps(
            {"installationId": "inst-1", "requestHash": request_hash(url), "exp": int(time.time()) + 300}
        ).encode()
    )
    signature = hmac.new(PUBLIC_PEM.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def none_token(url: str) -> str:
    return jwt.encode(
        {"installationId": "inst-1", "requestHash": request_hash(url), "exp": int(time.time()) + 300},
        key=None,
        algorithm="none",
    )


# --- install: every bad input ----------------------------------------------------------------
def _tampered(url: str) -> str:
    head, payload, signature = sign(url).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["installationId"] = "someone-else"
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


BAD_TOKENS = {
    "missing": (lambda url: None, 401, "missing_token", "has no verification-token"),
    "garbled": (lambda url: "not.a.jwt!", 403, "malformed_token", "is not a JWT"),
    "expired": (lambda url: sign(url, expires_in=-120), 403, "expired_token", "has expired"),
    "wrong signature": (_tampered, 403, "bad_signature", "signature does not match"),
    "wrong key": (lambda url: sign(url, key=OTHER_KEY), 403, "bad_signature", "signature does not match"),
    "HS256": (hs256_token, 403, "wrong_algorithm", "only ES256 is accepted"),
    "none": (none_token, 403, "wrong_algorithm", "only ES256 is accepted"),
    "hash of another URL": (
        lambda url: sign(url.replace(BASE_URL, "http://10.0.1.7:8080")),
        403,
        "request_hash_mismatch",
        "APP_BASE_URL",
    ),
    "hash of another query order": (
        lambda url: _swap_query(url),
        403,
        "request_hash_mismatch",
        "query order",
    ),
    "no requestHash": (
        lambda url: jwt.encode({"installationId": "i", "exp": int(time.time()) + 60}, _key(), algorithm="ES256"),
        403,
        "missing_claim",
        "no requestHash claim",
    ),
    "reserved installation id": (
        lambda url: sign(url, installation_id=OAUTH_STATE_PREFIX + "x"),
        400,
        "invalid_installation_id",
        "unusable installationId",
    ),
}


def _key() -> Any:
    from .conftest import SIGNING_KEY

    return SIGNING_KEY


def _swap_query(url: str) -> str:
    base, query = url.split("?", 1)
    first, second = query.split("&")
    return sign(f"{base}?{second}&{first}")


class FailingTable:
    """The real table, except that the named operations fail as DynamoDB does when throttled
    (for token items only, when ``tokens_only``)."""

    def __init__(self, table: Any, operations: set[str], tokens_only: bool = False, unreachable: bool = False) -> None:
        self._unreachable = unreachable
        self._table = table
        self._operations = operations
        self._tokens_only = tokens_only

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._table, name)
        if name not in self._operations:
            return real

        def failing(**kwargs: Any) -> Any:
            key = kwargs.get("Item") or kwargs.get("Key") or {}
            if self._tokens_only and str(key.get(TOKEN_PK, "")).startswith(OAUTH_STATE_PREFIX):
                return real(**kwargs)
            if self._unreachable:
                raise EndpointConnectionError(endpoint_url="http://localhost:1/")
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, name
            )

        return failing
