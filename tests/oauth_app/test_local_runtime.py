"""`bwp-workshop local up` runs the OAuth app once InfraStack is deployed: configured from the
stack outputs and the sandbox, isolated from the caller's AWS setup, restarted when its
configuration changes, installable end to end."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bwp_workshop import aws
from bwp_workshop.local import processes
from bwp_workshop.local.runtime import OAUTH_APP_SERVICE, LocalRuntime
from bwp_workshop.names import INFRA_STACK, OUT_TOKEN_TABLE
from bwp_workshop.sandbox.client import SandboxClient
from bwp_workshop.settings import Settings
from bwp_workshop.steps.install import installations
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.tables import create_token_table
from tests.local_stacks import record_stack


def test_local_up_starts_the_app_after_infrastack_and_a_merchant_can_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = {"local_moto_port": free_port(), "local_sandbox_port": free_port(), "local_app_port": free_port()}
    settings = Settings(project_dir=tmp_path, local_ready_timeout=60, **ports)
    runtime = LocalRuntime(settings)
    try:
        assert [change.name for change in runtime.up()] == ["moto", "sandbox"]  # nothing deployed yet
        create_token_table(settings, "workshop-tokens")
        record_stack(settings, INFRA_STACK, {OUT_TOKEN_TABLE: "workshop-tokens"})
        # A profile of the caller's that does not exist here must not reach the app.
        monkeypatch.setenv("AWS_PROFILE", "a-profile-of-the-callers")
        runtime = LocalRuntime(Settings(project_dir=tmp_path, local_ready_timeout=60, **ports))
        changes = {change.name: change.action for change in runtime.up()}
        assert changes == {"moto": "already running", "sandbox": "already running", OAUTH_APP_SERVICE: "started"}
        app_url = settings.local_app_url
        unconfigured = httpx.get(f"{app_url}/launch", trust_env=False)
        assert (unconfigured.status_code, unconfigured.json()["error"]) == (503, "not_configured")

        with SandboxClient(settings) as sandbox:
            registration = sandbox.register_app(
                f"{app_url}/launch", f"{app_url}/install", f"{app_url}/settings", f"{app_url}/uninstall"
            )
        settings = Settings(
            project_dir=tmp_path,
            client_id=registration.client_id,
            client_secret=registration.client_secret.get_secret_value(),
            local_ready_timeout=60,
            **ports,
        )
        runtime = LocalRuntime(settings)
        changes = {change.name: change.action for change in runtime.up()}
        assert changes[OAUTH_APP_SERVICE] == "restarted (configuration changed)"
        assert changes["moto"] == changes["sandbox"] == "already running"
        assert {change.name: change.action for change in runtime.up()}[OAUTH_APP_SERVICE] == "already running"
        assert [state.state for state in runtime.status()] == ["running"] * 3
        assert httpx.get(f"{app_url}/health", trust_env=False).json() == {"status": "ok"}

        with SandboxClient(settings) as sandbox:
            outcome = sandbox.install(app_id=registration.app_id)
        assert outcome.ok, outcome
        (row,) = installations(settings)
        assert row["installation_id"] == outcome.installation_id
        assert row["access_token"].endswith("…") and not row["expired"]

        # The outputs are forgotten (a reset): `down` still stops the app it started.
        (tmp_path / ".bwp" / "outputs.json").unlink()
    finally:
        stopped = {change.name: change.action for change in runtime.down()}
    aws.clear_cache()
    assert stopped[OAUTH_APP_SERVICE] == "stopped"
    for port in ports.values():
        assert not processes.port_in_use("127.0.0.1", port)
