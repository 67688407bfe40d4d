"""The sandbox as a FastAPI app: ``create_app(settings, config)``.

Routes, at the paths of ``Settings.sandbox_endpoints``:

* ``GET  /marketplace/authorize``: the authorization endpoint (RFC 6749 4.1 with PKCE S256);
* ``POST /token``: the token endpoint (``authorization_code``, ``refresh_token``);
* ``POST /graphql``: the GraphQL API (bearer token + ``X-Omni-InstallationId``);
* ``GET  /console`` (and ``/``): the partner console as HTML pages for a person with a browser
  (``console.py``): pick a merchant, install an app, open its settings, uninstall it;
* ``GET  /_bwp/health``: ``{"service": "sandbox", "pid": ...}`` for the local runtime;
* ``/_sandbox/...``: the admin API (the partner console, the merchant's actions, the event
  simulator, faults, the ledger), used by ``SandboxClient`` and ``bwp-workshop sandbox``.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..settings import SANDBOX_AUTHORIZE_PATH, Settings, get_settings
from .config import (
    ADMIN_PREFIX,
    CONSOLE_INSTALL_PATH,
    CONSOLE_PATH,
    FAULT_ENDPOINTS,
    FaultSpec,
    SandboxSettings,
    sandbox_settings,
)
from .console import console_router, sign_in_page
from .core import CONSOLE_COOKIE, AuthorizeError, NotFound, OAuthError, Sandbox
from .event_source import EmitRequest, EventSource
from .graphql_api import error_body, execute

SERVICE_NAME = "sandbox"
HEALTH_PATH = "/_bwp/health"
_FAULT_PATHS = {SANDBOX_AUTHORIZE_PATH: "authorize", "/token": "token", "/graphql": "graphql"}


class AppRegistrationRequest(BaseModel):
    launch_url: str
    install_url: str
    settings_url: str
    uninstall_url: str


class FaultsRequest(BaseModel):
    faults: dict[str, FaultSpec] = Field(default_factory=dict)
    replace: bool = Field(False, description="clear the faults of endpoints not named")


def _page(title: str, message: str, status: int) -> HTMLResponse:
    body = (
        f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
    )
    return HTMLResponse(body, status_code=status)


def _oauth_error(error: OAuthError) -> JSONResponse:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="bwp-sandbox"'
    return JSONResponse(
        {"error": error.error, "error_description": error.description}, status_code=error.status, headers=headers
    )


def create_app(settings: Settings | None = None, config: SandboxSettings | None = None) -> FastAPI:
    """The sandbox over ``settings.sandbox_dir`` (state kept there), behaving as ``config``
    says (default: the ``BWP_SANDBOX_*`` variables)."""
    settings = settings or get_settings()
    config = config or sandbox_settings(settings.project_dir)
    sandbox = Sandbox(settings, config)
    events = EventSource(sandbox)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        yield
        sandbox.close()

    app = FastAPI(title="Buy with Prime sandbox", lifespan=lifespan, docs_url=f"{ADMIN_PREFIX}/docs",
                  openapi_url=f"{ADMIN_PREFIX}/openapi.json", redoc_url=None)  # fmt: skip
    app.state.sandbox = sandbox
    app.state.events = events

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

    # --- OAuth ------------------------------------------------------------------------------
    @app.get(SANDBOX_AUTHORIZE_PATH, response_model=None)
    async def authorize(request: Request) -> Response:
        try:
            location = sandbox.authorize(request.url.query, request.cookies.get(CONSOLE_COOKIE))
        except AuthorizeError as error:
            if error.status == 401:
                return sign_in_page(error.message, f"{str(request.base_url).rstrip('/')}{CONSOLE_PATH}")
            return _page("Invalid authorization request", error.message, error.status)
        return RedirectResponse(location, status_code=302)

    @app.post("/token", response_model=None)
    async def token(request: Request) -> Response:
        body = await request.body()
        try:
            issued = sandbox.token(body, request.headers.get("content-type", ""), request.headers.get("authorization"))
        except OAuthError as error:
            return _oauth_error(error)
        return JSONResponse(issued, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    # --- GraphQL ----------------------------------------------------------------------------
    @app.post("/graphql", response_model=None)
    async def graphql(request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        scheme, _, access_token = authorization.partition(" ")
        status = config.graphql_auth_error_status
        bearer = {"WWW-Authenticate": 'Bearer realm="bwp-sandbox", error="invalid_token"'}
        if scheme.lower() != "bearer" or not access_token.strip():
            return JSONResponse(
                error_body("AccessDeniedError", "Missing bearer token (Authorization: Bearer <access token>)"),
                status_code=status,
                headers={"WWW-Authenticate": 'Bearer realm="bwp-sandbox"'},
            )
        try:
            caller = sandbox.caller(access_token.strip())
        except PermissionError as error:
            return JSONResponse(error_body("AccessDeniedError", str(error)), status_code=status, headers=bearer)
        installation = request.headers.get("x-omni-installationid")
        if not installation:
            return JSONResponse(error_body("AccessDeniedError", "X-Omni-InstallationId header is missing"))
        if installation != caller.installation_id:
            return JSONResponse(
                error_body("AccessDeniedError", "X-Omni-InstallationId does not match the access token")
            )
        try:
            payload = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse(error_body("ValidationError", "The body must be JSON"), status_code=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return JSONResponse(
                error_body("ValidationError", 'The body must be a JSON object with a "query" string'), status_code=400
            )
        if payload.get("variables") is not None and not isinstance(payload["variables"], dict):
            return JSONResponse(error_body("ValidationError", '"variables" must be a JSON object'), status_code=400)
        if payload.get("operationName") is not None and not isinstance(payload["operationName"], str):
            return JSONResponse(error_body("ValidationError", '"operationName" must be a string'), status_code=400)
        context = {"caller": caller, "sandbox": sandbox, "events": events}
        if "mutation" in payload["query"]:  # mutations may call the local AWS: keep the loop free
            result = await run_in_threadpool(execute, payload, context)
        else:
            result = execute(payload, context)
        return JSONResponse(result)

    app.include_router(_admin_router(sandbox, events, settings))
    app.include_router(console_router(sandbox))
    return app


def _admin_router(sandbox: Sandbox, events: EventSource, settings: Settings) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["admin"])

    def not_found(error: Exception) -> HTTPException:
        return HTTPException(404, str(error))

    @router.post("/apps", status_code=201)
    async def register(request: AppRegistrationRequest) -> dict[str, str]:
        try:
            return sandbox.register_app(**request.model_dump())
        except ValueError as error:
            raise HTTPException(422, str(error)) from None

    @router.get("/apps")
    async def apps() -> list[dict[str, Any]]:
        return sandbox.apps()

    @router.get("/merchants")
    async def merchants() -> list[dict[str, Any]]:
        return sandbox.store.merchants()

    @router.get("/merchants/{merchant_id}/orders")
    async def orders(merchant_id: str) -> list[dict[str, Any]]:
        try:
            sandbox.merchant(merchant_id)
        except NotFound as error:
            raise not_found(error) from None
        rows = sandbox.store.all("SELECT data FROM orders WHERE merchant_id = ? ORDER BY updated_at", merchant_id)
        return [json.loads(row["data"]) for row in rows]

    @router.get(CONSOLE_INSTALL_PATH.removeprefix(ADMIN_PREFIX), response_model=None)
    async def console_install(app_id: str, merchant_id: str | None = None) -> Response:
        """The merchant clicks "install" in the console: sign the merchant in (cookie) and
        go to the app's launch URL."""
        try:
            session, launch_url = sandbox.start_console_install(app_id, merchant_id)
        except NotFound as error:
            return _page("Not found", str(error), 404)
        response = RedirectResponse(launch_url, status_code=302)
        response.set_cookie(CONSOLE_COOKIE, session, httponly=True, samesite="lax", path="/")
        return response

    @router.get("/installations")
    async def installations(app_id: str | None = None, merchant_id: str | None = None) -> list[dict[str, Any]]:
        return sandbox.installations(app_id, merchant_id)

    @router.get("/installations/{installation_id}")
    async def installation(installation_id: str) -> dict[str, Any]:
        try:
            return sandbox.installation(installation_id)
        except NotFound as error:
            raise not_found(error) from None

    @router.post("/installations/{installation_id}/settings")
    async def open_settings(installation_id: str) -> dict[str, Any]:
        try:
            return await run_in_threadpool(sandbox.open_settings, installation_id)
        except NotFound as error:
            raise not_found(error) from None

    @router.post("/installations/{installation_id}/uninstall")
    async def uninstall(installation_id: str) -> dict[str, Any]:
        try:
            return await run_in_threadpool(sandbox.uninstall, installation_id)
        except NotFound as error:
            raise not_found(error) from None
        except ValueError as error:
            raise HTTPException(409, str(error)) from None

    @router.post("/installations/{installation_id}/expire-access-tokens")
    async def expire(installation_id: str) -> dict[str, int]:
        try:
            return {"expired": sandbox.expire_access_tokens(installation_id)}
        except NotFound as error:
            raise not_found(error) from None

    @router.get("/subscriptions")
    async def subscriptions(installation_id: str | None = None) -> list[dict[str, Any]]:
        return events.subscriptions(installation_id)

    @router.post("/emit")
    async def emit(request: EmitRequest) -> dict[str, Any]:
        try:
            return await run_in_threadpool(events.emit, request)
        except NotFound as error:
            raise not_found(error) from None

    @router.get("/ledger")
    async def ledger(since: int = 0) -> list[dict[str, Any]]:
        return sandbox.store.ledger(since)

    @router.get("/faults")
    async def faults() -> dict[str, Any]:
        return {name: spec.model_dump() for name, spec in sandbox.faults.specs().items()}

    @router.put("/faults")
    async def set_faults(request: FaultsRequest) -> dict[str, Any]:
        unknown = set(request.faults) - set(FAULT_ENDPOINTS)
        if unknown:
            raise HTTPException(422, f"no endpoint {', '.join(sorted(unknown))}; choose from {FAULT_ENDPOINTS}")
        specs = sandbox.set_faults(request.faults, replace=request.replace)
        return {name: spec.model_dump() for name, spec in specs.items()}

    @router.get("/config")
    async def get_config() -> dict[str, Any]:
        return sandbox.config.model_dump(exclude={"faults"})

    @router.patch("/config")
    async def patch_config(changes: dict[str, Any]) -> dict[str, Any]:
        try:
            return sandbox.update_config(changes).model_dump(exclude={"faults"})
        except ValueError as error:
            raise HTTPException(422, str(error)) from None

    @router.get("/public-key", response_class=Response)
    async def public_key() -> Response:
        return Response(sandbox.key.public_pem, media_type="application/x-pem-file")

    return router
