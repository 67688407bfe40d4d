"""Writing values into the project's ``.env`` (python-dotenv), as the onboarding and install
steps do: other lines, comments and order are kept; the file is readable by its owner only,
since it holds the client secret."""

from __future__ import annotations

import re
from pathlib import Path

from dotenv import set_key, unset_key

from .settings import Settings, dotenv_path

_PLAIN = re.compile(r"[\w.:/+=@,-]*")


def env_file(settings: Settings) -> Path:
    return dotenv_path(settings.project_dir)


def set_env_values(values: dict[str, str], settings: Settings, path: Path | None = None) -> Path:
    """Set each ``NAME=value`` in ``.env`` (replacing an earlier value); returns the file."""
    path = path or env_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    for name, value in values.items():
        # Plain values stay unquoted (readable, and what a person would type); others are quoted.
        set_key(path, name, value, quote_mode="never" if _PLAIN.fullmatch(value) else "always")
    return path


def unset_env_values(names: list[str], settings: Settings, path: Path | None = None) -> None:
    path = path or env_file(settings)
    if path.is_file():
        for name in names:
            with open(path) as handle:
                present = any(line.split("=", 1)[0].strip() == name for line in handle)
            if present:
                unset_key(path, name)
