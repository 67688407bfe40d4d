"""Every route of the app on one router."""

from __future__ import annotations

from fastapi import APIRouter

from .routes import health, landing, oauth, settings_page, uninstall, webhooks

api_router = APIRouter()
for routes in (landing, health, oauth, settings_page, uninstall, webhooks):
    api_router.include_router(routes.router)
