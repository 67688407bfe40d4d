"""The sandbox's own settings (variables ``BWP_SANDBOX_*``), apart from the workshop's.

They change how the stand-in behaves (lifetimes, faults, event shapes), never where the
workshop finds it: its address comes from the workshop settings (``BWP_LOCAL_HOST``,
``BWP_LOCAL_SANDBOX_PORT``) and its state lives in ``<state>/sandbox``. Faults and event
shapes can also be changed while it runs, through ``/_sandbox/faults`` and
``/_sandbox/config``; those changes are kept in its database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..settings import dotenv_path

#: Event payload shapes the simulator can emit: the 2024-11-01 webhook-style detail, the
#: legacy partner detail (``eventType`` + ``contextKeys``) and the 2024-01-01 empty detail.
EventShape = Literal["2024-11-01", "legacy", "2024-01-01"]
#: The shapes the sandbox publishes each event in by default: one, the subscription's API
#: version (the one it serves). The others are on a switch, to test a consumer's defences.
DEFAULT_EVENT_SHAPES: tuple[EventShape, ...] = ("2024-11-01",)
EVENT_SHAPES: tuple[str, ...] = ("2024-11-01", "legacy", "2024-01-01")

#: Where the sandbox serves its admin API, its console pages for a person, the consent page
#: the console's Install button opens, and the install action its Allow button starts (signs
#: the merchant in, then goes to the app's launch URL).
ADMIN_PREFIX = "/_sandbox"
CONSOLE_PATH = "/console"
CONSOLE_CONSENT_PATH = f"{CONSOLE_PATH}/consent"
CONSOLE_INSTALL_PATH = f"{ADMIN_PREFIX}/console/install"
#: The cookie that keeps a merchant signed in to the console; the authorize endpoint reads it.
CONSOLE_COOKIE = "bwp_console_session"

#: The endpoints faults can be injected into.
FAULT_ENDPOINTS: tuple[str, ...] = ("authorize", "token", "graphql")


class FaultSpec(BaseModel):
    """Faults of one endpoint. Rates are probabilities per request; off when all are 0."""

    error_rate: float = Field(0.0, ge=0, le=1, description="share of requests answered with HTTP 500/503")
    throttle_rate: float = Field(
        0.0, ge=0, le=1, description="share throttled: GraphQL ThrottlingError (HTTP 200), else HTTP 429"
    )
    internal_error_rate: float = Field(
        0.0, ge=0, le=1, description="GraphQL only: share answered with an InternalServerError (HTTP 200)"
    )
    latency_ms: float = Field(0.0, ge=0, le=60_000, description="added to every request")
    seed: int | None = Field(None, description="seed of the fault draws (reproducible runs); none: random")

    @property
    def active(self) -> bool:
        return bool(self.error_rate or self.throttle_rate or self.internal_error_rate or self.latency_ms)


class SandboxSettings(BaseSettings):
    """How the sandbox behaves. Field ``x`` is variable ``BWP_SANDBOX_X``."""

    model_config = SettingsConfigDict(env_prefix="BWP_SANDBOX_", extra="ignore", env_file_encoding="utf-8")

    access_token_ttl: int = Field(900, ge=1, description="Access-token lifetime in seconds (BwP: 15 minutes).")
    refresh_token_ttl: int = Field(30 * 24 * 3600, ge=1, description="Refresh-token lifetime in seconds.")
    code_ttl: int = Field(60, ge=1, description="Authorization-code lifetime in seconds.")
    verification_token_ttl: int = Field(300, ge=1, description="verification-token (JWT) lifetime in seconds.")
    verification_token_in: Literal["query", "header", "both"] = Field(
        "both",
        description="How settings and uninstall calls carry the verification-token: as the last query "
        "parameter, as a `verification-token` header, or both. The install redirect always uses the query.",
    )
    event_shapes: list[EventShape] = Field(
        default_factory=lambda: list(DEFAULT_EVENT_SHAPES),
        description="Payload shapes each event is published in (one event per shape): 2024-11-01, the "
        "subscriptions' version, by default; add 2024-01-01 (thin) or legacy (the original workshop's shape) to "
        "test a consumer against them.",
    )
    event_context_keys: bool = Field(
        False,
        description="Whether 2024-11-01 events carry detail.contextKeys.installationId, as the original "
        "workshop's partner events did (no event page shows it; without it the consumer finds the tenant from "
        "the businessProduct in resources).",
    )
    merchants: int = Field(2, ge=1, le=50, description="Merchants seeded on first start.")
    faults: dict[str, FaultSpec] = Field(
        default_factory=dict,
        description="Faults per endpoint (authorize, token, graphql) as JSON, "
        'e.g. {"graphql": {"throttle_rate": 0.1}}.',
    )
    order_waits: Literal["none", "realistic"] = Field(
        "none",
        description="When the order mutations' changes happen: none (at once) or realistic (after the waits "
        "Buy with Prime's sandbox documents: 8 minutes from PENDING, 2 minutes otherwise).",
    )
    graphql_auth_error_status: int = Field(
        401, description="HTTP status of a GraphQL call with a missing, unknown, expired or revoked token."
    )


def sandbox_settings(project_dir: Path | None = None, **overrides: Any) -> SandboxSettings:
    """The sandbox settings from the environment, then ``<project_dir>/.env``, then ``overrides``
    (which win)."""
    env_file = dotenv_path(project_dir) if project_dir is not None else None
    return SandboxSettings(
        _env_file=env_file if env_file is not None and env_file.is_file() else None,
        **overrides,
    )
