"""The headless runner on a throwaway project: order, parameters, failure naming, not-run."""

from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner

from bwp_workshop.cli import main
from bwp_workshop.errors import WorkshopError
from bwp_workshop.notebook.cell_errors import RUN_FROM_THE_TOP
from bwp_workshop.notebook.runner import _stop_kernel, discover, run_notebooks
from bwp_workshop.settings import get_settings
from bwp_workshop.testing.checkout import CHECKOUT


def _notebook(path: Path, *sources: str) -> None:
    cells = [nbformat.v4.new_code_cell('target = "local"', metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "bwp-workshop",
        "display_name": "Python (bwp-workshop)",
        "language": "python",
    }
    nbformat.write(notebook, path)


@pytest.fixture
def project(isolated_environment: Path) -> Path:
    folder = isolated_environment / "notebooks"
    folder.mkdir()
    # The parameter reaches the settings through start(), not through the kernel's environment.
    first = "from bwp_workshop.notebook import start\nassert start(target, local_up=False).target == target"
    _notebook(folder / "00-first.ipynb", f"{first}\nprint('first', target)")
    _notebook(folder / "10-second.ipynb", "x = 1", "raise RuntimeError('the second one breaks')")
    _notebook(folder / "20-third.ipynb", "print('never')")
    (folder / "scratch.ipynb").write_text("{}")  # not numbered: ignored
    return isolated_environment


def test_discover_orders_numbered_notebooks_and_filters(project: Path) -> None:
    settings = get_settings()
    assert [path.name for path in discover(settings)] == ["00-first.ipynb", "10-second.ipynb", "20-third.ipynb"]
    assert [path.name for path in discover(settings, ["0"])] == ["00-first.ipynb"]
    with pytest.raises(WorkshopError, match="No notebook numbered 42"):
        discover(settings, ["42"])


def test_a_failure_names_the_notebook_and_cell_and_stops_the_run(project: Path) -> None:
    working = {path: path.read_bytes() for path in (project / "notebooks").iterdir()}
    results = run_notebooks(get_settings(), target="local", output_dir=project / "out")
    # The executed copies are written under out/; the working files are never written.
    assert {path: path.read_bytes() for path in (project / "notebooks").iterdir()} == working
    assert [(r.name, r.status) for r in results] == [
        ("00-first", "passed"),
        ("10-second", "failed"),
        ("20-third", "not run"),
    ]
    assert results[1].cell == 4 and "RuntimeError: the second one breaks" in (results[1].error or "")
    assert (project / "out" / "00-first.ipynb").is_file()
    executed = nbformat.read(project / "out" / "00-first.ipynb", as_version=4)
    assert "first local" in str(executed.cells)


def test_cli_prints_a_table_and_exits_non_zero_on_failure(project: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--only", "00", "--only", "10", "--output-dir", str(project / "o")])
    assert result.exit_code == 1
    assert "00-first" in result.output and "passed" in result.output
    assert "Notebook 10-second failed in cell [4]" in result.output
    ok = CliRunner().invoke(main, ["run", "--only", "00", "--output-dir", str(project / "o")])
    assert ok.exit_code == 0, ok.output


def test_a_kernel_started_ahead_has_the_first_imports_done_and_a_clean_namespace(project: Path) -> None:
    """The runner's kernels load bwp_workshop.notebook.warm: pandas and boto3 are imported
    before the first cell, and the notebook's namespace holds neither name."""
    from bwp_workshop.notebook.runner import KERNEL_NAME, _start_kernel, _stop_kernel

    manager = _start_kernel(KERNEL_NAME, project)
    client = kernel_client(manager)
    try:
        client.start_channels()
        client.wait_for_ready(timeout=60)
        code = (
            "import sys; print(sorted(m for m in ('pandas', 'boto3') if m in sys.modules), 'pandas' in dir(), "
            "get_ipython().custom_exceptions)"
        )
        printed = _Collect()
        reply = client.execute_interactive(code, timeout=60, output_hook=printed)
        assert reply["content"]["status"] == "ok"
        # and the environment's extension too: errors show as cell_errors says
        assert printed.text.strip() == "['boto3', 'pandas'] False (<class 'Exception'>,)"
    finally:
        client.stop_channels()
        _stop_kernel(manager)


def kernel_client(manager: Any) -> Any:
    """A blocking client of ``manager``'s kernel that asks the manager whether the kernel lives:
    a client on its own decides from heartbeats, which a busy machine delays past their 1 s."""
    from jupyter_client.blocking import BlockingKernelClient

    client = BlockingKernelClient(parent=manager)
    client.load_connection_info(manager.get_connection_info())
    return client


class _Collect:
    """An output hook that keeps what the kernel printed."""

    def __init__(self) -> None:
        self.text = ""

    def __call__(self, message: dict) -> None:
        if message["msg_type"] == "stream":
            self.text += message["content"]["text"]


def test_a_restarted_kernel_names_the_cell_to_run(project: Path) -> None:
    """JupyterLab's kernel after Kernel > Restart: nothing of 06 has run, and the queue-depth
    cell is run. The environment's kernel configuration loaded the handler at start, so the
    error is one line naming the cell that sets ``pipeline``."""
    import os

    from jupyter_client.manager import KernelManager

    from bwp_workshop.notebook.runner import KERNEL_NAME

    notebook = CHECKOUT / "notebooks" / "06-test-events.ipynb"
    manager = KernelManager(kernel_name=KERNEL_NAME)
    manager.start_kernel(cwd=str(notebook.parent), env={**os.environ, "JPY_SESSION_NAME": str(notebook)})
    client = kernel_client(manager)
    try:
        client.start_channels()
        client.wait_for_ready(timeout=60)
        errors: list[dict] = []
        reply = client.execute_interactive(
            "depths = pipeline.queue_depths(settings)\ntable(depths)",
            timeout=60,
            output_hook=lambda message: errors.append(message["content"]) if message["msg_type"] == "error" else None,
        )
        assert reply["content"]["status"] == "error"
        [error] = errors
        assert error["ename"] == "NameError"
        assert error["traceback"] == [
            "NameError: 'pipeline' is set by code cell 3 of this notebook (the one starting "
            "`from bwp_workshop.steps import dead_letters, pipeline`), which has not run in this kernel since it "
            f"started: {RUN_FROM_THE_TOP}."
        ]
    finally:
        client.stop_channels()
        _stop_kernel(manager)


def test_a_local_aws_that_does_not_answer_is_named_in_one_line_on_every_cell(project: Path) -> None:
    """The local AWS killed mid-notebook: each later cell that calls it shows one line naming
    it and what to run, in a kernel as JupyterLab starts it."""
    import os

    from jupyter_client.manager import KernelManager

    from bwp_workshop.notebook.runner import KERNEL_NAME
    from bwp_workshop.testing.ports import free_port

    port = free_port()  # nothing listens there: the local AWS is down
    manager = KernelManager(kernel_name=KERNEL_NAME)
    manager.start_kernel(cwd=str(project), env={**os.environ, "BWP_TARGET": "local", "BWP_LOCAL_MOTO_PORT": str(port)})
    client = kernel_client(manager)
    try:
        client.start_channels()
        client.wait_for_ready(timeout=60)
        # The notebook's first cell: the cells' errors know the target from here on.
        client.execute_interactive(
            "from bwp_workshop import aws\nfrom bwp_workshop.notebook import start\nsettings = start(local_up=False)"
        )
        cells = ("aws.client('sqs', settings).list_queues()", "aws.client('dynamodb', settings).list_tables()")
        for cell in cells:
            errors = _Errors()
            reply = client.execute_interactive(cell, timeout=120, output_hook=errors)
            assert reply["content"]["status"] == "error"
            [error] = errors.shown
            assert error["ename"] == "EndpointConnectionError"
            [line] = error["traceback"]
            assert line.startswith(
                f"EndpointConnectionError: the local AWS (moto server) does not answer at http://localhost:{port} "
            ), line
            assert "`bwp-workshop local up`" in line, line
    finally:
        client.stop_channels()
        _stop_kernel(manager)


class _Errors:
    """An output hook that keeps the errors the kernel showed."""

    def __init__(self) -> None:
        self.shown: list[dict] = []

    def __call__(self, message: dict) -> None:
        if message["msg_type"] == "error":
            self.shown.append(message["content"])
