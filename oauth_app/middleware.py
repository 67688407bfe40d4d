"""Security headers on every response (and the HTML ones' content policy), and one access-log
line per request with the path only: query strings carry codes and verification tokens, so
uvicorn's access log is off and this one never prints them; control characters in the path are
escaped, so a request cannot forge a log line. Both are plain ASGI, so they add no
task or body buffering to a request."""

from __future__ import annotations

import time
from typing import Any

from starlette.datastructures import MutableHeaders

from . import log, printable

CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
QUIET_PATHS = frozenset({"/health", "/_bwp/health"})


class SecurityHeaders:
    """Security headers on every response, and the content policy on the HTML ones."""

    def __init__(self, app: Any, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")  # /install URLs carry a code
                headers.setdefault("Cache-Control", "no-store")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLog:
    """One line per request (health checks aside): method, path without its query, status and
    time taken."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            log.info(
                "%s %s %d %.1f ms",
                printable(scope["method"]),
                printable(scope["path"]),  # decoded: %0A is a newline here
                status,
                (time.perf_counter() - started) * 1000,
            )
