"""What each notebook recorded in its closing cell: facts the tests check after a headless run
(events that landed, tokens stored, what clean-up left). Kept in ``.bwp/records/<NN>.json``."""

from __future__ import annotations

import json
import time
from typing import Any

from ..settings import Settings


def record(notebook: str, settings: Settings, **facts: Any) -> None:
    """Write the notebook's facts (JSON values) for the headless checks. Returns nothing, so
    the closing cell shows nothing: the facts are in ``.bwp/records/<notebook>.json``."""
    folder = settings.bwp_dir / "records"
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"notebook": notebook, "target": settings.target, "recorded_at": time.time(), **facts}
    (folder / f"{notebook}.json").write_text(json.dumps(entry, indent=2, default=str))


def read_records(settings: Settings) -> dict[str, dict[str, Any]]:
    folder = settings.bwp_dir / "records"
    if not folder.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def clear_records(settings: Settings) -> None:
    folder = settings.bwp_dir / "records"
    if folder.is_dir():
        for path in folder.glob("*.json"):
            path.unlink()
