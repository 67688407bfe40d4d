"""The CLI: help on every level, errors as messages, secrets masked."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from bwp_workshop.cli import main


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _all_commands(main), ids=lambda p: " ".join(p) or "bwp-workshop")
def test_help_on_every_level(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_a_workshop_error_is_a_message_and_exit_code_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BWP_TARGET", "aws")
    monkeypatch.setenv("BWP_CLIENT_SECRET", "changeme")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 1
    assert "BWP_CLIENT_SECRET holds a placeholder value" in result.output
    assert "Traceback" not in result.output


def test_local_commands_refuse_the_aws_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BWP_TARGET", "aws")
    result = CliRunner().invoke(main, ["local", "up"])
    assert result.exit_code == 1
    assert "only for the local target" in result.output


def test_config_show_masks_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BWP_CLIENT_SECRET", "very-secret-value")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 0
    assert "very-secret-value" not in result.output
    assert "client_secret" in result.output and "********" in result.output


def test_workshop_errors_render_without_a_traceback_in_notebooks() -> None:
    from bwp_workshop.errors import PortInUseError

    error = PortInUseError("Cannot start moto: port 4566 is in use.", hint="set BWP_LOCAL_MOTO_PORT")
    assert error._render_traceback_() == [
        "PortInUseError: Cannot start moto: port 4566 is in use.\n  What to do: set BWP_LOCAL_MOTO_PORT"
    ]


def test_sandbox_console_on_aws_names_the_buy_with_prime_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BWP_TARGET", "aws")
    result = CliRunner().invoke(main, ["sandbox", "console"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "https://console.buywithprime.amazon.com/"
    assert "open your app's page in the marketplace and click Install" in result.output


def test_local_status_shows_each_log_file_in_aligned_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from bwp_workshop.local import processes
    from bwp_workshop.local.processes import ServiceStatus
    from bwp_workshop.local.runtime import LocalRuntime
    from bwp_workshop.settings import get_settings

    monkeypatch.setattr(processes, "port_in_use", lambda host, port: False)  # nothing listens here
    logs = get_settings().bwp_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "moto.log").write_text("moto 5.2.5 on ...\n")
    stopped = CliRunner().invoke(main, ["local", "status"])
    assert stopped.exit_code == 3
    moto, sandbox = stopped.output.splitlines()
    assert moto.split()[:2] == ["moto", "stopped"] and str(logs / "moto.log") in moto  # its last run's log
    assert sandbox.split()[:2] == ["sandbox", "stopped"] and sandbox.rstrip().endswith(" -")  # never ran

    running = [
        ServiceStatus("moto", "running", 11, 4566, "http://127.0.0.1:4566", "/p/.bwp/logs/moto.log"),
        ServiceStatus("sandbox", "running", 12, 4567, "http://127.0.0.1:4567", "/p/.bwp/logs/sandbox.log"),
        ServiceStatus("oauth-app", "running", 13, 8080, "http://127.0.0.1:8080", "/p/.bwp/logs/oauth-app.log"),
        ServiceStatus("event-runner", "unhealthy", 1234, 4568, "http://127.0.0.1:4568", "/p/.bwp/logs/er.log"),
    ]
    monkeypatch.setattr(LocalRuntime, "status", lambda self: running)
    lines = CliRunner().invoke(main, ["local", "status"]).output.splitlines()
    assert len(lines) == 4
    assert len({line.index(status.state) for line, status in zip(lines, running, strict=True)}) == 1, lines
    for column in ("http://", "pid ", "/p/.bwp/logs/"):
        # every row's value starts at the same column, whatever the length of the name before it
        assert len({line.index(column) for line in lines}) == 1, (column, lines)
