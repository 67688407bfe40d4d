"""``GET /settings`` (the settings URL): the verified installation's token facts (never a
token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from bwp_workshop.core.token_table import TokenTableError

from ... import pages
from ...errors import Refusal, table_unavailable
from ..deps import ServicesDep, VerifiedDep

router = APIRouter()


@router.get("/settings", response_class=HTMLResponse, summary="Settings URL")
def settings(checked: VerifiedDep, services: ServicesDep) -> HTMLResponse:
    try:
        current = services.tokens.latest(checked.installation_id)
    except TokenTableError as exc:
        raise table_unavailable(str(exc)) from None
    if current is None:
        raise Refusal(
            404, "not_installed", f"installation {checked.installation_id} has no token here: install the app first"
        )
    return HTMLResponse(
        pages.settings(current.installation_id, current.installed_at, current.updated_at, current.expires_at)
    )
