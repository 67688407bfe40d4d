"""The workshop notebooks end to end on the local target, as `make workshop` runs them:
once headless with papermill (asserting on what each notebook recorded and that no secret
reached an executed notebook, a log or the CLI output), once under nbval.

Each run has its own state folder, .env file and free ports, so it never touches the
checkout's own .bwp/ or .env and can run beside a developer's local runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, clean_environ, free_port

pytestmark = pytest.mark.timeout(900)

BIN = Path(sys.executable).parent


def _environment(folder: Path) -> dict[str, str]:
    return clean_environ(
        BWP_PROJECT_DIR=str(REPO_ROOT),
        BWP_STATE_DIR=str(folder / ".bwp"),
        BWP_ENV_FILE=str(folder / ".env"),
        BWP_LOCAL_MOTO_PORT=str(free_port()),
        BWP_LOCAL_SANDBOX_PORT=str(free_port()),
        BWP_LOCAL_APP_PORT=str(free_port()),
        BWP_LOCAL_EVENT_RUNNER_PORT=str(free_port()),
    )


def _stop_runtime(env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "bwp-workshop"), "local", "down"], env=env, capture_output=True, check=False)


@pytest.fixture(scope="module")
def headless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The workshop run headless up to the analytics, the values a leak would show, then the
    clean-up notebook."""
    folder = tmp_path_factory.mktemp("workshop")
    env = _environment(folder)
    run = [str(BIN / "bwp-workshop"), "run", "--output-dir", str(folder / "out")]
    try:
        first = subprocess.run(
            [*run, *(f"--only={n}" for n in ("00", "01", "02", "03", "04", "05", "06", "07"))],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=800,
        )
        secrets = _secrets_in_use(folder, env) if first.returncode == 0 else []
        second = subprocess.run([*run, "--only=99"], env=env, capture_output=True, text=True, check=False, timeout=300)
    finally:
        _stop_runtime(env)
    records = {p.stem: json.loads(p.read_text()) for p in (folder / ".bwp" / "records").glob("*.json")}
    yield {"folder": folder, "runs": [first, second], "records": records, "secrets": secrets}


def _secrets_in_use(folder: Path, env: dict[str, str]) -> list[str]:
    """The client secret and every access and refresh token the token table holds."""
    probe = (
        "import json, boto3\n"
        "from bwp_workshop import aws\n"
        "from bwp_workshop.outputs import stack_output\n"
        "from bwp_workshop.settings import get_settings\n"
        "s = get_settings()\n"
        "table = aws.resource('dynamodb', s).Table(stack_output(s, 'InfraStack', 'TokenTableName'))\n"
        "items = table.scan()['Items']\n"
        "values = [s.client_secret.get_secret_value()]\n"
        "values += [i[k] for i in items for k in ('access_token', 'refresh_token') if k in i]\n"
        "print(json.dumps(values))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    return [value for value in json.loads(result.stdout) if value]


def test_every_notebook_passes_headless(headless: dict) -> None:
    for run in headless["runs"]:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = headless["runs"][0].stdout
    for name in ("00-prerequisites", "04-merchant-install", "07-api-and-analytics"):
        assert f"{name}" in table and "passed" in table
    assert (headless["folder"] / "out" / "99-clean-up.ipynb").is_file()


def test_the_notebooks_recorded_a_working_integration(headless: dict) -> None:
    records = headless["records"]
    assert sorted(records) == ["00", "01", "02", "03", "04", "05", "06", "07", "99"]
    assert records["00"]["preflight_ok"] and records["00"]["bootstrapped"]
    assert records["01"]["base_url_lowercase"]
    assert records["02"]["credentials"]
    assert records["03"]["app_healthy"]
    assert records["04"]["installations"] == 1 and records["04"]["refreshed"]
    assert records["05"]["subscriptions"] == 8
    assert records["06"]["all_stored"] and records["06"]["stored"] >= records["06"]["sent"] > 0
    assert records["06"]["dead_lettered"] >= 1
    assert records["07"]["records"] >= records["06"]["sent"] and records["07"]["order_queried"]
    assert records["99"]["nothing_left"]


def test_no_secret_in_any_executed_notebook_log_or_output(headless: dict) -> None:
    secrets = headless["secrets"]
    assert len(secrets) >= 3  # the client secret, and at least one access and refresh token
    folder = headless["folder"]
    places = {path: path.read_text(errors="replace") for path in (folder / "out").glob("*.ipynb")}
    places.update({path: path.read_text(errors="replace") for path in (folder / ".bwp" / "logs").glob("*.log")})
    for number, run in enumerate(headless["runs"]):
        places[Path(f"run {number} output")] = run.stdout + run.stderr
    assert len(places) >= 12
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {place}"


def test_nbval_runs_every_notebook(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", "notebooks"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=800,
        )
    finally:
        _stop_runtime(env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
