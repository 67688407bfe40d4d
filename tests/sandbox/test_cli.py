"""``bwp-workshop sandbox ...`` against a served sandbox."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from bwp_workshop.cli import main
from bwp_workshop.settings import get_settings
from bwp_workshop.testing.sandbox import SandboxHandle


@pytest.fixture
def cli(sandbox_server: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    settings = sandbox_server.settings
    monkeypatch.setenv("BWP_STATE_DIR", str(settings.bwp_dir))
    monkeypatch.setenv("BWP_LOCAL_SANDBOX_PORT", str(settings.local_sandbox_port))
    monkeypatch.setenv("BWP_LOCAL_MOTO_PORT", str(settings.local_moto_port))
    return CliRunner()


def test_register_masks_the_secret_unless_asked(cli: CliRunner, sandbox_server: SandboxHandle) -> None:
    result = cli.invoke(main, ["sandbox", "register", "--app-url", "http://app.test"])
    assert result.exit_code == 0, result.output
    assert "client secret: ********" in result.output
    assert "install url:   http://app.test/install" in result.output
    assert "--write-env" in result.output
    shown = cli.invoke(main, ["sandbox", "register", "--app-url", "http://app.test", "--show-secret"])
    secret = re.search(r"client secret: (\S+)", shown.output).group(1)  # type: ignore[union-attr]
    assert secret != "********" and len(secret) > 40


def test_register_write_env_puts_the_credentials_in_dotenv(cli: CliRunner, isolated_environment) -> None:
    result = cli.invoke(main, ["sandbox", "register", "--write-env"])
    assert result.exit_code == 0, result.output
    assert "client secret: ********" in result.output
    assert f"written to {isolated_environment / '.env'}" in result.output
    settings = get_settings()
    assert settings.client_id.startswith("amzn1.application-oa2-client.")
    assert settings.client_secret.get_secret_value() not in result.output
    assert f"http://127.0.0.1:{settings.local_app_port}/launch" in result.output
    apps = cli.invoke(main, ["sandbox", "install"])  # no app listens there: a clear failure
    assert apps.exit_code == 1
    assert "the install did not complete" in apps.output


def test_faults_show_set_and_off(cli: CliRunner) -> None:
    shown = cli.invoke(main, ["sandbox", "faults"])
    assert shown.exit_code == 0
    assert "graphql    off" in shown.output
    changed = cli.invoke(main, ["sandbox", "faults", "--endpoint", "graphql", "--throttle-rate", "0.2", "--seed", "5"])
    assert "graphql    throttle_rate=0.2, seed=5" in changed.output
    more = cli.invoke(main, ["sandbox", "faults", "--endpoint", "graphql", "--latency-ms", "3"])
    assert "throttle_rate=0.2, latency_ms=3.0, seed=5" in more.output
    assert cli.invoke(main, ["sandbox", "faults", "--throttle-rate", "1"]).exit_code == 2
    off = cli.invoke(main, ["sandbox", "faults", "--off"])
    assert "graphql    off" in off.output


def test_merchants_emit_and_ledger(cli: CliRunner) -> None:
    merchants = cli.invoke(main, ["sandbox", "merchants"])
    assert merchants.exit_code == 0
    assert merchants.output.count("merchant-0") == 2
    emitted = cli.invoke(main, ["sandbox", "emit", "--orders", "2", "--merchant", "merchant-01"])
    assert emitted.exit_code == 0, emitted.output
    assert "merchant merchant-01: 2 orders, 0 events published" in emitted.output  # nothing subscribed
    ledger = cli.invoke(main, ["sandbox", "ledger", "--json"])
    assert ledger.exit_code == 0 and ledger.output.strip() == "[]"


def test_settings_of_an_unknown_installation_is_an_error(cli: CliRunner) -> None:
    result = cli.invoke(main, ["sandbox", "settings", "inst-nope"])
    assert result.exit_code == 1
    assert "no installation 'inst-nope'" in result.output


def test_console_prints_the_page_where_a_person_installs(
    cli: CliRunner, sandbox_server: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = cli.invoke(main, ["sandbox", "console"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"{sandbox_server.url}/console"
    assert "pick a merchant, click Install" in result.output
    assert "does not answer" not in result.output
    opened = cli.invoke(main, ["sandbox", "console", "--open"])
    assert opened.exit_code == 0
    assert "No browser can be opened here: open the URL above yourself." in opened.output


def test_console_says_when_the_sandbox_is_not_running(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    from bwp_workshop.testing.ports import free_port

    port = free_port()
    monkeypatch.setenv("BWP_LOCAL_SANDBOX_PORT", str(port))
    result = cli.invoke(main, ["sandbox", "console"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == f"http://127.0.0.1:{port}/console"
    assert "bwp-workshop local up" in result.output
