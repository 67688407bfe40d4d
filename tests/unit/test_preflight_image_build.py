"""Preflight says which path builds the app's image: Docker here, or the CodeBuild project."""

from __future__ import annotations

import pytest

from bwp_workshop import names
from bwp_workshop.settings import Settings
from bwp_workshop.steps import image, preflight
from bwp_workshop.testing.checkout import CHECKOUT


@pytest.mark.parametrize(
    ("target", "docker", "expected"),
    [
        ("aws", True, "Docker on this machine, pushed to ECR"),
        ("aws", False, f"CodeBuild project {names.IMAGE_BUILD_PROJECT} in the account (InfraStack), pushed to ECR"),
        ("local", True, "Docker on this machine"),
        ("local", False, f"CodeBuild project {names.IMAGE_BUILD_PROJECT} on the local AWS (recorded only"),
    ],
)
def test_the_image_build_row_names_the_path(target: str, docker: bool, expected: str) -> None:
    engine = preflight.Check("Docker engine", docker, "", blocking=False)
    check = preflight.check_image_build(Settings(project_dir=CHECKOUT, target=target), engine)  # type: ignore[arg-type]
    assert check.ok and not check.blocking
    assert check.detail.startswith(expected), check.detail


def test_the_path_follows_the_docker_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image, "docker_engine_available", lambda: False)
    assert image.image_build_path() == image.BUILD_WITH_CODEBUILD
    monkeypatch.setattr(image, "docker_engine_available", lambda: True)
    assert image.image_build_path() == image.BUILD_WITH_DOCKER
    assert image.image_build_path(False) == image.BUILD_WITH_CODEBUILD
