"""Where the workshop checkout and its ``.env`` are."""

from __future__ import annotations

import os
from pathlib import Path


def find_project_dir(start: Path | None = None) -> Path:
    """The workshop checkout: ``BWP_PROJECT_DIR``, else the nearest folder up from ``start``
    (default: the working directory) that holds ``cdk.json`` and ``pyproject.toml``, else the
    folder this package was installed from in editable mode, else the working directory."""
    explicit = os.environ.get("BWP_PROJECT_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "cdk.json").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "cdk.json").is_file():
        return package_parent
    return here


def dotenv_path(project_dir: Path) -> Path:
    """The ``.env`` file: ``BWP_ENV_FILE`` when set (tests and parallel runs keep their own),
    else ``<project>/.env``."""
    explicit = os.environ.get("BWP_ENV_FILE")
    return Path(explicit).expanduser().resolve() if explicit else project_dir / ".env"
