"""Shared fixtures: an isolated environment for every test, free ports, and one local AWS
(moto server with the workshop's fixes) per test session."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bwp_workshop import aws
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_settings() -> list[str]:
    """The workshop and AWS variables of the machine's environment, which tests must not see."""
    return [name for name in os.environ if name.startswith(("BWP_", "AWS_")) or name == "EVENT_BUS_ARN"]


def clean_environ(**extra: str) -> dict[str, str]:
    """os.environ without workshop or AWS variables, plus ``extra``: for subprocesses."""
    hidden = set(machine_settings())
    env = {name: value for name, value in os.environ.items() if name not in hidden}
    env.update(
        AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent"
    )
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test sees no workshop or AWS variables from the machine, no AWS config files, and
    a project folder of its own (so no .env of the checkout leaks in)."""
    for name in machine_settings():
        monkeypatch.delenv(name)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("BWP_PROJECT_DIR", str(project))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    aws.clear_cache()
    yield project
    aws.clear_cache()


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """One patched moto server for the session, on a free port, stopped at the end. Its
    settings, like every test's, ignore the machine's BWP_*/AWS_* variables."""
    state = tmp_path_factory.mktemp("local-aws") / ".bwp"
    with pytest.MonkeyPatch.context() as patch:
        for name in machine_settings():
            patch.delenv(name)
        settings = Settings(project_dir=REPO_ROOT, state_dir=state, local_moto_port=free_port())
        runtime = LocalRuntime(settings)
        runtime.up()
    try:
        yield runtime
    finally:
        runtime.down()


@pytest.fixture
def local_settings(local_aws: LocalRuntime) -> Settings:
    """Settings of the session's local AWS, with its state wiped before the test."""
    local_aws.reset()
    return local_aws.settings
