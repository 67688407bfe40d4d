"""A person on the aws target without AWS credentials (none, an unknown profile, an SSO
sign-in that expired): 00 says how to sign in, headless and cell by cell in Jupyter. No story,
no local runtime: each test runs 00 on its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bwp_workshop.testing.checkout import CHECKOUT
from tests.notebooks.workshop_run import BIN, environment, outputs_of


@pytest.mark.parametrize(
    ("credentials", "said"),
    [
        ({}, "No AWS credentials found"),
        ({"AWS_PROFILE": "a-profile-that-is-not-here"}, "does not exist here"),
        ({"AWS_PROFILE": "sso"}, "SSO sign-in has expired or never happened"),
    ],
    ids=["none", "unknown profile", "no SSO sign-in"],
)
def test_the_aws_target_without_credentials_says_how_to_sign_in(
    tmp_path: Path, credentials: dict[str, str], said: str
) -> None:
    # A profile signed in through IAM Identity Center, whose sign-in is not in the SSO cache.
    (tmp_path / "config").write_text(
        "[profile sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
        "sso_account_id = 123456789012\nsso_role_name = Workshop\nregion = us-east-1\n"
    )
    env = {
        **environment(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **credentials,
    }
    out = tmp_path / "out"
    result = subprocess.run(
        [str(BIN / "bwp-workshop"), "run", "--target", "aws", "--only", "00", "--output-dir", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    shown = result.stdout + result.stderr
    assert result.returncode == 1, shown
    # The notebook's own hint reaches the CLI: how to sign in, and the local target as a way out.
    assert said in shown and "aws sso login" in shown, shown
    errors = [o for o in outputs_of(out / "00-prerequisites.ipynb") if o["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "PreflightFailed"
    traceback = "\n".join(errors[0]["traceback"])
    assert "aws sso login" in traceback and "Traceback" not in traceback and "AssertionError" not in traceback


def test_00_on_aws_without_credentials_shows_the_sign_in_steps_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person runs every cell of 00 in turn (Shift+Enter goes on after an error) on the aws
    target with no credentials: the preflight says how to sign in; the bootstrap cell, failing
    for the same reason, says so in one line; the facts cell shows nothing."""
    import nbformat
    from nbclient import NotebookClient

    from bwp_workshop.notebook.cell_errors import SAID_ABOVE
    from bwp_workshop.notebook.runner import KERNEL_NAME

    for name, value in {
        **environment(tmp_path),
        "BWP_TARGET": "aws",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(CHECKOUT / "notebooks" / "00-prerequisites.ipynb", as_version=4)
    NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        allow_errors=True,
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    errors = [
        (cell, output)
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    shown = ["\n".join(output.traceback) for _, output in errors]
    assert [output.ename for _, output in errors] == ["PreflightFailed", "CredentialsError"], shown
    assert "aws sso login" in shown[0] and "target.." not in shown[0]
    assert shown[1] == f"CredentialsError: No AWS credentials found for the aws target.\n  What to do: {SAID_ABOVE}"
    [facts] = [cell for cell in notebook.cells if "workshop-record" in cell.metadata.get("tags", [])]
    assert facts.outputs == []
