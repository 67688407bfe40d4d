"""Progress while waiting, as the headless run's executed copies keep it: each bootstrap, diff,
deploy and destroy cell of the story's `make workshop` run and of its clean-up shows its status
line redrawn while it waited and, as it was last shown, finished."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bwp_workshop.site import as_shown

# The story (conftest.py) runs the workshop twice: whichever test asks for it first waits.
pytestmark = pytest.mark.timeout(1500)

STATUS = re.compile(r"^(Bootstrapping|Comparing|Deploying|Destroying) .* · (?P<state>[^·]+) · \d\d:\d\d\s*$")


def status_lines(notebook: Any) -> list[tuple[int, str]]:
    """(redraws, the line as last shown) of each status line in the notebook's outputs."""
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        text = "".join("".join(o["text"]) for o in cell.get("outputs", []) if o["output_type"] == "stream")
        for line in as_shown(text).splitlines():
            if STATUS.match(line):
                found.append((text.count("\r"), line))
    return found


def test_every_wait_shows_progress_and_ends_finished(story: dict[str, Any]) -> None:
    out, clean_up = story["workshop"]["out"], story["clean-up"]["out"]
    shown = {path.stem[:2]: status_lines(path) for path in [*out.glob("*.ipynb"), *clean_up.glob("*.ipynb")]}
    expected = {"00": ["Bootstrapping"], "01": ["Comparing", "Deploying"], "03": ["Deploying"], "05": ["Deploying"]}
    for number, kinds in {**expected, "99": ["Destroying"]}.items():
        assert [line.split(" ")[0] for _, line in shown[number]] == kinds, (number, shown[number])
    for number, lines in shown.items():
        for redraws, line in lines:
            assert STATUS.match(line)["state"].strip() == "done", (number, line)  # type: ignore[index]
            assert redraws >= 3, (number, line, "redrawn while it waited")
