"""The sandbox as one FastAPI app: ``create_app(settings, config)`` wires its parts over one
``Sandbox`` and serves them, at the paths of ``Settings.sandbox_endpoints``:

* ``GET  /marketplace/authorize`` and ``POST /token``: the OAuth authorization server
  (``oauth_server.py``);
* ``POST /graphql``: the GraphQL API (``graphql_api.py``);
* ``GET  /console`` (and ``/``): the partner console as HTML pages for a person with a browser
  (``console.py``): pick a merchant, install an app, open its settings, uninstall it;
* ``/_sandbox/...``: the admin API (``admin_api.py``), used by ``SandboxClient`` and
  ``bwp-workshop sandbox``;
* ``GET  /_bwp/health``: ``{"service": "sandbox", "pid": ...}`` for the local runtime.

Faults (``/_sandbox/faults``) are injected here, in front of the authorize, token and GraphQL
endpoints.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..settings import SANDBOX_AUTHORIZE_PATH, Settings
from .admin_api import admin_router
from .api_errors import error_body
from .config import ADMIN_PREFIX, SandboxSettings, sandbox_settings
from .console import PartnerConsole, console_router
from .event_source import EventSource
from .graphql_api import GRAPHQL_PATH, graphql_router
from .oauth_server import TOKEN_PATH, OAuthServer, oauth_router
from .orders import Orders
from .shared import Sandbox

SERVICE_NAME = "sandbox"
HEALTH_PATH = "/_bwp/health"
_FAULT_PATHS = {SANDBOX_AUTHORIZE_PATH: "authorize", TOKEN_PATH: "token", GRAPHQL_PATH: "graphql"}


def create_app(settings: Settings, config: SandboxSettings | None = None) -> FastAPI:
    """The sandbox over ``settings.sandbox_dir`` (state kept there), behaving as ``config``
    says (default: the ``BWP_SANDBOX_*`` variables)."""
    config = config or sandbox_settings(settings.project_dir)
    sandbox = Sandbox(settings, config)
    console = PartnerConsole(sandbox)
    oauth = OAuthServer(sandbox)
    events = EventSource(sandbox)
    orders = Orders(sandbox, events)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        yield
        events.close()
        sandbox.close()

    app = FastAPI(title="Buy with Prime sandbox", lifespan=lifespan, docs_url=f"{ADMIN_PREFIX}/docs",
                  openapi_url=f"{ADMIN_PREFIX}/openapi.json", redoc_url=None)  # fmt: skip
    app.state.sandbox = sandbox
    app.state.events = events
    app.state.orders = orders

    @app.middleware("http")
    async def inject_faults(request: Request, call_next: Any) -> Response:
        endpoint = _FAULT_PATHS.get(request.url.path)
        if endpoint is None:
            return await call_next(request)
        decision = sandbox.faults.decide(endpoint)
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.fault == "error":
            return JSONResponse({"message": "Service unavailable (injected fault)"}, status_code=503)
        if decision.fault == "throttle":
            if endpoint == "graphql":
                return JSONResponse(error_body("ThrottlingError", "Rate exceeded: too many requests"))
            return JSONResponse(
                {"error": "slow_down", "error_description": "too many requests (injected fault)"},
                status_code=429,
                headers={"Retry-After": "1"},
            )
        if decision.fault == "internal":
            return JSONResponse(error_body("InternalServerError", "Internal server error"))
        return await call_next(request)

    @app.get(HEALTH_PATH, include_in_schema=False)
    async def health() -> dict[str, Any]:
        return {"service": SERVICE_NAME, "pid": os.getpid(), "state": str(settings.sandbox_dir)}

    app.include_router(oauth_router(oauth))
    app.include_router(graphql_router(sandbox, oauth, events, orders))
    app.include_router(admin_router(sandbox, console, oauth, events))
    app.include_router(console_router(console))
    return app
