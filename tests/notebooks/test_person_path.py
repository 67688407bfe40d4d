"""What a person does to the workshop, with real processes: stops half way, stops the local
runtime between notebooks, runs `make workshop` on the state of the days before, re-runs
notebooks, has the local AWS killed and follows the notebooks' hint to a run that converges
(the story is ``conftest.story``; each test checks one step of it). The aws target without
credentials is in ``test_aws_without_credentials.py``."""

from __future__ import annotations

from typing import Any

import pytest

from bwp_workshop import names
from bwp_workshop.outputs import notebooks_to_rerun, rerun_hint
from bwp_workshop.testing.checkout import CHECKOUT
from tests.notebooks.workshop_run import HINTED_AGAIN, outputs_of

pytestmark = pytest.mark.timeout(1500)

#: What a notebook says to run again once the local AWS has lost InfraStack, and every stack.
INFRA_AGAIN = rerun_hint(notebooks_to_rerun(CHECKOUT, [names.INFRA_STACK])).split(" (")[0]
ALL_AGAIN = f"run notebooks {', '.join(HINTED_AGAIN)} again"


def test_a_run_stopped_half_way_then_the_hinted_notebooks_converge(story: dict[str, Any]) -> None:
    first = story["stopped after 02"]["result"]
    assert first.returncode == 0, first.stdout[-3000:]
    hinted = story["following the hint"]
    assert hinted["result"].returncode == 0, hinted["result"].stdout + hinted["result"].stderr
    records = hinted["records"]
    assert records["06"]["all_stored"] and records["06"]["stored"] == records["06"]["sent"] > 0
    assert records["06"]["dead_lettered"] == 1


def test_after_local_down_the_next_notebook_says_what_to_run_again(story: dict[str, Any]) -> None:
    step = story["03 after local down"]
    assert step["result"].returncode != 0
    said = step["result"].stdout + step["result"].stderr
    # The CLI carries the notebook's own hint, not a generic one.
    assert "InfraStack no longer exists" in said and INFRA_AGAIN in said, said
    shown = "".join("".join(o.get("text", "")) for o in outputs_of(step["out"] / "03-oauth-handler.ipynb"))
    assert "the local AWS was restarted" in shown and INFRA_AGAIN.removeprefix("run ") in shown


def test_notebooks_run_again_give_right_answers(story: dict[str, Any]) -> None:
    # Again on the same local AWS (in Jupyter), and again after it was killed (headless).
    for step in ("re-run", "following the hint"):
        result = story[step]["result"]
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        records = story[step]["records"]
        assert records["04"]["refreshed"]
        # Counts are of this run's events: every one stored once, one dead letter from this send.
        assert records["06"]["all_stored"] and records["06"]["stored"] == records["06"]["sent"] > 0
        assert records["06"]["dead_lettered"] == 1
        assert records["06"]["dlq_as_found"]  # the malformed event of the run before is not back
        assert records["07"]["records"] >= records["06"]["sent"] and records["07"]["order_queried"]


def test_a_killed_local_aws_is_noticed_and_the_hinted_run_converges(story: dict[str, Any]) -> None:
    status = story["status after kill"]
    assert status.returncode == 3 and "moto" in status.stdout and "stopped" in status.stdout, status.stdout
    step = story["06 after the local AWS was killed"]
    said = step["result"].stdout + step["result"].stderr
    assert step["result"].returncode != 0 and "EventStack no longer exists" in said and ALL_AGAIN in said, said
    hinted = story["following the hint"]["result"]
    assert hinted.returncode == 0, hinted.stdout + hinted.stderr
    clean_up = story["clean-up"]["result"]
    assert clean_up.returncode == 0 and story["clean-up"]["records"]["99"]["nothing_left"], clean_up.stdout


def test_executed_copies_show_plots_and_finished_progress(story: dict[str, Any]) -> None:
    out = story["workshop"]["out"]
    assert (story["clean-up"]["out"] / "99-clean-up.ipynb").is_file()
    analytics = outputs_of(out / "07-api-and-analytics.ipynb")
    assert sum("image/png" in output.get("data", {}) for output in analytics) >= 2
    for notebook in [*out.glob("*.ipynb"), *story["clean-up"]["out"].glob("*.ipynb")]:
        for output in outputs_of(notebook):
            assert output.get("name") != "stderr", f"{notebook.name} shows stderr: {output.get('text')}"
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {}), notebook.name
