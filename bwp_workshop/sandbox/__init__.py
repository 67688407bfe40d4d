"""The Buy with Prime sandbox: a local stand-in for BwP's partner console, OAuth server,
GraphQL API and event source (see ``server.py`` for the endpoints and the module of each,
``client.py`` for the admin client)."""

from __future__ import annotations

from .config import FaultSpec, SandboxSettings, sandbox_settings

__all__ = ["FaultSpec", "SandboxSettings", "create_app", "sandbox_settings"]


def create_app(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    """See ``bwp_workshop.sandbox.server.create_app`` (imported lazily: FastAPI and ariadne load
    only when a sandbox is made)."""
    from .server import create_app as factory

    return factory(*args, **kwargs)  # type: ignore[arg-type]
