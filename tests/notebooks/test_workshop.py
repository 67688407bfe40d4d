"""The workshop notebooks end to end on the local target, as `make workshop` runs them: the
full run of the person's story (``conftest.story``: every notebook headless with papermill,
then the clean-up), asserting on what each notebook recorded and that no secret reached an
executed notebook, a log or the CLI output; and every notebook once under nbval."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.notebooks.workshop_run import environment, stop_runtime

pytestmark = pytest.mark.timeout(1500)


def test_every_notebook_passes_headless(story: dict[str, Any]) -> None:
    runs = [story["converged"]["result"], story["clean-up"]["result"]]
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = runs[0].stdout
    for name in ("00-prerequisites", "04-merchant-install", "07-api-and-analytics"):
        assert any(line.split()[:2] == [name, "passed"] for line in table.splitlines()), table
    assert (story["clean-up"]["out"] / "99-clean-up.ipynb").is_file()


def test_the_notebooks_recorded_a_working_integration(story: dict[str, Any]) -> None:
    records = story["clean-up"]["records"]
    assert sorted(records) == ["00", "01", "02", "03", "04", "05", "06", "07", "99"]
    assert records["00"]["preflight_ok"] and records["00"]["bootstrapped"]
    assert records["01"]["base_url_lowercase"]
    assert records["02"]["credentials"]
    assert records["03"]["app_healthy"]
    assert records["04"]["installations"] >= 1 and records["04"]["refreshed"]
    assert records["05"]["subscriptions"] == 8
    assert records["06"]["all_stored"] and records["06"]["stored"] == records["06"]["sent"] > 0
    assert records["06"]["dead_lettered"] == 1
    assert records["07"]["records"] >= records["06"]["sent"] and records["07"]["order_queried"]
    assert records["99"]["nothing_left"]


def test_no_secret_in_any_executed_notebook_log_or_output(story: dict[str, Any]) -> None:
    secrets = story["secrets"]
    assert len(secrets) >= 3  # the client secret, and at least one access and refresh token
    folder = story["folder"]
    places = {path: path.read_text(errors="replace") for path in (folder / "out").rglob("*.ipynb")}
    places.update({path: path.read_text(errors="replace") for path in (folder / ".bwp" / "logs").glob("*.log")})
    for step in ("converged", "clean-up"):
        run = story[step]["result"]
        places[Path(f"{step} output")] = run.stdout + run.stderr
    assert len(places) >= 12
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {place}"


def test_nbval_runs_every_notebook(tmp_path: Path) -> None:
    env = environment(tmp_path)
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
        stop_runtime(env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
