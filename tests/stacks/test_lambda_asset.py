"""The event Lambda's folder: built without Docker for Python 3.12 on x86_64, cached by its
inputs, and runnable from the folder alone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bwp_workshop.stacks import lambda_asset
from bwp_workshop.stacks.lambda_asset import LambdaAssetError, asset_hash, build_lambda_asset
from bwp_workshop.testing.checkout import CHECKOUT
from bwp_workshop.testing.environment import clean_environ

from .conftest import stack_settings


def _python312() -> str | None:
    for candidate in (shutil.which("python3.12"), str(Path.home() / ".pyenv/versions/3.12.1/bin/python3.12")):
        if candidate and Path(candidate).is_file():
            probe = subprocess.run([candidate, "-c", "print(1)"], capture_output=True, check=False)
            if probe.returncode == 0:
                return candidate
    return None


_run = subprocess.run


def _no_pip(command, *args, **kwargs):  # type: ignore[no-untyped-def]
    if "pip" in command:
        pytest.fail("pip ran again")
    return _run(command, *args, **kwargs)


def test_the_folder_has_the_handler_the_shared_package_and_the_wheels(tmp_path: Path) -> None:
    folder = build_lambda_asset(stack_settings(tmp_path))
    handler_modules = sorted(path.stem for path in (CHECKOUT / lambda_asset.HANDLER_DIR).glob("*.py"))
    assert {"handler", "event_processing"} <= set(handler_modules)
    for module in handler_modules:  # the entry point and every module it imports
        assert (folder / f"{module}.py").is_file(), module
    assert not (folder / "requirements.txt").exists()
    for shared in ("__init__.py", "errors.py", "names.py"):
        assert (folder / "bwp_workshop" / shared).is_file()
    assert not (folder / "bwp_workshop" / "stacks").exists()  # no CDK in the Lambda
    assert not (folder / "bwp_workshop" / "settings.py").exists()
    for package in ("aws_lambda_powertools", "httpx", "boto3"):
        assert (folder / package).is_dir(), package
    # Bytecode for the Lambda's Python, compiled at build time (no compile on a cold start).
    if lambda_asset.python312():
        for module in (*handler_modules, "bwp_workshop/names", "httpx/_client", "botocore/session"):
            path = folder / module
            pyc = path.parent / "__pycache__" / f"{path.name}.cpython-312.pyc"
            assert pyc.is_file(), module
        assert not [p for p in folder.rglob("*.pyc") if not p.name.endswith(".cpython-312.pyc")]
    assert not (folder / "aws_cdk").exists() and not (folder / "pandas").exists()


def test_a_second_build_reuses_the_folder_without_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = stack_settings(tmp_path)
    first = build_lambda_asset(settings)
    monkeypatch.setattr(lambda_asset.subprocess, "run", _no_pip)
    assert build_lambda_asset(settings) == first


def test_a_changed_handler_changes_the_hash_and_reuses_the_wheels(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "project"
    shutil.copytree(Path(lambda_asset.__file__).parents[2] / "lambdas", project / "lambdas")
    settings = stack_settings(tmp_path, project_dir=project)
    before = asset_hash(settings)
    first = build_lambda_asset(settings)
    (project / "lambdas" / "event_handler" / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    monkeypatch.setattr(lambda_asset.subprocess, "run", _no_pip)
    assert asset_hash(settings) != before
    second = build_lambda_asset(settings)
    assert second != first
    assert "return 1" in (second / "handler.py").read_text()
    assert "batchItemFailures" in (first / "handler.py").read_text()  # the earlier build is untouched


def test_out_dir_builds_into_exactly_that_folder(tmp_path: Path) -> None:
    target = tmp_path / "asset"
    assert build_lambda_asset(stack_settings(tmp_path), out_dir=target) == target
    assert (target / "handler.py").is_file()


def test_a_missing_handler_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(LambdaAssetError, match="event handler is missing"):
        build_lambda_asset(stack_settings(tmp_path, project_dir=tmp_path / "empty"))


def test_the_handler_runs_from_the_folder_alone_on_python_312(tmp_path: Path) -> None:
    python = _python312()
    if python is None:
        pytest.skip("python3.12 is not installed")
    folder = build_lambda_asset(stack_settings(tmp_path), out_dir=tmp_path / "asset")
    event = {"Records": [{"messageId": "m-1", "body": "{}"}]}
    # The context object Lambda passes (the fields powertools' Logger and Metrics read).
    context = (
        "types.SimpleNamespace(function_name='f', memory_limit_in_mb=512, aws_request_id='r', "
        "invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:f', function_version='$LATEST')"
    )
    script = (
        f"import sys, json, types; sys.path.insert(0, {str(folder)!r}); import handler, bwp_workshop.names, "
        "aws_lambda_powertools, httpx; "
        f"print(json.dumps(handler.handler({event!r}, {context})))"
    )
    # The configuration the stack sets; "{}" is not an event, so nothing is called but the
    # duplicate pre-check, which may fail (nothing listens on port 9) without failing the batch.
    env = clean_environ(
        DATA_TABLE_NAME="data",
        TOKEN_TABLE_NAME="tokens",
        CLIENT_SECRET_NAME="secret",
        BWP_TOKEN_URL="http://127.0.0.1:9/token",
        BWP_GRAPHQL_URL="http://127.0.0.1:9/graphql",
        BWP_EVENT_SOURCE="aws.partner/buywithprime/x",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    bytecode = sorted(folder.rglob("*.pyc"))
    result = subprocess.run(
        [python, "-I", "-c", script], capture_output=True, text=True, check=False, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    # The build's bytecode served every import: the run compiled (and wrote) nothing.
    assert bytecode and sorted(folder.rglob("*.pyc")) == bytecode
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
