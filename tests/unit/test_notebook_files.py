"""The workshop notebooks as committed: no outputs and no execution counts (what nbstripout
--verify checks in `make lint`), except the outputs nbval compares; a closing cell that writes
the headless facts and shows nothing; a last cell that says how to shut the kernel down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bwp_workshop.notebook import record
from bwp_workshop.notebook.records import read_records
from bwp_workshop.notebook_catalog import notebook_paths
from bwp_workshop.settings import get_settings
from bwp_workshop.testing.checkout import CHECKOUT

NOTEBOOKS = notebook_paths(CHECKOUT)


def cells(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["cells"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_without_outputs(path: Path) -> None:
    for cell in cells(path):
        if cell["cell_type"] != "code":
            continue
        assert cell["execution_count"] is None, (cell["id"], "run `nbstripout --keep-id notebooks/*.ipynb`")
        kept = "nbval-check-output" in cell["metadata"].get("tags", [])
        # nbval compares these cells' outputs with the stored ones: nbstripout keeps them
        assert bool(cell["metadata"].get("keep_output")) == kept, cell["id"]
        if not kept:
            assert cell["outputs"] == [], (cell["id"], "run `nbstripout --keep-id notebooks/*.ipynb`")
        for output in cell["outputs"]:
            assert output.get("execution_count") is None, cell["id"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_facts_cell_shows_nothing_and_the_last_cell_says_how_to_stop_the_kernel(path: Path) -> None:
    notebook = cells(path)
    [facts] = [cell for cell in notebook if "workshop-record" in cell["metadata"].get("tags", [])]
    assert "".join(facts["source"]).rstrip().endswith(")")  # a call to record(): no value left to show
    last = notebook[-1]
    assert last["cell_type"] == "markdown" and "Shut Down Kernel" in "".join(last["source"])


def test_record_writes_the_facts_and_returns_nothing(isolated_environment: Path) -> None:
    settings = get_settings()
    assert record("42", settings, answer=True, names=["a"]) is None
    facts = read_records(settings)["42"]
    assert facts["answer"] is True and facts["names"] == ["a"] and facts["notebook"] == "42"
