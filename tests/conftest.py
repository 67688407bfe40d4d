"""Shared fixtures: an isolated environment for every test, free ports, one local AWS (moto
server with the workshop's fixes) per test session, and the Buy with Prime sandbox in process
(``sandbox_app``) or served (``sandbox_server``, ``local_sandbox`` on the local AWS); and the
test tiers (``tests/tiers.py``); and moto in process (``aws_in_process``, ``local_in_process``).
Helpers are imported from their modules: the harness that bench/ shares from
``bwp_workshop.testing``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bwp_workshop import aws
from bwp_workshop.local.runtime import LocalRuntime
from bwp_workshop.outputs import clear_outputs
from bwp_workshop.sandbox.client import SandboxClient
from bwp_workshop.settings import Settings
from bwp_workshop.testing.checkout import CHECKOUT
from bwp_workshop.testing.environment import machine_settings
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle, served_sandbox, with_sandbox_key
from tests import tiers


def pytest_configure(config: pytest.Config) -> None:
    tiers.register(config)


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by tier
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tiers.assign(items)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``: the cdk tier on one worker, the story's tests on one (tests/tiers.py)."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TierScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return tiers.xdist_scope(nodeid)

    return TierScheduling(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    if item.get_closest_marker("fast") is None:
        return (yield)
    with tiers.FastTierGuard(item.nodeid):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    if item.get_closest_marker("fast") is None:
        return (yield)
    with tiers.FastTierGuard(item.nodeid):
        return (yield)


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
        settings = Settings(
            project_dir=CHECKOUT, state_dir=state, local_moto_port=free_port(), local_sandbox_port=free_port()
        )
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
    clear_outputs(local_aws.settings)  # each test starts as if nothing had ever been deployed
    return local_aws.settings


@contextmanager
def _moto_in_process() -> Iterator[None]:
    """moto in process (``mock_aws``), empty, with the workshop's patches as the local AWS's
    server has them (applied once per process, for good: every in-process test sees the same
    moto, whatever ran before)."""
    from moto import mock_aws

    from bwp_workshop.local import moto_patches

    moto_patches.apply()
    aws.clear_cache()
    with mock_aws():
        yield
    aws.clear_cache()


@pytest.fixture
def aws_in_process(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings of the aws target on moto in process (``mock_aws``): every AWS call of the test
    goes to moto's in-memory backends, empty at the start; no server, no port."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with _moto_in_process():
        yield Settings(target="aws", project_dir=isolated_environment, state_dir=isolated_environment / ".bwp")  # type: ignore[call-arg]


@pytest.fixture
def local_in_process(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings of the local target with its AWS on moto in process (``mock_aws``) instead of the
    moto server: the local target's ways (messages sent straight to the queue, its credentials
    and account), moto's in-memory backends, empty at the start; no server, no port. The one
    change: the local target names no endpoint, so its clients reach ``mock_aws``."""
    from bwp_workshop.targets.local import LocalTarget

    monkeypatch.setattr(LocalTarget, "endpoint_url", property(lambda self: None))
    with _moto_in_process():
        yield Settings(target="local", project_dir=isolated_environment, state_dir=isolated_environment / ".bwp")  # type: ignore[call-arg]


@pytest.fixture
def sandbox_app(tmp_path: Path) -> Iterator[SandboxHandle]:
    """The sandbox in process (FastAPI TestClient), state in a temporary folder. Nothing of
    it reaches AWS unless a test subscribes to events."""
    from fastapi.testclient import TestClient

    from bwp_workshop.sandbox import create_app

    options = {
        "project_dir": tmp_path / "project",
        "state_dir": tmp_path / "sandbox-app",
        "local_moto_port": free_port(),
    }
    app = create_app(Settings(**options))  # type: ignore[arg-type]
    settings = with_sandbox_key(Settings(**options))  # type: ignore[arg-type]
    with TestClient(app, base_url=settings.sandbox_url) as http:
        client = SandboxClient(settings, http=http)
        yield SandboxHandle(settings=settings, url=settings.sandbox_url, client=client, app=app)


@pytest.fixture
def events_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process sandbox's event source on moto's in-process EventBridge (``mock_aws``):
    ``createEventSubscription`` makes its partner event source there, no server needed."""
    import boto3
    from moto import mock_aws

    from bwp_workshop.sandbox.subscriptions import Subscriptions

    with mock_aws():
        monkeypatch.setattr(Subscriptions, "events_client", lambda self, region: boto3.client("events", region))
        yield


@pytest.fixture
def sandbox_server(tmp_path: Path) -> Iterator[SandboxHandle]:
    """A served sandbox (a real process) with its state in a temporary folder; its local AWS
    port points nowhere (use ``local_sandbox`` for events)."""
    with served_sandbox(
        project_dir=tmp_path / "project", state_dir=tmp_path / "sandbox-state", local_moto_port=free_port()
    ) as handle:
        yield handle


@pytest.fixture
def local_sandbox(local_settings: Settings, tmp_path: Path) -> Iterator[SandboxHandle]:
    """A served sandbox whose event source is the session's local AWS (wiped before the test)."""
    with served_sandbox(
        project_dir=tmp_path / "project",
        state_dir=tmp_path / "sandbox-state",
        local_moto_port=local_settings.local_moto_port,
        region=local_settings.region,
    ) as handle:
        yield handle
