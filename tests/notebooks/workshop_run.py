"""Running the workshop notebooks headless for the tests: each run has its own state folder,
.env file and free ports, so it never touches the checkout's own .bwp/ or .env and can run
beside a developer's local runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bwp_workshop import names
from bwp_workshop.outputs import notebooks_to_rerun
from tests.conftest import REPO_ROOT, clean_environ, free_port

BIN = Path(sys.executable).parent


def environment(folder: Path) -> dict[str, str]:
    return clean_environ(
        BWP_PROJECT_DIR=str(REPO_ROOT),
        BWP_STATE_DIR=str(folder / ".bwp"),
        BWP_ENV_FILE=str(folder / ".env"),
        BWP_LOCAL_MOTO_PORT=str(free_port()),
        BWP_LOCAL_SANDBOX_PORT=str(free_port()),
        BWP_LOCAL_APP_PORT=str(free_port()),
        BWP_LOCAL_EVENT_RUNNER_PORT=str(free_port()),
        # A loaded 2-core machine (a test run beside another) can take over 30 s to start moto.
        BWP_LOCAL_READY_TIMEOUT="120",
    )


def stop_runtime(env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "bwp-workshop"), "local", "down"], env=env, capture_output=True, check=False)


ALL_BUT_CLEAN_UP = ("00", "01", "02", "03", "04", "05", "06", "07")
#: What a notebook says to run again once the local AWS has lost every stack.
HINTED_AGAIN = tuple(notebooks_to_rerun(REPO_ROOT, names.STACKS))


def records(folder: Path) -> dict[str, dict[str, Any]]:
    """What each notebook recorded in the run's state folder."""
    return {p.stem: json.loads(p.read_text()) for p in (folder / ".bwp" / "records").glob("*.json")}


def outputs_of(notebook: Path) -> list[dict[str, Any]]:
    """Every output of an executed notebook's code cells, in order."""
    cells = json.loads(notebook.read_text())["cells"]
    return [output for cell in cells if cell["cell_type"] == "code" for output in cell.get("outputs", [])]


def secrets_in_use(env: dict[str, str]) -> list[str]:
    """The client secret and every access and refresh token the run's token table holds."""
    probe = (
        "import json\n"
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
