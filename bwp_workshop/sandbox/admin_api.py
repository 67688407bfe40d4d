"""The sandbox's admin API under ``/_sandbox``, used by ``SandboxClient`` and ``bwp-workshop
sandbox``: approve an app (the partner console), the merchant's actions, the event simulator,
faults, run-time settings, the ledger, the verification key. Its docs are at
``/_sandbox/docs``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .config import ADMIN_PREFIX, FAULT_ENDPOINTS, FaultSpec
from .console import PartnerConsole
from .event_source import EmitRequest, EventSource
from .oauth_server import OAuthServer
from .shared import NotFound, Sandbox


class AppRegistrationRequest(BaseModel):
    launch_url: str
    install_url: str
    settings_url: str
    uninstall_url: str
    name: str = Field("", max_length=200, description="the app's name, shown to a merchant on the consent page")


class FaultsRequest(BaseModel):
    faults: dict[str, FaultSpec] = Field(default_factory=dict)
    replace: bool = Field(False, description="clear the faults of endpoints not named")


class ForgetRequest(BaseModel):
    reason: str = Field(
        min_length=1, max_length=300, description="why the apps lost their installations, shown in the console"
    )


def admin_router(sandbox: Sandbox, console: PartnerConsole, oauth: OAuthServer, events: EventSource) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["admin"])

    def not_found(error: Exception) -> HTTPException:
        return HTTPException(404, str(error))

    @router.post("/apps", status_code=201)
    async def register(request: AppRegistrationRequest) -> dict[str, str]:
        try:
            return console.register_app(**request.model_dump())
        except ValueError as error:
            raise HTTPException(422, str(error)) from None

    @router.get("/apps")
    async def apps() -> list[dict[str, Any]]:
        return sandbox.apps()

    @router.get("/merchants")
    async def merchants() -> list[dict[str, Any]]:
        return sandbox.db.merchants()

    @router.get("/merchants/{merchant_id}/orders")
    async def orders(merchant_id: str) -> list[dict[str, Any]]:
        try:
            sandbox.merchant(merchant_id)
        except NotFound as error:
            raise not_found(error) from None
        return sandbox.db.orders(merchant_id)

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
            return await run_in_threadpool(console.open_settings, installation_id)
        except NotFound as error:
            raise not_found(error) from None

    @router.post("/installations/{installation_id}/uninstall")
    async def uninstall(installation_id: str) -> dict[str, Any]:
        try:
            return await run_in_threadpool(console.uninstall, installation_id)
        except NotFound as error:
            raise not_found(error) from None
        except ValueError as error:
            raise HTTPException(409, str(error)) from None

    @router.post("/installations/forget")
    async def forget(request: ForgetRequest) -> dict[str, list[str]]:
        return {"uninstalled": await run_in_threadpool(sandbox.forget_installations, request.reason)}

    @router.post("/installations/{installation_id}/expire-access-tokens")
    async def expire(installation_id: str) -> dict[str, int]:
        try:
            return {"expired": oauth.expire_access_tokens(installation_id)}
        except NotFound as error:
            raise not_found(error) from None

    @router.get("/subscriptions")
    async def subscriptions(installation_id: str | None = None) -> list[dict[str, Any]]:
        return events.subscriptions.all(installation_id)

    @router.post("/emit")
    async def emit(request: EmitRequest) -> dict[str, Any]:
        try:
            return await run_in_threadpool(events.emit, request)
        except NotFound as error:
            raise not_found(error) from None

    @router.get("/ledger")
    async def ledger(since: int = 0) -> list[dict[str, Any]]:
        return sandbox.db.ledger(since)

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
