"""Running the workshop notebooks for the tests, headless (``bwp-workshop run``) or under nbval
(as Jupyter runs them): each story has its own state folder, .env file and free ports, so it
never touches the checkout's own .bwp/ or .env and can run beside a developer's local runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bwp_workshop import names
from bwp_workshop.notebook_catalog import notebook_paths
from bwp_workshop.outputs import notebooks_to_rerun
from bwp_workshop.testing.checkout import CHECKOUT
from bwp_workshop.testing.environment import clean_environ
from bwp_workshop.testing.ports import free_port

BIN = Path(sys.executable).parent
NOTEBOOKS = notebook_paths(CHECKOUT)


def environment(folder: Path) -> dict[str, str]:
    return clean_environ(
        BWP_PROJECT_DIR=str(CHECKOUT),
        BWP_STATE_DIR=str(folder / ".bwp"),
        BWP_ENV_FILE=str(folder / ".env"),
        BWP_LOCAL_MOTO_PORT=str(free_port()),
        BWP_LOCAL_SANDBOX_PORT=str(free_port()),
        BWP_LOCAL_APP_PORT=str(free_port()),
        BWP_LOCAL_EVENT_RUNNER_PORT=str(free_port()),
        # A loaded 2-core machine (a test run beside another) can take over 30 s to start moto.
        BWP_LOCAL_READY_TIMEOUT="120",
        # The alarms' one-minute periods last 10 s: 06 waits for its dead-letter alarm to clear
        # in every run (tests/local/test_alarm_evaluation.py checks the evaluation at both paces).
        BWP_LOCAL_ALARM_MINUTE="10",
    )


def stop_runtime(env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "bwp-workshop"), "local", "down"], env=env, capture_output=True, check=False)


ALL_BUT_CLEAN_UP = ("00", "01", "02", "03", "04", "05", "06", "07")
#: What a notebook says to run again once the local AWS has lost every stack.
HINTED_AGAIN = tuple(notebooks_to_rerun(CHECKOUT, names.STACKS))


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


def code_cells(notebook: Path) -> int:
    return sum(cell["cell_type"] == "code" for cell in json.loads(notebook.read_text())["cells"])


def nbval_copies(folder: Path, numbers: tuple[str, ...]) -> list[Path]:
    """Notebooks ``numbers`` as nbval reads them: the committed files carry no execution counts
    (a person opening one sees no [1] before running it), and nbval takes a cell with outputs but
    no count for an unrun one, so the copies number the cells whose outputs it compares."""
    folder.mkdir(parents=True)
    copies = []
    for path in NOTEBOOKS:
        if path.name[:2] not in numbers:
            continue
        notebook = json.loads(path.read_text())
        for number, cell in enumerate(notebook["cells"], start=1):
            if cell["cell_type"] == "code" and cell["outputs"]:
                cell["execution_count"] = number
        (folder / path.name).write_text(json.dumps(notebook, indent=1))
        copies.append(folder / path.name)
    return copies


def nbval(env: dict[str, str], folder: Path, numbers: tuple[str, ...]) -> dict[str, Any]:
    """Notebooks ``numbers`` run in order under nbval (``--nbval-lax``: every code cell must run,
    cells tagged nbval-check-output must print their committed outputs), as a person runs them in
    Jupyter: the committed parameters, no papermill. Returns the result and the junit report."""
    report = folder / "nbval.xml"
    copies = nbval_copies(folder / "notebooks", numbers)
    # `-o addopts=`: the project's addopts leave the nbval plugin out of the test sessions.
    argv = ["-o", "addopts=", "--nbval-lax", "-p", "no:cacheprovider", "-q", f"--junitxml={report}", *map(str, copies)]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *argv],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    return {"result": result, "report": report, "notebooks": copies}
