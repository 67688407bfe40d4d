"""Shared fixtures: an isolated environment for every test, free ports, one local AWS (moto
server with the workshop's fixes) per test session, and the Buy with Prime sandbox in process
(``sandbox_app``) or served (``sandbox_server``, ``local_sandbox`` on the local AWS)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bwp_workshop import aws
from bwp_workshop.local import processes
from bwp_workshop.local.runtime import SANDBOX_SERVICE, LocalRuntime
from bwp_workshop.names import (
    BUSINESS_PRODUCT_BY_INSTALLATION,
    BUSINESS_PRODUCT_INSTALLATION,
    BUSINESS_PRODUCT_PK,
    TOKEN_PK,
    TOKEN_SK,
    TOKEN_TTL_ATTRIBUTE,
)
from bwp_workshop.outputs import clear_outputs
from bwp_workshop.sandbox.client import SandboxClient
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
        settings = Settings(
            project_dir=REPO_ROOT, state_dir=state, local_moto_port=free_port(), local_sandbox_port=free_port()
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


@dataclass
class SandboxHandle:
    """A sandbox for a test: its settings (``public_key`` is the sandbox's), its base URL and
    an admin client. ``app`` is set for the in-process sandbox."""

    settings: Settings
    url: str
    client: SandboxClient
    app: Any = None
    pid: int | None = None


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
    settings = Settings(**options)  # type: ignore[arg-type]  # now with the sandbox's public key
    with TestClient(app, base_url=settings.sandbox_url) as http:
        client = SandboxClient(settings, http=http)
        yield SandboxHandle(settings=settings, url=settings.sandbox_url, client=client, app=app)


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
        settings = Settings(**options)  # now with the sandbox's public key
        with SandboxClient(settings) as client:
            yield SandboxHandle(settings=settings, url=settings.sandbox_url, client=client, pid=record.pid)
    finally:
        with registry.locked():
            processes.stop(SANDBOX_SERVICE, registry)


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


def create_token_table(settings: Settings, name: str = "tokens") -> Any:
    """A token table as InfraStack makes it (keys, time to live) on the local AWS; its resource."""
    dynamodb = aws.client("dynamodb", settings)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": TOKEN_PK, "KeyType": "HASH"}, {"AttributeName": TOKEN_SK, "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": TOKEN_PK, "AttributeType": "S"},
            {"AttributeName": TOKEN_SK, "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TOKEN_TTL_ATTRIBUTE}
    )
    return aws.resource("dynamodb", settings).Table(name)


def record_stack(settings: Settings, stack: str, outputs: dict[str, str]) -> None:
    """A stack named ``stack`` in the local AWS (one SSM parameter, nothing else) with
    ``outputs`` recorded in ``.bwp/outputs.json`` as a deploy would: the local runtime checks
    the cache against CloudFormation and forgets stacks that do not exist."""
    import json as _json

    from bwp_workshop.outputs import load_outputs, write_outputs

    template = {
        "Resources": {
            "Marker": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": f"/bwp-tests/{stack}", "Type": "String", "Value": stack},
            },
        }
    }
    aws.client("cloudformation", settings).create_stack(StackName=stack, TemplateBody=_json.dumps(template))
    write_outputs(settings, {**load_outputs(settings), stack: outputs})


def create_business_product_table(settings: Settings, name: str = "business-products") -> Any:
    """A business product table as InfraStack makes it (key, keys-only index by installation)
    on the local AWS; its resource."""
    aws.client("dynamodb", settings).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": BUSINESS_PRODUCT_PK, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": BUSINESS_PRODUCT_PK, "AttributeType": "S"},
            {"AttributeName": BUSINESS_PRODUCT_INSTALLATION, "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": BUSINESS_PRODUCT_BY_INSTALLATION,
                "KeySchema": [{"AttributeName": BUSINESS_PRODUCT_INSTALLATION, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return aws.resource("dynamodb", settings).Table(name)
