"""How errors show in a notebook cell (``bwp_workshop.notebook.cell_errors``), in an IPython
shell in process, as a kernel runs the cells: a "what to do" already shown by another cell is
not repeated; after a kernel restart, a name an earlier cell sets names that cell in one line;
a local service that does not answer is named, with what to run, in one line on every cell;
the error still fails the cell."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from bwp_workshop.errors import CredentialsError
from bwp_workshop.notebook.cell_errors import RUN_FROM_THE_TOP, SAID_ABOVE, install
from bwp_workshop.settings import get_settings
from bwp_workshop.steps.preflight import Check, PreflightFailed, require
from bwp_workshop.targets import choose_target
from bwp_workshop.testing.checkout import CHECKOUT

SIGN_IN = "Sign in: run `aws sso login --profile <name>`, or set AWS_PROFILE. Set BWP_TARGET=local to rehearse."


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell(config=config)
    install(shell)
    yield shell
    shell.cleanup()


def run(shell: InteractiveShell, source: str, cell: str, capsys: Any) -> tuple[bool, str]:
    capsys.readouterr()
    result = shell.run_cell(source, store_history=True, cell_id=cell)
    return result.success, capsys.readouterr().out


def test_the_aws_sign_in_paragraph_shows_once(shell: InteractiveShell, capsys: Any) -> None:
    """00 on aws without credentials: the preflight fails with the sign-in steps; the bootstrap
    cell below fails for the same reason in one line."""
    checks = [Check("AWS credentials", False, "No AWS credentials found for the aws target.", SIGN_IN)]
    shell.user_ns.update(require=require, checks=checks, CredentialsError=CredentialsError)
    ok, preflight = run(shell, "require(checks)", "preflight", capsys)
    assert not ok and preflight.count("aws sso login") == 1 and "Traceback" not in preflight
    assert "the aws target." in preflight and "target.." not in preflight
    raise_credentials = f"raise CredentialsError('No AWS credentials found for the aws target.', hint={SIGN_IN!r})"
    ok, bootstrap = run(shell, raise_credentials, "bootstrap", capsys)
    assert not ok  # the cell still fails
    assert (
        bootstrap.strip()
        == f"CredentialsError: No AWS credentials found for the aws target.\n  What to do: {SAID_ABOVE}"
    )

    # The preflight cell run again shows its steps again (its old output is replaced) ...
    ok, again = run(shell, "require(checks)", "preflight", capsys)
    assert not ok and again.count("aws sso login") == 1
    # ... and once it passes, a later cell that meets the error shows the steps itself.
    ok, _ = run(shell, "checks = []\nrequire(checks)", "preflight", capsys)
    assert ok
    ok, alone = run(shell, raise_credentials, "bootstrap", capsys)
    assert not ok and alone.count("aws sso login") == 1


def test_other_errors_keep_their_traceback(shell: InteractiveShell, capsys: Any) -> None:
    install(shell)  # a notebook's first cell run twice: still one handler
    assert len(shell.events.callbacks["pre_run_cell"]) == 1
    ok, shown = run(shell, "1 / 0", "a", capsys)
    assert not ok and "ZeroDivisionError" in shown and "Traceback" in shown


def test_a_headless_error_keeps_its_name_and_text(shell: InteractiveShell) -> None:
    shell.user_ns["PreflightFailed"] = PreflightFailed
    result = shell.run_cell("raise PreflightFailed('Fix these', hint='do this')", cell_id="x")
    assert isinstance(result.error_in_exec, PreflightFailed) and str(result.error_in_exec) == (
        "Fix these\n  What to do: do this"
    )


NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "source": ["# 06"]},
        {
            "cell_type": "code",
            "source": ["from bwp_workshop.notebook import start, table\n", "settings = start(target)"],
        },
        {"cell_type": "code", "source": ["# Send the events.\n", "%time x = 1\n", "pipeline, sent = make(settings)"]},
        {"cell_type": "code", "source": ["table(pipeline.queue_depths())"]},
    ]
}


def test_a_name_set_by_an_earlier_cell_after_a_restart_names_that_cell(
    shell: InteractiveShell, capsys: Any, tmp_path: Path
) -> None:
    notebook = tmp_path / "06-test-events.ipynb"
    notebook.write_text(json.dumps(NOTEBOOK))
    shell.user_ns["__session__"] = str(notebook)  # what JupyterLab's kernel is told
    ok, first = run(shell, "table(pipeline.queue_depths())", "c4", capsys)
    assert not ok and first.strip().startswith("NameError: 'table' is set by code cell 1 of this notebook")
    ok, shown = run(shell, "pipeline.queue_depths()", "c4", capsys)
    assert not ok
    assert shown.strip() == (
        "NameError: 'pipeline' is set by code cell 2 of this notebook (the one starting `%time x = 1`), which has "
        "not run in "
        f"this kernel since it started: {RUN_FROM_THE_TOP}."
    )
    assert len(shown.strip().splitlines()) == 1
    ok, typo = run(shell, "pipline", "c5", capsys)  # not a name of the notebook: IPython's own message
    assert not ok and "Traceback" in typo and "NameError" in typo
    # A NameError inside a library is the library's: its traceback stays.
    shell.user_ns["broken"] = eval("lambda: pipeline", {})  # a function with globals of its own, as a library's
    ok, inner = run(shell, "broken()", "c6", capsys)
    assert not ok and "Traceback" in inner


def test_without_the_notebook_file_the_line_says_to_run_from_the_top(shell: InteractiveShell, capsys: Any) -> None:
    ok, shown = run(shell, "pipeline.queue_depths()", "c1", capsys)
    assert not ok and shown.strip().endswith(f"{RUN_FROM_THE_TOP}.") and "Traceback" not in shown
    assert shown.strip().startswith("NameError: 'pipeline' is not set in this kernel.")


def test_the_kernel_loads_the_handler_at_start(tmp_path: Path) -> None:
    """The workshop kernel's configuration (copied by make setup) loads the extension, so the
    handler is there after a restart, before any cell of the notebook ran."""
    config = (CHECKOUT / "tools" / "ipython_kernel_config.py").read_text()
    namespace: dict[str, Any] = {"c": Config(), "get_config": Config}
    exec(config, namespace)  # the project's own configuration file
    assert "bwp_workshop.notebook.cell_errors" in namespace["c"].IPKernelApp.extensions
    fresh = InteractiveShell(config=Config({"HistoryManager": {"hist_file": ":memory:"}}))
    try:
        fresh.extension_manager.load_extension("bwp_workshop.notebook.cell_errors")
        assert fresh.custom_exceptions == (Exception,)
    finally:
        fresh.cleanup()


def queue_depths(port: int) -> None:
    """What 06's queue-depth cell meets once the local AWS is killed: botocore's error, raised
    deep inside a library call."""
    from botocore.exceptions import EndpointConnectionError

    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError as refused:
        raise EndpointConnectionError(endpoint_url=f"http://localhost:{port}/") from refused


def test_a_local_service_that_does_not_answer_is_named_on_every_cell(
    shell: InteractiveShell, capsys: Any, isolated_environment: Path
) -> None:
    settings = get_settings()
    assert settings.target == "local"
    shell._bwp_cell_errors.target = choose_target(settings)  # as the notebook's first cell sets it
    shell.user_ns.update(queue_depths=queue_depths, settings=settings, httpx=httpx)
    for cell in ("depths", "malformed"):  # the next cells too, not only the first one
        ok, shown = run(shell, "queue_depths(settings.local_moto_port)", cell, capsys)
        assert not ok
        [line] = shown.strip().splitlines()
        assert line.startswith(
            f"EndpointConnectionError: the local AWS (moto server) does not answer at http://localhost:"
            f"{settings.local_moto_port} (it stopped, or has not been started). What to do: run `bwp-workshop "
            "local up` in a terminal, or this notebook again from its first cell"
        )

    sandbox = f"http://{settings.local_host}:{settings.local_sandbox_port}/_sandbox/merchants"
    raise_connect = (
        f"raise httpx.ConnectError('All connection attempts failed', request=httpx.Request('GET', {sandbox!r}))"
    )
    ok, shown = run(shell, raise_connect, "emit", capsys)
    assert not ok and shown.strip().startswith("ConnectError: the Buy with Prime sandbox does not answer at ")
    app = f"http://{settings.local_host}:{settings.local_app_port}/health"
    wrapped = (
        f"try:\n    {raise_connect.replace(sandbox, app)}\n"
        "except httpx.ConnectError as e:\n    raise RuntimeError('health') from e"
    )
    ok, shown = run(shell, wrapped, "health", capsys)
    assert not ok and "the app (the OAuth handler, Fargate's stand-in) does not answer" in shown
    assert "notebooks 01 and 03" in shown and len(shown.strip().splitlines()) == 1

    # Another address (the real AWS, a typo'd port): IPython's traceback, which names it.
    ok, shown = run(shell, "queue_depths(1)", "other", capsys)
    assert not ok and "Traceback" in shown and "EndpointConnectionError" in shown
