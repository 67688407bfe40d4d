"""The OAuth app image's tag, derived from what the image is built from.

The ECR repository's tags are immutable: a tag names one image for good, so a rollback or a
second task always runs the image that was tested under that tag. The tag is therefore a hash
of the build's inputs (``src-<hash>``): the same sources give the same tag (a rebuild is
skipped, the image is already in the repository), a changed app gives a new tag and so a new
task definition, which ECS rolls out by itself. ``BWP_IMAGE_TAG`` overrides it.

The inputs are the Dockerfile and the files its build context admits: the ``!`` lines of the
project's ``.dockerignore`` (the one list of what the image copies; a test holds it equal to
the Dockerfile's COPY sources). Nothing here imports the CDK.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import WorkshopError
from ..settings import Settings

DOCKERFILE = Path("oauth_app") / "Dockerfile"
DOCKERIGNORE = Path(".dockerignore")
TAG_PREFIX = "src-"
_SKIP = {"__pycache__", ".pytest_cache", ".DS_Store"}


def image_sources(project_dir: Path) -> list[Path]:
    """The files the image is built from (relative to ``project_dir``), sorted."""
    ignore = project_dir / DOCKERIGNORE
    if not ignore.is_file() or not (project_dir / DOCKERFILE).is_file():
        raise WorkshopError(
            f"{project_dir / DOCKERFILE} or {ignore} is missing.",
            hint="Run from the workshop checkout (or set BWP_PROJECT_DIR to it).",
        )
    allowed = [line[1:].strip() for line in ignore.read_text().splitlines() if line.startswith("!")]
    files = {DOCKERFILE}
    for entry in allowed:
        path = project_dir / entry
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        for candidate in candidates:
            relative = candidate.relative_to(project_dir)
            if candidate.is_file() and not _SKIP & set(relative.parts) and candidate.suffix not in {".pyc", ".pyo"}:
                files.add(relative)
    return sorted(files)


def source_tag(project_dir: Path) -> str:
    """``src-`` and 16 hex digits of the hash of every image source (path and bytes)."""
    sha = hashlib.sha256()
    for relative in image_sources(project_dir):
        data = (project_dir / relative).read_bytes()
        for part in (relative.as_posix().encode(), data):
            sha.update(len(part).to_bytes(8, "big"))
            sha.update(part)
    return TAG_PREFIX + sha.hexdigest()[:16]


def image_tag(settings: Settings) -> str:
    """The tag the task definition runs and the image step pushes: ``BWP_IMAGE_TAG`` when set,
    else the hash of the image's sources."""
    return settings.image_tag or source_tag(settings.project_dir)
