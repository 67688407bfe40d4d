"""Driving the in-process sandbox's OAuth endpoints step by step, as a test client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from bwp_workshop.sandbox.client import AppRegistration
from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.helpers import pkce_pair

APP = "http://app.test"
URLS = {
    "launch_url": f"{APP}/launch",
    "install_url": f"{APP}/install",
    "settings_url": f"{APP}/settings",
    "uninstall_url": f"{APP}/uninstall",
}


@dataclass
class Flow:
    sandbox: SandboxHandle
    registration: AppRegistration

    @property
    def http(self) -> httpx.Client:
        return self.sandbox.client._http

    def sign_in(self, merchant_id: str | None = None) -> None:
        """The merchant starts the install in the console (sets the console cookie)."""
        params = {"app_id": self.registration.app_id, **({"merchant_id": merchant_id} if merchant_id else {})}
        response = self.http.get("/_sandbox/console/install", params=params, follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"] == URLS["launch_url"]

    def authorize_params(self, challenge: str, **overrides: Any) -> dict[str, Any]:
        params = {
            "response_type": "code",
            "client_id": self.registration.client_id,
            "redirect_uri": URLS["install_url"],
            "state": "state-123",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {key: value for key, value in params.items() if value is not None}

    def authorize(self, params: Any) -> httpx.Response:
        return self.http.get("/marketplace/authorize", params=params, follow_redirects=False)

    def code(self, **overrides: Any) -> tuple[str, str, str]:
        """(code, verifier, redirect location) of a successful authorization."""
        verifier, challenge = pkce_pair()
        response = self.authorize(self.authorize_params(challenge, **overrides))
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        return parse_qs(urlsplit(location).query)["code"][0], verifier, location

    def exchange(self, code: str, verifier: str, /, **overrides: Any) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": URLS["install_url"],
            "code_verifier": verifier,
            "client_id": self.registration.client_id,
            "client_secret": self.registration.client_secret.get_secret_value(),
        }
        form.update(overrides)
        return self.http.post("/token", data={k: v for k, v in form.items() if v is not None})

    def tokens(self) -> dict[str, Any]:
        code, verifier, location = self.code()
        response = self.exchange(code, verifier)
        assert response.status_code == 200, response.text
        tokens = response.json()
        tokens["installation_id"] = installation_of(location)
        return tokens

    def refresh(self, refresh_token: str, /, **overrides: Any) -> httpx.Response:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.registration.client_id,
            "client_secret": self.registration.client_secret.get_secret_value(),
        }
        form.update(overrides)
        return self.http.post("/token", data={k: v for k, v in form.items() if v is not None})

    def graphql(
        self, query: Any, variables: dict[str, Any] | None = None, *, token: str | None, installation_id: str | None
    ) -> httpx.Response:
        headers = {"x-api-version": "2024-11-01"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if installation_id is not None:
            headers["X-Omni-InstallationId"] = installation_id
        body = query if not isinstance(query, str) else {"query": query, "variables": variables or {}}
        return self.http.post("/graphql", json=body, headers=headers)


def installation_of(location: str) -> str:
    import jwt

    token = parse_qs(urlsplit(location).query)["verification-token"][0]
    return str(jwt.decode(token, options={"verify_signature": False})["installationId"])


def new_flow(sandbox: SandboxHandle, sign_in: bool = True) -> Flow:
    flow = Flow(sandbox, sandbox.client.register_app(**URLS))
    if sign_in:
        flow.sign_in()
    return flow
