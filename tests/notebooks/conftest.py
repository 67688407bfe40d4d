"""The story of a person working through the workshop (see ``test_person_path.py``); its
full run is also the workshop as `make workshop` runs it (``test_workshop.py``)."""

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
    records,
    secrets_in_use,
    stop_runtime,
)


@pytest.fixture(scope="session")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The steps' results, by name; the last full run ("converged") is the workshop as
    `make workshop` runs it (a clean runtime, every notebook)."""
    folder = tmp_path_factory.mktemp("person")
    env = environment(folder)
    steps: dict[str, Any] = {}

    def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "bwp-workshop"), *args], env=env, capture_output=True, text=True, check=False, timeout=timeout
        )

    def run(step: str, *only: str) -> None:
        out = folder / "out" / step.replace(" ", "-")
        result = cli("run", "--output-dir", str(out), *(f"--only={n}" for n in only), timeout=900)
        steps[step] = {"result": result, "out": out, "records": records(folder)}

    try:
        # 1. A first session that stops after notebook 05, and the runtime stopped for the day.
        run("stopped after 05", "00", "01", "02", "03", "04", "05")
        steps["down"] = cli("local", "down")
        # 2. The next day the person opens 06 directly: the local AWS starts empty, and 06 says
        #    which notebooks to run again.
        run("06 after local down", "06")
        # 3. The person does what it says, then goes on to 06 and 07.
        run("following the hint", *HINTED_AGAIN, "06", "07")
        # 4. 04, 06 and 07 run again, twice.
        run("re-run 1", "04", "06", "07")
        run("re-run 2", "04", "06", "07")
        # 5. The local AWS is killed (a crash, the OOM killer), and the person runs 06 again.
        moto = json.loads((folder / ".bwp" / "run" / "moto.json").read_text())
        os.kill(moto["pid"], signal.SIGKILL)
        steps["status after kill"] = cli("local", "status")
        run("06 after the local AWS was killed", "06")
        # 6. And the whole workshop again: it converges; then the clean-up.
        cli("local", "down")
        run("converged", *ALL_BUT_CLEAN_UP)
        steps["secrets"] = secrets_in_use(env) if steps["converged"]["result"].returncode == 0 else []
        run("clean-up", "99")
    finally:
        stop_runtime(env)
    steps["folder"] = folder
    yield steps
