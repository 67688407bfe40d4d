"""The partner console and the merchant's actions against a served sandbox and a real app
server: install as a browser, settings, uninstall, signed as BwP signs; and state that
survives a restart."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from bwp_workshop.errors import LocalRuntimeError
from bwp_workshop.sandbox.client import AppRegistration, SandboxClient, SandboxError, write_credentials_to_env
from bwp_workshop.settings import Settings, get_settings
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.reference_app import serve_reference_app
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app, served_sandbox


def test_install_drives_launch_authorize_and_install_like_a_browser(sandbox_server: SandboxHandle) -> None:
    with installed_app(sandbox_server) as installed:
        installation = sandbox_server.client.installation(installed.installation_id)
        assert installation["status"] == "installed"
        assert installed.app.calls == [{"path": "/install", "installation_id": installed.installation_id}]
        store = installed.graphql("{ buyWithPrimeStore { siteId widgetId } }").json()["data"]["buyWithPrimeStore"]
        assert store["siteId"] == sandbox_server.client.merchants()[0]["siteId"]


def test_install_outcome_masks_codes_and_tokens(sandbox_server: SandboxHandle) -> None:
    with serve_reference_app(sandbox_server.url, sandbox_server.settings.public_key) as app:
        registration = sandbox_server.client.register_app(**app.urls)
        app.client_id, app.client_secret = registration.client_id, registration.client_secret.get_secret_value()
        outcome = sandbox_server.client.install(app_id=registration.client_id)
    assert outcome.ok
    assert [url.split("?")[0] for url in outcome.redirects] == [
        f"{sandbox_server.url}/_sandbox/console/install",
        app.urls["launch_url"],
        f"{sandbox_server.url}/marketplace/authorize",
        app.urls["install_url"],
    ]
    assert outcome.final_url == f"{app.urls['install_url']}?code=***&state=***&verification-token=***"
    assert app.client_secret not in repr(registration) and "**********" in repr(registration)


def test_a_failed_code_exchange_is_reported_not_ok(sandbox_server: SandboxHandle) -> None:
    with serve_reference_app(sandbox_server.url, sandbox_server.settings.public_key) as app:
        registration = sandbox_server.client.register_app(**app.urls)
        app.client_id, app.client_secret = registration.client_id, registration.client_secret.get_secret_value()
        app.exchange_override = {"code_verifier": "x" * 64}
        outcome = sandbox_server.client.install(app_id=registration.app_id)
    assert not outcome.ok
    assert outcome.status_code == 502
    assert outcome.error.startswith("HTTP 502") and "code_verifier does not match" in outcome.error
    assert sandbox_server.client.installation(outcome.installation_id)["status"] == "authorized"


def test_install_with_an_unreachable_app_is_reported(sandbox_server: SandboxHandle) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    registration = sandbox_server.client.register_app(
        f"{dead}/launch", f"{dead}/install", f"{dead}/settings", f"{dead}/uninstall"
    )
    outcome = sandbox_server.client.install(app_id=registration.app_id)
    assert not outcome.ok
    assert "ConnectError" in outcome.error


@pytest.mark.parametrize("where", ["both", "query", "header"])
def test_settings_and_uninstall_are_signed_calls_the_app_verifies(sandbox_server: SandboxHandle, where: str) -> None:
    sandbox_server.client.update_config(verification_token_in=where)
    with installed_app(sandbox_server) as installed:
        settings = sandbox_server.client.open_settings(installed.installation_id)
        assert settings.ok, settings
        assert settings.status_code == 200
        uninstall = sandbox_server.client.uninstall(installed.installation_id)
        assert uninstall.ok, uninstall
        calls = installed.app.calls
        assert [call["path"] for call in calls] == ["/install", "/settings", "/uninstall"]
        body = json.loads(calls[2]["body"])
        assert body["installationId"] == installed.installation_id
        # revoked: the API refuses the token, the refresh token is dead
        assert installed.graphql("{ buyWithPrimeStore { siteId } }").status_code == 401
        assert installed.refresh(installed.tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert sandbox_server.client.installation(installed.installation_id)["status"] == "uninstalled"
    with pytest.raises(SandboxError, match="already uninstalled"):
        sandbox_server.client.uninstall(installed.installation_id)


def test_unknown_installations_and_bad_registrations_are_clear_errors(sandbox_server: SandboxHandle) -> None:
    with pytest.raises(SandboxError, match="no installation 'inst-nope'"):
        sandbox_server.client.open_settings("inst-nope")
    with pytest.raises(SandboxError, match="install_url must be an absolute http"):
        sandbox_server.client.register_app("http://a.test/l", "/install", "http://a.test/s", "http://a.test/u")
    with pytest.raises(SandboxError, match="no merchant 'm-9'"):
        sandbox_server.client.emit(merchant_id="m-9")


def test_the_client_says_how_to_start_a_sandbox_that_is_not_running(tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, local_sandbox_port=free_port())
    with SandboxClient(settings) as client, pytest.raises(LocalRuntimeError, match="bwp-workshop local up"):
        client.merchants()


def test_state_survives_a_restart(tmp_path: Path) -> None:
    options = {
        "project_dir": tmp_path / "project",
        "state_dir": tmp_path / "state",
        "local_moto_port": free_port(),
        "local_sandbox_port": free_port(),
    }
    with served_sandbox(**options) as first, installed_app(first) as installed:
        public_key = first.client.public_key()
        merchants = first.client.merchants()
        first.client.set_faults(graphql={"latency_ms": 1, "seed": 4})
        first.client.update_config(access_token_ttl=600)
        refresh_token = installed.tokens["refresh_token"]
        client_id, client_secret = installed.client_id, installed.client_secret
        installation_id = installed.installation_id
        first_pid = first.pid
    with served_sandbox(**options) as second:
        assert second.pid != first_pid
        assert second.client.public_key() == public_key
        assert second.client.merchants() == merchants
        assert second.client.installation(installation_id)["status"] == "installed"
        assert second.client.faults()["graphql"]["latency_ms"] == 1
        refreshed = httpx.post(
            second.settings.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            },
            trust_env=False,
        )
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["expires_in"] == 600


def test_write_credentials_to_env_keeps_other_lines(isolated_environment: Path) -> None:
    env = isolated_environment / ".env"
    env.write_text("# mine\nBWP_TARGET=local\nBWP_CLIENT_ID=old\nEVENT_BUS_ARN=\n")
    registration = AppRegistration("app-1", "amzn1.application-oa2-client.abc", client_secret=_secret("s3cr3t-value"))
    path = write_credentials_to_env(get_settings(), registration)
    assert path == env
    assert env.read_text() == (
        "# mine\nBWP_TARGET=local\nBWP_CLIENT_ID=amzn1.application-oa2-client.abc\nEVENT_BUS_ARN=\n"
        "BWP_CLIENT_SECRET=s3cr3t-value\n"
    )
    assert env.stat().st_mode & 0o777 == 0o600
    settings = get_settings()
    assert settings.client_id == "amzn1.application-oa2-client.abc"
    assert settings.client_secret.get_secret_value() == "s3cr3t-value"


def _secret(value: str):
    from pydantic import SecretStr

    return SecretStr(value)
