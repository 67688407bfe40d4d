"""The aws dry run: synthesizes for aws, checks the templates and prints what would be
deployed and called, with every AWS request forbidden."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bwp_workshop import names
from bwp_workshop import notebook_catalog as catalog
from bwp_workshop.cli import main
from bwp_workshop.errors import ConfigurationError
from bwp_workshop.notebook.dry_run import dry_run
from bwp_workshop.settings import Settings
from bwp_workshop.testing.checkout import CHECKOUT

from .conftest import BUILD_DIR


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any AWS client or request fails the test."""
    import botocore.endpoint

    from bwp_workshop import aws

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the dry run called AWS")

    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", refuse)
    for name in ("client", "resource", "session", "account_id"):
        monkeypatch.setattr(aws, name, refuse)


def test_the_dry_run_synthesizes_checks_and_plans_without_calling_aws(
    no_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BWP_PROJECT_DIR", str(CHECKOUT))
    monkeypatch.setenv("BWP_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("BWP_STATE_DIR", str(tmp_path / ".bwp"))
    monkeypatch.setenv("BWP_BUILD_DIR", str(BUILD_DIR))
    result = CliRunner().invoke(main, ["run", "--target", "aws", "--dry-run"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "no AWS call is made" in output and output.rstrip().endswith("Dry run passed.")
    assert "EVENT_BUS_ARN not set yet" in output
    for stack in names.STACKS:
        assert re.search(rf"^  {stack}: \d+ resources", output, re.M), stack
        assert (tmp_path / ".bwp" / "dry-run" / "cdk.out" / f"{stack}.template.json").is_file()
    assert re.search(r"checkov on aws: \d+ findings, 0 not accepted", output), output
    assert "role HandlerRole" in output and "role TaskRole" in output
    # The image's path: Docker here, or the CodeBuild project (planned with the tag it would push).
    from bwp_workshop.stacks.image_tag import source_tag
    from bwp_workshop.steps.image import docker_engine_available

    assert re.search(r"^  image build +ok +", output, re.M), output
    if docker_engine_available():
        assert "docker build --platform linux/amd64" in output
    else:
        assert f"codebuild:StartBuild with IMAGE_TAG={source_tag(CHECKOUT)}" in output
        assert f"CodeBuild project {names.IMAGE_BUILD_PROJECT} in the account" in output
    assert "role ImageBuildRole" in output
    for notebook in catalog.notebooks(CHECKOUT):
        assert f"  {notebook.name}: {', '.join(notebook.calls)}" in output, notebook.name
    # The aws templates: zones from the region, the bootstrap version rule present.
    infra = json.loads((tmp_path / ".bwp" / "dry-run" / "cdk.out" / "InfraStack.template.json").read_text())
    assert "CheckBootstrapVersion" in infra.get("Rules", {})


def test_the_dry_run_is_for_the_aws_target() -> None:
    with pytest.raises(ConfigurationError, match="aws target"):
        dry_run(Settings(project_dir=CHECKOUT, target="local"))
