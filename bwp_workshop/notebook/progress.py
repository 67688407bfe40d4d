"""Progress bars for long steps (deploys, waiting for events)."""

from __future__ import annotations

import sys
from typing import Any


def bar(total: int, desc: str, unit: str = "it") -> Any:
    """A tqdm bar written to stdout as text: it updates in place in JupyterLab and a terminal,
    and an executed notebook keeps its final state (100 % when the work is done), unlike a
    widget, which a saved notebook shows as it was first drawn. Close it when done."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stdout, mininterval=0.5, ncols=90, leave=True)
