"""Headless runs of the workshop notebooks: each notebook in order, executed by papermill in
a fresh kernel, with executed copies written under ``build/notebooks/``. papermill reads each
notebook in ``notebooks/`` and writes only the copy: the working files are never written.

A notebook's ``parameters`` cell gets ``target`` (and any extra parameters); its first cell
reads the settings for that target (:func:`~bwp_workshop.notebook.cells.start`) and passes them
to every step. The first failure
stops the run (later notebooks depend on it) and is reported with the notebook and cell.

Each notebook still gets a fresh kernel, but the next notebook's kernel is started while the
current one runs, and a finished notebook's kernel is shut down while the next one runs, so
neither a kernel's start-up (a second or two of imports) nor its shutdown (about a second) is
waited for. The run ends once every kernel it started has stopped.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkshopError
from ..notebook_catalog import NOTEBOOK_PATTERN, NOTEBOOKS_DIR, notebook_paths
from ..settings import Settings

KERNEL_NAME = "bwp-workshop"
WARM_EXTENSION = "bwp_workshop.notebook.warm"  # not imported here: importing it is the work


class NotebookFailed(WorkshopError):
    """A notebook failed; the message names the notebook and the cell."""


@dataclass
class NotebookResult:
    number: str
    name: str
    status: str  # "passed", "failed", "not run"
    seconds: float = 0.0
    output: Path | None = None
    cell: int | None = None  # execution count in the executed copy (papermill adds one cell for parameters)
    error: str | None = None
    #: What the failing cell's own error said to do (a ``WorkshopError``'s hint), if anything.
    hint: str = ""


def discover(settings: Settings, only: Iterable[str] = ()) -> list[Path]:
    """The workshop notebooks (``NN-name.ipynb``) in order; ``only`` picks by number."""
    wanted = {number.zfill(2) for number in only}
    found = notebook_paths(settings.project_dir)
    if wanted:
        unknown = wanted - {NOTEBOOK_PATTERN.match(path.name).group(1) for path in found}  # type: ignore[union-attr]
        if unknown:
            raise WorkshopError(
                f"No notebook numbered {', '.join(sorted(unknown))} in {settings.project_dir / NOTEBOOKS_DIR}.",
                hint="Numbers are the two digits a notebook's file name starts with.",
            )
        found = [path for path in found if path.name[:2] in wanted]
    return found


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        raise WorkshopError(
            f"The Jupyter kernel {KERNEL_NAME!r} is not registered.",
            hint="Run `make setup` (it registers the kernel in the project's .venv).",
        ) from None
    return KERNEL_NAME


def _start_kernel(kernel: str, cwd: Path) -> Any:
    """A fresh kernel for the notebooks in ``cwd``, started now and handed to papermill later
    (nbclient's own settings: an in-memory IPython history, an asynchronous client)."""
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name=kernel, client_class="jupyter_client.asynchronous.AsyncKernelClient")
    manager.start_kernel(
        cwd=str(cwd),
        # bwp_workshop.notebook.warm imports what the first cells need while the kernel waits.
        # extra_extensions: added to the environment's configured extensions (cell_errors), not
        # in place of them.
        extra_arguments=["--HistoryManager.hist_file=:memory:", f"--IPKernelApp.extra_extensions={WARM_EXTENSION}"],
    )
    return manager


def _stop_kernel(manager: Any) -> None:
    with contextlib.suppress(Exception):  # a kernel already gone is stopped
        manager.shutdown_kernel()
    with contextlib.suppress(Exception):
        manager.cleanup_resources()


def run_notebooks(
    settings: Settings,
    *,
    target: str | None = None,
    only: Iterable[str] = (),
    output_dir: Path | None = None,
    parameters: dict[str, Any] | None = None,
    on_result: Callable[[NotebookResult], None] | None = None,
) -> list[NotebookResult]:
    """Execute the notebooks in order; returns one result per notebook (those after a
    failure are ``not run``)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    target = target or settings.target
    paths = discover(settings, only)
    output_dir = output_dir or settings.project_dir / "build" / "notebooks"
    output_dir.mkdir(parents=True, exist_ok=True)
    kernel = _kernel_name()
    results: list[NotebookResult] = []
    failed = False
    # Kernels write their own diagnostics to the inherited stderr; keep them in a log file so
    # the run's table stays readable.
    kernel_log = open(output_dir / "kernels.log", "ab")  # noqa: SIM115 - closed below
    saved_stderr = os.dup(2)
    os.dup2(kernel_log.fileno(), 2)
    ahead: Any = None  # the kernel of the next notebook, starting while this one runs
    # Kernels of finished notebooks shut down here, one at a time, while the next one runs.
    stopper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel-stop")
    try:
        for index, path in enumerate(paths):
            result = NotebookResult(number=path.name[:2], name=path.stem, status="not run")
            results.append(result)
            if failed:
                continue
            result.output = output_dir / path.name
            started = time.perf_counter()
            manager, ahead = ahead or _start_kernel(kernel, path.parent), None
            if index + 1 < len(paths):
                ahead = _start_kernel(kernel, paths[index + 1].parent)
            try:
                papermill.execute_notebook(
                    str(path),
                    str(result.output),
                    parameters={"target": target, **(parameters or {})},
                    kernel_name=kernel,
                    cwd=str(path.parent),
                    progress_bar=False,
                    log_output=False,
                    report_mode=False,
                    km=manager,
                )
                result.status = "passed"
            except PapermillExecutionError as exc:
                failed = True
                result.status = "failed"
                result.cell = exc.exec_count
                message, _, hint = str(exc.evalue or "").partition("\n  What to do: ")
                result.error = f"{exc.ename}: {message.splitlines()[0] if message else ''}"[:500]
                result.hint = " ".join(hint.split())[:1000]
            finally:
                result.seconds = time.perf_counter() - started
                stopper.submit(_stop_kernel, manager)
                if failed and ahead is not None:
                    stopper.submit(_stop_kernel, ahead)
                    ahead = None
            if on_result:
                on_result(result)
    finally:
        if ahead is not None:
            stopper.submit(_stop_kernel, ahead)
        stopper.shutdown(wait=True)
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        kernel_log.close()
    return results


def raise_for_failure(results: list[NotebookResult]) -> None:
    for result in results:
        if result.status == "failed":
            where = f"The executed copy {result.output} shows the cell and its output."
            raise NotebookFailed(
                f"Notebook {result.name} failed in cell [{result.cell}]: {result.error}",
                hint=f"{result.hint} {where}"
                if result.hint
                else f"{where} Fix the cause and run again (every notebook can be re-run on its own with --only).",
            )
