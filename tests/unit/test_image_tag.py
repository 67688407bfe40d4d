"""The image tag: derived from the image's sources (the repository's tags are immutable)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bwp_workshop.errors import WorkshopError
from bwp_workshop.settings import Settings
from bwp_workshop.stacks.image_tag import image_sources, image_tag, source_tag
from bwp_workshop.testing.checkout import CHECKOUT


def _copy_project(into: Path) -> Path:
    shutil.copy2(CHECKOUT / ".dockerignore", into / ".dockerignore")
    shutil.copytree(CHECKOUT / "oauth_app", into / "oauth_app", ignore=shutil.ignore_patterns("__pycache__"))
    package = into / "bwp_workshop"
    package.mkdir()
    for name in ("__init__.py", "errors.py", "names.py", "settings.py"):
        shutil.copy2(CHECKOUT / "bwp_workshop" / name, package / name)
    shutil.copytree(CHECKOUT / "bwp_workshop" / "core", package / "core", ignore=shutil.ignore_patterns("__pycache__"))
    return into


def test_the_sources_are_the_dockerfile_and_what_the_build_context_admits() -> None:
    sources = {path.as_posix() for path in image_sources(CHECKOUT)}
    assert "oauth_app/Dockerfile" in sources and "oauth_app/app.py" in sources
    assert "bwp_workshop/core/tokens.py" in sources and "bwp_workshop/names.py" in sources
    assert "bwp_workshop/settings.py" not in sources  # not in the image
    assert not [s for s in sources if "__pycache__" in s or s.endswith(".pyc")]


def test_the_tag_changes_with_the_app_and_only_with_it(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    tag = source_tag(project)
    assert tag == source_tag(CHECKOUT) and tag.startswith("src-") and len(tag) == 20
    (project / "bwp_workshop" / "settings.py").write_text("# not in the image\n")
    (project / "oauth_app" / "__pycache__").mkdir()
    (project / "oauth_app" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    assert source_tag(project) == tag
    with (project / "oauth_app" / "app.py").open("a") as app:
        app.write("\n# changed\n")
    assert source_tag(project) != tag


def test_bwp_image_tag_overrides_and_is_checked(tmp_path: Path) -> None:
    assert image_tag(Settings(project_dir=CHECKOUT, image_tag="v1.2.3")) == "v1.2.3"
    assert image_tag(Settings(project_dir=CHECKOUT)) == source_tag(CHECKOUT)
    with pytest.raises(ValueError):
        Settings(project_dir=CHECKOUT, image_tag="no spaces allowed")
    with pytest.raises(WorkshopError, match="missing"):
        source_tag(tmp_path)
