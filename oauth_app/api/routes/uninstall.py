"""``POST /uninstall`` (the uninstall URL): the verification token is checked over the raw
body too, then the installation's event subscriptions (:mod:`oauth_app.tenancy`), every token
item and the business product of the installation are deleted; repeating it is harmless."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from bwp_workshop.core.business_products import BusinessProductMapError
from bwp_workshop.core.token_table import TokenTableError

from ... import log, tenancy
from ...errors import table_unavailable
from ..deps import ServicesDep, VerifiedWithBodyDep

router = APIRouter()


@router.post(
    "/uninstall",
    summary="Uninstall URL",
    openapi_extra={
        "requestBody": {
            "required": False,
            "description": "As Buy with Prime sends it; its raw bytes are part of the request hash.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def uninstall(checked: VerifiedWithBodyDep, services: ServicesDep) -> dict[str, Any]:
    unsubscribed = await run_in_threadpool(tenancy.unsubscribe, services, checked.installation_id)
    try:
        deleted = await run_in_threadpool(services.tokens.delete_installation, checked.installation_id)
        if services.business_products is not None:
            await run_in_threadpool(services.business_products.remove_installation, checked.installation_id)
    except (TokenTableError, BusinessProductMapError) as exc:
        raise table_unavailable(str(exc)) from None
    log.info("uninstalled %s (%d token items deleted)", checked.installation_id, deleted)
    return {
        "installation_id": checked.installation_id,
        "uninstalled": True,
        "deleted_items": deleted,
        "deleted_subscriptions": unsubscribed,
    }
