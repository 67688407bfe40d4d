"""The workshop notebooks end to end on the local target, as `make workshop` runs them: the
full run of the person's story (``conftest.story``: every notebook headless with papermill,
then the clean-up), asserting on what each notebook recorded and that no secret reached an
executed notebook, a log or the CLI output; and the story's Jupyter sessions under nbval."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.notebooks.workshop_run import NOTEBOOKS, code_cells, outputs_of

pytestmark = pytest.mark.timeout(1500)

#: A row of `bwp-workshop run`'s table: the notebook, then its outcome.
ROW = re.compile(r"^\s+(?P<name>\d\d-[\w-]+)\s+(?P<status>passed|failed|not run)\b")


def run_table(stdout: str) -> dict[str, str]:
    """Each notebook's outcome in the run's table (a name listed twice is an error)."""
    rows = [match.group("name", "status") for match in map(ROW.match, stdout.splitlines()) if match]
    table = dict(rows)
    assert len(table) == len(rows), stdout
    return table


def test_every_notebook_passes_headless(story: dict[str, Any]) -> None:
    for step in ("workshop", "clean-up"):
        run = story[step]["result"]
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # Every notebook ran and passed, in its run's table and in its executed copy.
    workshop = [path.stem for path in NOTEBOOKS if not path.stem.startswith("99")]
    assert len(workshop) == 8
    assert run_table(story["workshop"]["result"].stdout) == dict.fromkeys(workshop, "passed")
    assert run_table(story["clean-up"]["result"].stdout) == {"99-clean-up": "passed"}
    executed = [story["workshop"]["out"] / f"{name}.ipynb" for name in workshop]
    executed.append(story["clean-up"]["out"] / "99-clean-up.ipynb")
    for copy in executed:
        errors = [output for output in outputs_of(copy) if output["output_type"] == "error"]
        assert not errors, (copy.name, errors)


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
    assert records["06"]["dead_lettered"] == 1 and records["06"]["dlq_as_found"]
    # The dead-letter queue alarm seen firing and clearing (on local: the local alarm evaluation).
    assert (records["06"]["dlq_alarm_raised"], records["06"]["dlq_alarm_cleared"]) == ("ALARM", "OK")
    assert records["07"]["records"] >= records["06"]["sent"] and records["07"]["order_queried"]
    assert records["99"]["nothing_left"]


def test_no_secret_in_any_executed_notebook_log_or_output(story: dict[str, Any]) -> None:
    secrets = story["secrets"]
    assert len(secrets) >= 3  # the client secret, and at least one access and refresh token
    folder = story["folder"]
    places = {path: path.read_text(errors="replace") for path in (folder / "out").rglob("*.ipynb")}
    places.update({path: path.read_text(errors="replace") for path in (folder / ".bwp" / "logs").glob("*.log")})
    for step, found in story.items():
        if isinstance(found, dict) and isinstance(found.get("result"), subprocess.CompletedProcess):
            places[Path(f"{step} output")] = found["result"].stdout + found["result"].stderr
    assert len(places) >= 12
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {place}"


def test_nbval_runs_the_notebooks_a_person_runs_in_jupyter(story: dict[str, Any]) -> None:
    """The story's Jupyter sessions (00-02, then 04, 06 and 07 again), under nbval: every code
    cell ran and passed, and the cells tagged nbval-check-output (in 00 and 01) printed their
    committed outputs."""
    checked: Counter[str] = Counter()
    for step in ("stopped after 02", "re-run"):
        result = story[step]["result"]
        assert result.returncode == 0, result.stdout[-4000:]
        # One test per code cell, every one of them passed: none failed, errored or was skipped.
        per_notebook: Counter[str] = Counter()
        for case in ElementTree.parse(story[step]["report"]).getroot().iter("testcase"):
            outcome = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            assert not outcome, (case.attrib, outcome)
            notebook = re.search(r"(\d\d-[\w-]+)\.ipynb", case.attrib["classname"])
            assert notebook, case.attrib
            per_notebook[notebook.group(1)] += 1
        assert per_notebook == {path.stem: code_cells(path) for path in story[step]["notebooks"]}
        checked.update(per_notebook)
    compared = {path.stem for path in NOTEBOOKS if "nbval-check-output" in json.dumps(json.loads(path.read_text()))}
    assert compared and compared <= set(checked), "a notebook with a checked output does not run under nbval"
