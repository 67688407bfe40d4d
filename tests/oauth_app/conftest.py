"""Fixtures for the OAuth handler: its own ES256 signing key (standing in for Buy with
Prime's), a token table on moto in process, a scripted token endpoint, and a
TestClient over the app."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from bwp_workshop.core.verification import request_hash
from bwp_workshop.settings import Settings
from bwp_workshop.testing.tables import create_token_table
from oauth_app.app import create_app
from oauth_app.config import AppConfig

#: The loggers whose records are the app's: its own and the shared core's.
APP_LOGGERS = ("oauth_app", "bwp_workshop")
BASE_URL = "https://app.example.test"
AUTHORIZE_URL = "https://bwp.example.test/marketplace/authorize"
TOKEN_URL = "https://bwp.example.test/token"
CLIENT_ID = "client-abc"
CLIENT_SECRET = "client-secret-value-9f8e7d"
TABLE = "tokens"


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_PEM = _pem(SIGNING_KEY)


def sign(
    url: str,
    body: bytes | None = None,
    *,
    installation_id: str = "inst-1",
    key: Any = SIGNING_KEY,
    algorithm: str = "ES256",
    expires_in: int = 300,
    request_hash_value: str | None = None,
    **claims: Any,
) -> str:
    """A verification token for a request to ``url`` (with ``body``), as Buy with Prime makes."""
    payload = {
        "installationId": installation_id,
        "requestHash": request_hash_value if request_hash_value is not None else request_hash(url, body),
        "iat": int(time.time()),
        "exp": int(time.time()) + expires_in,
        **claims,
    }
    return jwt.encode(payload, key, algorithm=algorithm)


@dataclass
class ScriptedTokenEndpoint:
    """The token endpoint as an httpx MockTransport: answers from ``script`` (one callable per
    request, the last one repeats) and records each request's form."""

    script: list[Callable[[httpx.Request], httpx.Response]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    issued: int = 0

    def ok(self, request: httpx.Request) -> httpx.Response:
        self.issued += 1
        return httpx.Response(
            200,
            json={
                "access_token": f"access-token-{self.issued}-secretvalue",
                "refresh_token": f"refresh-token-{self.issued}-secretvalue",
                "expires_in": 900,
                "token_type": "Bearer",
            },
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.requests.append(form)
        step = self.script[min(len(self.requests) - 1, len(self.script) - 1)] if self.script else self.ok
        return step(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))


def state_cookie(state: str, *, expires_in: int = 600, verifier: str = "v" * 64) -> str:
    """A state cookie the app would set at /launch for ``state`` (what that browser carries)."""
    from oauth_app.pending_installs import PendingCookies, PendingInstall, pending_cookie_key

    sealer = PendingCookies(pending_cookie_key(CLIENT_SECRET), ttl_seconds=600)
    return sealer.seal(PendingInstall(state=state, code_verifier=verifier, expires_at=int(time.time()) + expires_in))


def pending_of(client: TestClient) -> Any:
    """The pending install sealed in ``client``'s state cookie (what /launch gave this browser)."""
    from oauth_app.api.routes.oauth import STATE_COOKIE
    from oauth_app.pending_installs import PendingCookies, pending_cookie_key

    pending = PendingCookies(pending_cookie_key(CLIENT_SECRET), ttl_seconds=600).open(client.cookies[STATE_COOKIE])
    assert pending is not None, "the state cookie does not open"
    return pending


def all_items(table: Any) -> list[dict[str, Any]]:
    return table.scan(ConsistentRead=True)["Items"]


def config(**overrides: Any) -> AppConfig:
    values: dict[str, Any] = {
        "token_table_name": TABLE,
        "app_base_url": BASE_URL,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorize_url": AUTHORIZE_URL,
        "token_url": TOKEN_URL,
        "public_key": PUBLIC_PEM,
        "token_attempts": 2,
    }
    values.update(overrides)
    return AppConfig(**values)


@pytest.fixture
def table(aws_in_process: Settings) -> Any:
    """The token table on moto in process."""
    return create_token_table(aws_in_process)


@pytest.fixture
def token_endpoint() -> ScriptedTokenEndpoint:
    return ScriptedTokenEndpoint()


def launch(client: TestClient) -> dict[str, str]:
    """GET /launch; returns the authorize redirect's query parameters."""
    response = client.get("/launch", follow_redirects=False)
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    return dict(location.params)


def install_url(params: dict[str, str]) -> str:
    """The install URL Buy with Prime calls, parameters in its order, token last."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{BASE_URL}/install?{query}"


def secrets_in(text: str, *values: str) -> list[str]:
    return [value for value in values if value and value in text]


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)


class AppLogs(logging.Handler):
    """Every record the app (and the core it calls) logs during a test, captured on its own
    loggers at INFO: whatever another test did to the root logger, the levels or propagation,
    what the app logs is here."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        """The records as the container prints them (level, logger, message, traceback)."""
        formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
        return "\n".join(formatter.format(record) for record in self.records)


@pytest.fixture
def app_logs() -> Iterator[AppLogs]:
    capture = AppLogs()
    saved = []
    for name in APP_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.disabled))
        logger.setLevel(logging.INFO)
        logger.disabled = False
        logger.addHandler(capture)
    yield capture
    for logger, level, disabled in saved:
        logger.removeHandler(capture)
        logger.setLevel(level)
        logger.disabled = disabled


@pytest.fixture
def client(table: Any, token_endpoint: ScriptedTokenEndpoint) -> Iterator[TestClient]:
    """A TestClient over the app on ``table`` and the scripted token endpoint."""
    app = create_app(config(), table=table, http=token_endpoint.client())
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    """Everything logged at INFO reaches ``caplog`` (the secret checks read it too)."""
    caplog.set_level(logging.INFO)
