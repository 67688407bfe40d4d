"""The story of a person working through the workshop (see ``test_person_path.py``). It runs the
whole workshop twice: once as `make workshop` runs it (``test_workshop.py`` and ``test_site.py``
read that run) and once following the notebooks' own hint after the local AWS was killed. The
other steps run single notebooks: the first session in Jupyter (nbval), a notebook opened after
`local down`, notebooks run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.notebooks.workshop_run import (
    ALL_BUT_CLEAN_UP,
    BIN,
    HINTED_AGAIN,
    environment,
    nbval,
    records,
    secrets_in_use,
    stop_runtime,
)


@pytest.fixture(scope="session")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The steps' results, by name. Runs of ``bwp-workshop run`` give ``result`` (the CLI's),
    ``out`` (the executed copies) and ``records`` (what the notebooks recorded so far); nbval
    steps give ``result`` (pytest's), ``report`` (its junit XML), ``notebooks`` and ``records``."""
    folder = tmp_path_factory.mktemp("person")
    env = environment(folder)
    steps: dict[str, Any] = {"secrets": []}

    def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "bwp-workshop"), *args], env=env, capture_output=True, text=True, check=False, timeout=timeout
        )

    def run(step: str, *only: str) -> None:
        out = folder / "out" / step.replace(" ", "-")
        result = cli("run", "--output-dir", str(out), *(f"--only={n}" for n in only), timeout=900)
        steps[step] = {"result": result, "out": out, "records": records(folder)}

    def in_jupyter(step: str, *numbers: str) -> None:
        steps[step] = {**nbval(env, folder / "nbval" / step.replace(" ", "-"), numbers), "records": records(folder)}

    def note_secrets(step: str) -> None:
        if steps[step]["result"].returncode == 0:
            steps["secrets"] += secrets_in_use(env)

    try:
        # 1. A first session in Jupyter that stops after 02, and the runtime stopped for the day.
        in_jupyter("stopped after 02", "00", "01", "02")
        steps["down"] = cli("local", "down")
        # 2. The next day the person opens 03 directly: the local AWS starts empty, and 03 says
        #    which notebook to run again.
        run("03 after local down", "03")
        # 3. `make workshop`: the runtime stopped, then every notebook, on the state folder of
        #    the days before (its outputs.json names stacks the local AWS lost).
        cli("local", "down")
        run("workshop", *ALL_BUT_CLEAN_UP)
        note_secrets("workshop")
        # 4. 04, 06 and 07 run again in Jupyter, on the same local AWS.
        in_jupyter("re-run", "04", "06", "07")
        # 5. The local AWS is killed (a crash, the OOM killer), and the person runs 06 again.
        moto = json.loads((folder / ".bwp" / "run" / "moto.json").read_text())
        os.kill(moto["pid"], signal.SIGKILL)
        steps["status after kill"] = cli("local", "status")
        run("06 after the local AWS was killed", "06")
        # 6. The person does what it says, then goes on to 06 and 07: it converges; then the clean-up.
        run("following the hint", *HINTED_AGAIN, "06", "07")
        note_secrets("following the hint")
        run("clean-up", "99")
    finally:
        stop_runtime(env)
    steps["folder"] = folder
    yield steps
