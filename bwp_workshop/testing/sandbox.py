"""A served Buy with Prime sandbox on free ports (``served_sandbox``), and a partner app
registered and installed in it by a merchant (``installed_app``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bwp_workshop.local import processes
from bwp_workshop.local.runtime import SANDBOX_SERVICE, LocalRuntime
from bwp_workshop.sandbox.client import SandboxClient
from bwp_workshop.settings import Settings
from bwp_workshop.targets import choose_target

from .ports import free_port
from .reference_app import ReferenceApp, serve_reference_app


@dataclass
class SandboxHandle:
    """A sandbox: its settings (``public_key`` is the sandbox's), its base URL and an admin
    client. ``app`` is set for a sandbox in process, ``pid`` for a served one."""

    settings: Settings
    url: str
    client: SandboxClient
    app: Any = None
    pid: int | None = None


def with_sandbox_key(settings: Settings) -> Settings:
    """``settings`` holding the sandbox's verification key (BWP_PUBLIC_KEY), once the sandbox
    has written it: what an app configured for this sandbox verifies its tokens with."""
    return settings.model_copy(update={"public_key": choose_target(settings).public_key()})


@contextmanager
def served_sandbox(**options: Any) -> Iterator[SandboxHandle]:
    """``python -m bwp_workshop.sandbox`` on a free port with these settings, stopped after."""
    options.setdefault("local_sandbox_port", free_port())
    settings = Settings(**options)
    spec = next(spec for spec in LocalRuntime(settings).services() if spec.name == SANDBOX_SERVICE)
    registry = processes.ProcessRegistry(settings.bwp_dir)
    with registry.locked():
        record = processes.start(spec, registry, ready_timeout=60)
    try:
        settings = with_sandbox_key(Settings(**options))
        with SandboxClient(settings) as client:
            yield SandboxHandle(settings=settings, url=settings.sandbox_url, client=client, pid=record.pid)
    finally:
        with registry.locked():
            processes.stop(SANDBOX_SERVICE, registry)


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
    """The reference app served on a free port, registered in ``sandbox`` and installed by a
    merchant (``merchant_id``, else the sandbox's default)."""
    with serve_reference_app(sandbox.url, sandbox.settings.public_key) as app:
        registration = sandbox.client.register_app(**app.urls)
        app.client_id = registration.client_id
        app.client_secret = registration.client_secret.get_secret_value()
        outcome = sandbox.client.install(merchant_id, app_id=registration.app_id)
        assert outcome.ok, outcome
        assert outcome.installation_id
        yield Installed(sandbox, app, outcome.installation_id, app.client_id, app.client_secret)
