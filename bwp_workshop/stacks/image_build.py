"""The sources of the OAuth app's image, staged for the CodeBuild project that builds it in the
account when no Docker engine runs here (InfraStack uploads the folder as an S3 asset).

:func:`image_build_files` is the one place that says which files the build gets; today it is
what the image's build context admits (:func:`~bwp_workshop.stacks.image_tag.image_sources`:
the Dockerfile and the ``!`` lines of ``.dockerignore``), so the uploaded source, the image and
its tag are made from the same files. Nothing here imports the CDK.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..settings import Settings
from .image_tag import image_sources, source_tag

_STAMP = ".bwp-image-source"
#: How many staged source folders to keep in the build cache.
KEEP_SOURCES = 3


def image_build_files(project_dir: Path) -> list[Path]:
    """The files (relative to ``project_dir``) the CodeBuild project builds the image from."""
    return image_sources(project_dir)


def stage_image_source(settings: Settings) -> tuple[Path, str]:
    """A folder holding exactly :func:`image_build_files` (cached by their source tag under the
    build dir) and that tag."""
    project = settings.project_dir
    tag = source_tag(project)
    root = settings.build_cache_dir / "image-source"
    target = root / tag
    stamp = root / f"{tag}{_STAMP}"  # beside the folder: the asset holds the sources alone
    if stamp.is_file() and target.is_dir():
        return target, tag
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{tag}-", dir=root))
    for relative in image_build_files(project):
        destination = staging / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / relative, destination)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    stamp.write_text(tag)
    stale = sorted((p for p in root.iterdir() if p.is_dir() and p != target), key=lambda p: p.stat().st_mtime)
    for old in stale[: max(0, len(stale) - (KEEP_SOURCES - 1))]:
        shutil.rmtree(old, ignore_errors=True)
        (root / f"{old.name}{_STAMP}").unlink(missing_ok=True)
    return target, tag
