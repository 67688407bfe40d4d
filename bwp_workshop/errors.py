"""Errors a workshop user can meet, each with what failed and what to do about it.

A ``WorkshopError`` prints as one short message in the CLI and as the same message (no
traceback) in a notebook cell, because IPython calls ``_render_traceback_`` when an
exception defines it.
"""

from __future__ import annotations


class CallFailed(Exception):
    """A call to Buy with Prime or to a table failed. ``transient``: a later retry may succeed
    (a throttle, a timeout, a 5xx); otherwise no retry will (a refusal, a missing item)."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class WorkshopError(Exception):
    """Base class: ``message`` says what failed, ``hint`` says what to do next."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  What to do: {self.hint}" if self.hint else self.message

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class ConfigurationError(WorkshopError):
    """The settings (environment or .env) are missing, invalid or placeholders."""


class CredentialsError(WorkshopError):
    """No usable AWS credentials for the selected target."""


class LocalRuntimeError(WorkshopError):
    """The local runtime (moto server and friends) could not be started or reached."""


class PortInUseError(LocalRuntimeError):
    """A port the local runtime needs is taken by a process it did not start."""


class MotoPatchError(WorkshopError):
    """A fix for a moto gap no longer fits the installed moto."""


class SetupError(WorkshopError):
    """A resource the stacks depend on (made through the AWS APIs) could not be created or found."""


class DeployError(WorkshopError):
    """A stack could not be synthesized, deployed, compared or destroyed."""

    def __init__(self, message: str, *, hint: str = "", stack: str = "", resource: str = "") -> None:
        super().__init__(message, hint=hint)
        self.stack = stack
        self.resource = resource
