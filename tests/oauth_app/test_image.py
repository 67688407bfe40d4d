"""The container image without a Docker engine: the Dockerfile's shape, and its exact command
line run as a process (same module, same options, only the port changed) on the files the
image copies, configured as the stack configures the task."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bwp_workshop import names
from bwp_workshop.settings import Settings
from bwp_workshop.stacks import lambda_asset
from bwp_workshop.testing.environment import clean_environ
from bwp_workshop.testing.ports import free_port
from oauth_app.api.routes.oauth import STATE_COOKIE

from .conftest import AUTHORIZE_URL, CLIENT_ID, CLIENT_SECRET, PUBLIC_PEM, TABLE, TOKEN_URL, all_items
from .serving import DOCKERFILE, REPO, Dockerfile, app_environment, serving, stage_image_tree


def test_the_dockerfile_is_multi_stage_slim_amd64_non_root_with_a_healthcheck() -> None:
    dockerfile = Dockerfile.parse()
    assert len(dockerfile.stages) >= 2
    froms = [stage[0][1] for stage in dockerfile.stages]
    assert all(line.startswith("--platform=linux/amd64 ") for line in froms)
    assert "ARG PYTHON_IMAGE=python:3.12-slim" in DOCKERFILE.read_text()
    user = dockerfile.last("USER").split(":")[0]
    assert user not in {"root", "0"}
    assert "HEALTHCHECK" in {name for name, _ in dockerfile.final}
    cmd = dockerfile.cmd()
    assert cmd[:2] == ["uvicorn", "oauth_app.main:app"]
    assert "--proxy-headers" in cmd and "--no-access-log" in cmd
    assert dockerfile.env()["FORWARDED_ALLOW_IPS"]


def shipped_parts() -> set[str]:
    """What the image ships, from the one list: ``oauth_app/`` and each of
    ``SHARED_PACKAGE_PARTS`` (``bwp_workshop/<part>``, a folder ending in ``/``)."""
    package = lambda_asset.package_dir()
    shared = {
        f"bwp_workshop/{part}/" if (package / part).is_dir() else f"bwp_workshop/{part}"
        for part in lambda_asset.SHARED_PACKAGE_PARTS
    }
    return {"oauth_app/", *shared}


def differences(where: str, found: set[str]) -> str:
    """Why ``found`` (what ``where`` lists) is not :func:`shipped_parts`; empty when it is."""
    expected = shipped_parts()
    missing, extra = sorted(expected - found), sorted(found - expected)
    if not missing and not extra:
        return ""
    return (
        f"{where} disagrees with SHARED_PACKAGE_PARTS (bwp_workshop/stacks/lambda_asset.py, plus oauth_app/): "
        f"missing {missing or 'nothing'}, extra {extra or 'nothing'}"
    )


def dockerignore_allowed(text: str) -> set[str]:
    patterns = [line for line in text.splitlines() if line and line[0] != "#"]
    assert patterns[0] == "*", ".dockerignore must start by excluding everything"
    return {line[1:] for line in patterns if line.startswith("!")}


def test_the_dockerfile_copies_exactly_the_shipped_parts() -> None:
    copied = {source for sources, _ in Dockerfile.parse().copies() for source in sources}
    assert not differences("oauth_app/Dockerfile's COPY lines", copied)


def test_the_build_context_admits_exactly_the_shipped_parts() -> None:
    allowed = dockerignore_allowed((REPO / ".dockerignore").read_text())
    assert not differences(".dockerignore's ! lines", allowed)


def test_a_part_missing_or_extra_is_named() -> None:
    parts = shipped_parts()
    assert "bwp_workshop/core/" in parts and "bwp_workshop/names.py" in parts
    found = (parts - {"bwp_workshop/names.py"}) | {"bwp_workshop/settings.py"}
    message = differences(".dockerignore's ! lines", found)
    assert "missing ['bwp_workshop/names.py']" in message and "extra ['bwp_workshop/settings.py']" in message


def test_the_image_files_alone_hold_every_module_the_app_imports(tmp_path: Path) -> None:
    tree = stage_image_tree(Dockerfile.parse(), tmp_path / "app")
    probe = (
        "import sys; sys.path.insert(0, '.'); import oauth_app.app, oauth_app.config, oauth_app.pending_installs; "
        "print('\\n'.join(m.__file__ for n, m in sys.modules.items() "
        "if n.split('.')[0] in {'oauth_app', 'bwp_workshop'} and getattr(m, '__file__', None)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tree, env=clean_environ(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    files = result.stdout.split()
    assert files and all(Path(f).resolve().is_relative_to(tree.resolve()) for f in files), files
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            probe.replace(
                "print(", "print(sorted(set(sys.modules) & {'pandas', 'aws_cdk', 'jupyter_core', 'moto'})) or print("
            ),
        ],
        cwd=tree,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert heavy.stdout.startswith("[]"), heavy.stdout


def test_the_image_command_serves_health_and_launch(local_settings: Settings, tmp_path: Path) -> None:
    from bwp_workshop.testing.tables import create_token_table

    table = create_token_table(local_settings)
    dockerfile = Dockerfile.parse()
    tree = stage_image_tree(dockerfile, tmp_path / "app")
    port = free_port()
    argv = dockerfile.local_cmd(port)
    env = app_environment(
        local_settings,
        table=TABLE,
        base_url=f"http://127.0.0.1:{port}",
        public_key=PUBLIC_PEM,
        authorize_url=AUTHORIZE_URL,
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    env.update({k: v for k, v in dockerfile.env().items() if k != "PATH"})
    log = tmp_path / "app.log"
    base = f"http://127.0.0.1:{port}"
    with serving(argv, env, cwd=tree, health_url=f"{base}/health", log=log):
        assert httpx.get(f"{base}/health", trust_env=False).json() == {"status": "ok"}
        launch = httpx.get(f"{base}/launch", trust_env=False, follow_redirects=False)
        assert launch.status_code == 302
        location = httpx.URL(launch.headers["location"])
        assert str(location).startswith(AUTHORIZE_URL)
        assert location.params["redirect_uri"] == f"{base}/install"
        state = location.params["state"]
        healthcheck = _healthcheck_argv(dockerfile, port)
        assert subprocess.run(healthcheck, env=clean_environ(), timeout=30).returncode == 0
        refused = httpx.get(f"{base}/install?code=secret-code-1&state={state}", trust_env=False)
        assert refused.status_code == 401
    assert all_items(table) == []  # /launch wrote nothing; the refused install spent nothing
    output = log.read_text()
    assert "GET /launch 302" in output and "GET /install refused 401 missing_token" in output
    for secret in (state, launch.cookies[STATE_COOKIE], "secret-code-1", CLIENT_SECRET):
        assert secret not in output


def _healthcheck_argv(dockerfile: Dockerfile, port: int) -> list[str]:
    import json

    line = dockerfile.last("HEALTHCHECK")
    argv = json.loads(line[line.index("CMD") + 3 :].strip())
    argv[0] = sys.executable
    return [part.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for part in argv]


@pytest.mark.parametrize("missing", [names.ENV_TOKEN_TABLE, names.ENV_APP_BASE_URL])
def test_the_image_command_refuses_to_start_without_its_configuration(
    missing: str, local_settings: Settings, tmp_path: Path
) -> None:
    dockerfile = Dockerfile.parse()
    tree = stage_image_tree(dockerfile, tmp_path / "app")
    argv = dockerfile.local_cmd(free_port())
    env = app_environment(
        local_settings,
        table=TABLE,
        base_url="http://127.0.0.1:1",
        public_key=PUBLIC_PEM,
        authorize_url=AUTHORIZE_URL,
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    del env[missing]
    result = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert missing in result.stderr or missing.lower() in result.stderr
    assert CLIENT_SECRET not in result.stderr


@pytest.mark.parametrize(
    ("allow", "expected"),
    [("127.0.0.1", "https://shop-app.example.test/install"), (None, "http://shop-app.example.test/install")],
    ids=["trusted proxy", "untrusted proxy (the image's default ranges)"],
)
def test_forwarded_mode_trusts_x_forwarded_proto_only_from_allowed_proxies(
    allow: str | None, expected: str, local_settings: Settings, tmp_path: Path
) -> None:
    from bwp_workshop.testing.tables import create_token_table

    create_token_table(local_settings)
    dockerfile = Dockerfile.parse()
    tree = stage_image_tree(dockerfile, tmp_path / "app")
    port = free_port()
    argv = dockerfile.local_cmd(port, host="127.0.0.1")
    env = app_environment(
        local_settings,
        table=TABLE,
        base_url="",
        public_key=PUBLIC_PEM,
        authorize_url=AUTHORIZE_URL,
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        **{names.ENV_REQUEST_URL_FROM: "forwarded"},
    )
    env.update({k: v for k, v in dockerfile.env().items() if k != "PATH"})
    if allow:
        env["FORWARDED_ALLOW_IPS"] = allow
    base = f"http://127.0.0.1:{port}"
    with serving(argv, env, cwd=tree, health_url=f"{base}/health", log=tmp_path / "app.log"):
        launch = httpx.get(
            f"{base}/launch",
            headers={"Host": "shop-app.example.test", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
            trust_env=False,
            follow_redirects=False,
        )
    assert launch.status_code == 302, launch.text
    assert httpx.URL(launch.headers["location"]).params["redirect_uri"] == expected
