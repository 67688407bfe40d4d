"""Helpers for the sandbox tests: an installed reference app, GraphQL calls, PKCE values."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import SandboxHandle
from tests.sandbox.reference_app import ReferenceApp, serve_reference_app


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Installed:
    """An app registered and installed by a merchant, with the app's first token pair."""

    sandbox: SandboxHandle
    app: ReferenceApp
    installation_id: str
    client_id: str
    client_secret: str

    @property
    def tokens(self) -> dict[str, Any]:
        return self.app.tokens[self.installation_id]

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        installation_id: str | None = None,
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token or self.tokens['access_token']}",
            "X-Omni-InstallationId": installation_id or self.installation_id,
            "x-api-version": "2024-11-01",
        }
        return httpx.post(
            self.sandbox.settings.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers=headers,
            trust_env=False,
            timeout=30,
        )

    def refresh(self, refresh_token: str) -> httpx.Response:
        return httpx.post(
            self.sandbox.settings.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            trust_env=False,
        )


@contextmanager
def installed_app(sandbox: SandboxHandle, merchant_id: str | None = None) -> Iterator[Installed]:
    with serve_reference_app(sandbox.url, sandbox.settings.public_key) as app:
        registration = sandbox.client.register_app(**app.urls)
        app.client_id = registration.client_id
        app.client_secret = registration.client_secret.get_secret_value()
        outcome = sandbox.client.install(merchant_id, app_id=registration.app_id)
        assert outcome.ok, outcome
        assert outcome.installation_id
        yield Installed(sandbox, app, outcome.installation_id, app.client_id, app.client_secret)
