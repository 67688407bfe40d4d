"""The workshop's patches to moto: what makes it a faithful local AWS for ``cdk deploy`` and
for the event pipeline at scale.

Applied by :mod:`bwp_workshop.local.moto_server` before the server starts. Each module here
holds one concern: its docstring says why moto needs it, and its ``PATCHES`` table lists each
change with a one-line description. Each patch reaches into moto internals, so moto is pinned
exactly (``MOTO_VERSION``) and :func:`apply` checks every patch against the installed moto
before it changes anything: a moto upgrade that moves an attribute fails here, loudly, instead
of as a hung deploy. ``tests/local/test_moto_patches.py`` checks each patch's behaviour
through a real server.

To add a patch: put it in the module of its concern (or a new module listed in ``TABLES``),
as a :class:`Patch` with its description, and a test that fails without it.
"""

from __future__ import annotations

import moto

from ...errors import MotoPatchError
from . import (
    alarms,
    cloudformation_resources,
    cloudformation_stacks,
    codebuild,
    dynamodb,
    eventbridge,
    lambda_event_sources,
    network_deletes,
    sqs_locks,
)
from .patch import MOTO_VERSION, Patch

__all__ = ["MOTO_VERSION", "TABLES", "Patch", "apply"]

#: Every module's table, in the order they are applied.
TABLES: tuple[tuple[Patch, ...], ...] = (
    cloudformation_stacks.PATCHES,
    cloudformation_resources.PATCHES,
    alarms.PATCHES,
    codebuild.PATCHES,
    network_deletes.PATCHES,
    dynamodb.PATCHES,
    lambda_event_sources.PATCHES,
    eventbridge.PATCHES,
    sqs_locks.PATCHES,
)

_applied: list[str] = []


def apply() -> list[str]:
    """Apply every patch once (later calls return the same list). Checks them all against the
    installed moto before changing anything. Returns the patches' descriptions."""
    if _applied:
        return list(_applied)
    if moto.__version__ != MOTO_VERSION:
        raise MotoPatchError(
            f"The local AWS needs moto {MOTO_VERSION}; moto {moto.__version__} is installed.",
            hint=f"Run `make setup` (or pip install 'moto[server]=={MOTO_VERSION}') in the workshop environment.",
        )
    patches = [patch for table in TABLES for patch in table]
    for patch in patches:
        patch.verify()
    for patch in patches:
        patch.apply()
    _applied.extend(patch.description for patch in patches)
    return list(_applied)
