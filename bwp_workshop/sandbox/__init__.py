"""The Buy with Prime sandbox: a local stand-in for BwP's partner console, OAuth server,
GraphQL API and event source (see ``app.py`` for the endpoints, ``client.py`` for the admin
client)."""

from __future__ import annotations

from .config import FaultSpec, SandboxSettings, sandbox_settings

__all__ = ["FaultSpec", "SandboxSettings", "create_app", "sandbox_settings"]


def create_app(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    """See ``bwp_workshop.sandbox.app.create_app`` (imported lazily: FastAPI and ariadne load
    only when a sandbox is made)."""
    from .app import create_app as factory

    return factory(*args, **kwargs)  # type: ignore[arg-type]
