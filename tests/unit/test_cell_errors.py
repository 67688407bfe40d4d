"""How errors show in a notebook cell (``bwp_workshop.notebook.cell_errors``), in an IPython
shell in process, as a kernel runs the cells: a "what to do" already shown by another cell is
not repeated, and the error still fails the cell."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from bwp_workshop.errors import CredentialsError
from bwp_workshop.notebook.cell_errors import SAID_ABOVE, install
from bwp_workshop.steps.preflight import Check, PreflightFailed, require

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
