"""Clients that act as EventStack's operator role on aws: the only principal besides the rules
that may put messages on the event queue (moving dead letters back) and events on the test
bus (the workshop's test events). The local AWS does not enforce those policies, so on local
the target's own clients are used."""

from __future__ import annotations

from typing import Any

from ..settings import Settings
from ..targets import choose_target


def operator_client(service: str, settings: Settings) -> Any:
    """A ``service`` client with the rights of EventStack's operator role
    (:meth:`~bwp_workshop.targets.Target.operator_client`)."""
    return choose_target(settings).operator_client(service)
