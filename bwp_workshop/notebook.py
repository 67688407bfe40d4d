"""Small conveniences for the workshop notebooks: the parameters cell's target applied to the
kernel, and results shown as tables."""

from __future__ import annotations

import os
from typing import Any

from .settings import Settings, get_settings


def start(target: str | None = None) -> Settings:
    """Apply the notebook's ``target`` parameter to this kernel (helpers called later see it)
    and return the settings in force."""
    if target:
        os.environ["BWP_TARGET"] = target
    settings = get_settings()
    print(f"target: {settings.target}   region: {settings.region}   state: {settings.bwp_dir}")
    return settings


def table(data: Any, columns: list[str] | None = None) -> Any:
    """A pandas DataFrame of a dict (two columns) or a list of dicts/dataclass rows."""
    import pandas as pd

    if isinstance(data, dict):
        frame = pd.DataFrame({"": list(data.keys()), "value": [str(v) for v in data.values()]})
        return frame.set_index("")
    rows = [row.as_row() if hasattr(row, "as_row") else row for row in data]
    frame = pd.DataFrame(rows)
    return frame[columns] if columns else frame
