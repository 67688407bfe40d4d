"""An IPython extension the headless runner loads into each kernel it starts ahead of its
notebook: importing this module imports what every notebook's first cells import (pandas for
tables, boto3, the local runtime, the deploy commands), so those imports happen while the
previous notebook runs instead of in the notebook's first cell. The notebook's namespace is
untouched; a kernel started in JupyterLab does not load it."""

from __future__ import annotations

import contextlib
from typing import Any

import boto3  # noqa: F401
import httpx  # noqa: F401
import pandas  # noqa: F401

from .. import aws  # noqa: F401
from ..deploy import commands  # noqa: F401
from ..local import runtime  # noqa: F401
from ..settings import get_settings
from ..targets import choose_target
from . import cells  # noqa: F401

#: The clients every notebook's first cell uses on local (checking the local AWS's state):
#: made here, their service descriptions are read while the kernel waits too.
FIRST_CLIENTS = ("ssm", "cloudformation")


def load_ipython_extension(ipython: Any) -> None:
    """Nothing to register in the kernel: make the first clients (a notebook whose settings
    are wrong says so itself, in its first cell)."""
    with contextlib.suppress(Exception):
        choose_target(get_settings()).warm_clients(FIRST_CLIENTS)
