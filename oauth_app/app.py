"""The FastAPI application: ``create_app(config)``.

Endpoints (the URLs registered with Buy with Prime are the first four), one module each in
:mod:`oauth_app.api.routes`:

* ``GET /launch`` and ``GET /install`` (the OAuth redirect URI): :mod:`~.api.routes.oauth`;
* ``GET /settings``: :mod:`~.api.routes.settings_page`;
* ``POST /uninstall``: :mod:`~.api.routes.uninstall`;
* ``POST /webhooks/events`` (the event subscriptions' webhook) and ``POST /webhooks/token``
  (its auth profile's token endpoint): :mod:`~.api.routes.webhooks`;
* ``GET /health``, ``GET /_bwp/health``: :mod:`~.api.routes.health`; ``GET /``:
  :mod:`~.api.routes.landing`.

The verification token of the settings, install and uninstall URLs is checked by one
dependency (:mod:`oauth_app.api.deps`). Every refusal is a 4xx (502 when the token endpoint
fails, 503 when the token table or the app's own configuration does) with
``{"error": code, "reason": text}`` (or an HTML page for browsers), answered in one place
(:mod:`oauth_app.errors`). Logs carry the method, path, status and refusal reason: never a
query string, a token, a code, a verifier or a secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from .api.router import api_router
from .config import AppConfig
from .errors import add_error_handlers
from .middleware import AccessLog, SecurityHeaders
from .services import build_services


def create_app(
    config: AppConfig,
    *,
    table: Any = None,
    http: httpx.Client | None = None,
    business_product_table: Any = None,
    ssm: Any = None,
    events: Any = None,
) -> FastAPI:
    """The app for ``config``. ``table`` (the token table), ``business_product_table`` (boto3
    DynamoDB Tables), ``ssm`` (a boto3 SSM client), ``http`` (the client for the token endpoint
    and the GraphQL API) and ``events`` (the webhook's EventBridge client) default to real ones;
    tests pass their own."""
    services = build_services(
        config, table=table, http=http, business_product_table=business_product_table, ssm=ssm, events=events
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if services.own_http is not None:
            services.own_http.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Buy with Prime OAuth handler",
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        description="Launch, install, settings and uninstall URLs of the app.",
    )
    app.state.services = services
    add_error_handlers(app)
    app.add_middleware(SecurityHeaders, hsts=services.secure_cookie)
    app.add_middleware(AccessLog)
    app.include_router(api_router)
    return app
