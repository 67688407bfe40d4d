"""``GET /``: what the app is, for a person who opens its address."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ... import pages

router = APIRouter()


@router.get("/", response_class=HTMLResponse, summary="Landing page")
def landing() -> HTMLResponse:
    return HTMLResponse(pages.landing())
