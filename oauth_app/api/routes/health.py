"""``GET /health`` (the load balancer and the container's health check) and
``GET /_bwp/health`` (the local runtime's supervisor: which service, which process)."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter

#: The service name the local runtime's supervisor expects.
SERVICE_NAME = "oauth-app"

router = APIRouter()


@router.get("/health", summary="Health for the load balancer and the container")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/_bwp/health", include_in_schema=False)
def supervisor_health() -> dict[str, Any]:
    return {"service": SERVICE_NAME, "pid": os.getpid()}
