"""The sandbox's partner console: what a merchant does there (:class:`PartnerConsole`) and the
routes of its pages (:func:`console_router`; the pages themselves are :mod:`.console_pages`).

:class:`PartnerConsole` holds the actions: approve an app's onboarding request (a client id
and secret), sign a merchant in and start an install, open an installation's settings and
uninstall it (the signed calls Buy with Prime makes to the app). The routes:

* ``GET /`` redirects to ``GET /console``;
* ``GET /console?merchant_id=...``: the registered apps and the seeded merchants; pick a
  merchant ("sign in" as it) and click Install, which opens the consent page
  (``GET /console/consent``: the app's name and what it may read). Allow goes to
  ``/_sandbox/console/install``: the merchant is signed in (a console cookie) and the browser
  follows the app's launch URL, Buy with Prime's authorize endpoint and the app's install URL,
  as a real install does. Without ``merchant_id`` the console shows the merchant signed in by
  that cookie (the one who installed last in this browser);
* the merchant's installations, each a row whose id is the installation id (an app's page links
  to ``/#<installation id>``) with Settings and Uninstall buttons
  (``POST /console/installations/{id}/settings|uninstall``: the sandbox makes the signed call
  to the app, as it does for ``bwp-workshop sandbox settings|uninstall``, and shows the answer).
"""

from __future__ import annotations

import secrets
import time
import uuid
from html import escape
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .config import CONSOLE_CONSENT_PATH, CONSOLE_COOKIE, CONSOLE_INSTALL_PATH, CONSOLE_PATH
from .console_pages import consent_page, console_page, outcome_page, page
from .database import digest
from .shared import NotFound, Sandbox, compact_json
from .token_signing import TOKEN_HEADER, with_token

#: How long a merchant stays signed in to the console (seconds).
CONSOLE_SESSION_TTL = 1800


# --- the actions ------------------------------------------------------------------------------
class PartnerConsole:
    """The merchant's and the partner's actions in the console, over the sandbox's database."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.db = sandbox.db

    def register_app(
        self, launch_url: str, install_url: str, settings_url: str, uninstall_url: str, name: str = ""
    ) -> dict[str, str]:
        """Approve an app onboarding request: a new app with a client id and secret."""
        urls = {
            "launch_url": _check_url("launch_url", launch_url),
            "install_url": _check_url("install_url", install_url),
            "settings_url": _check_url("settings_url", settings_url),
            "uninstall_url": _check_url("uninstall_url", uninstall_url),
        }
        app_id = f"app-{uuid.uuid4().hex[:12]}"
        client_id = f"amzn1.application-oa2-client.{secrets.token_hex(16)}"
        client_secret = secrets.token_urlsafe(48)
        self.db.run(
            "INSERT INTO apps(app_id, client_id, secret_hash, launch_url, install_url, settings_url, uninstall_url, "
            "created_at, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            app_id,
            client_id,
            digest(client_secret),
            urls["launch_url"],
            urls["install_url"],
            urls["settings_url"],
            urls["uninstall_url"],
            time.time(),
            name.strip(),
        )
        return {"app_id": app_id, "client_id": client_id, "client_secret": client_secret, "name": name.strip(), **urls}

    def start_install(self, app_id: str, merchant_id: str | None) -> tuple[str, str]:
        """The merchant clicks "install" in the console: a console session (cookie value) and
        the app's launch URL to go to."""
        app = self.sandbox.app(app_id)
        merchant = self.sandbox.merchant(merchant_id)
        session = secrets.token_urlsafe(24)
        self.db.run(
            "INSERT INTO console_sessions(session_id, merchant_id, app_id, expires_at) VALUES (?, ?, ?, ?)",
            session,
            merchant["merchantId"],
            app["app_id"],
            time.time() + CONSOLE_SESSION_TTL,
        )
        return session, app["launch_url"]

    def signed_in_merchant(self, session: str | None) -> str | None:
        """The merchant a console cookie signed in (None: no cookie, or it expired)."""
        if not session:
            return None
        row = self.db.one(
            "SELECT merchant_id FROM console_sessions WHERE session_id = ? AND expires_at > ?", session, time.time()
        )
        return str(row["merchant_id"]) if row else None

    # --- calls to the app ----------------------------------------------------------------------------
    def _signed_call(
        self, installation_id: str, method: str, url: str, body: bytes | None, limit: int = 500
    ) -> dict[str, Any]:
        token = self.sandbox.key.token(installation_id, url, body, ttl=self.sandbox.config.verification_token_ttl)
        where = self.sandbox.config.verification_token_in
        target = with_token(url, token) if where in ("query", "both") else url
        headers = {TOKEN_HEADER: token} if where in ("header", "both") else {}
        if body is not None:
            headers["content-type"] = "application/json"
        try:
            with httpx.Client(trust_env=False, timeout=15, follow_redirects=False) as http:
                response = http.request(method, target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return {"status_code": None, "url": url, "ok": False, "error": f"{type(exc).__name__}: {exc}", "text": ""}
        return {
            "status_code": response.status_code,
            "url": url,
            "ok": response.is_success,
            "error": "" if response.is_success else f"HTTP {response.status_code}",
            "text": response.text[:limit],
        }

    def open_settings(self, installation_id: str, limit: int = 500) -> dict[str, Any]:
        """The merchant opens the app's settings from the console: GET the settings URL (the
        answer's first ``limit`` characters are kept)."""
        installation = self.sandbox.installation(installation_id)
        app = self.sandbox.app(installation["app_id"])
        return self._signed_call(installation_id, "GET", app["settings_url"], None, limit)

    def uninstall(self, installation_id: str) -> dict[str, Any]:
        """The merchant removes the app: POST the uninstall URL with a JSON body, then revoke
        the installation's tokens."""
        installation = self.sandbox.installation(installation_id)
        if installation["status"] == "uninstalled":
            raise ValueError(f"installation {installation_id} is already uninstalled")
        app = self.sandbox.app(installation["app_id"])
        body = compact_json(
            {"installationId": installation_id, "eventType": "UNINSTALL", "timestamp": int(time.time())}
        ).encode()
        result = self._signed_call(installation_id, "POST", app["uninstall_url"], body)
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE installations SET status = 'uninstalled', updated_at = ? WHERE installation_id = ?",
                (time.time(), installation_id),
            )
            conn.execute("UPDATE tokens SET revoked = 1 WHERE installation_id = ?", (installation_id,))
        return result


def _check_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ValueError(f"{name} must be an absolute http(s) URL without a fragment, got {url!r}")
    return url


def console_router(console: PartnerConsole) -> APIRouter:
    """The console's pages and the actions behind their links and buttons."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_PATH, status_code=307)

    @router.get(CONSOLE_PATH, response_class=HTMLResponse)
    async def console_home(request: Request, merchant_id: str | None = None) -> HTMLResponse:
        chosen = merchant_id or console.signed_in_merchant(request.cookies.get(CONSOLE_COOKIE))
        return console_page(console.sandbox, chosen)

    @router.get(CONSOLE_CONSENT_PATH, response_class=HTMLResponse)
    async def consent(app_id: str, merchant_id: str | None = None) -> HTMLResponse:
        """The merchant clicked Install: what the app may read, and Allow or Cancel."""
        return consent_page(console.sandbox, app_id, merchant_id)

    @router.get(CONSOLE_INSTALL_PATH, response_model=None)
    async def install(app_id: str, merchant_id: str | None = None) -> Response:
        """The merchant clicks Install: sign the merchant in (cookie) and go to the app's
        launch URL."""
        try:
            session, launch_url = console.start_install(app_id, merchant_id)
        except NotFound as error:
            return page("Not found", f"<p>{escape(str(error))}</p>", 404)
        response = RedirectResponse(launch_url, status_code=302)
        response.set_cookie(CONSOLE_COOKIE, session, httponly=True, samesite="lax", path="/")
        return response

    async def _act(installation_id: str, action: str) -> HTMLResponse:
        try:
            installation = console.sandbox.installation(installation_id)
        except NotFound as error:
            return page("Not found", f"<p>{escape(str(error))}</p>", 404)
        merchant_id = str(installation["merchant_id"])
        if action == "settings":
            outcome = await run_in_threadpool(console.open_settings, installation_id, 20_000)
            return outcome_page("Settings opened", {"method": "GET", **outcome}, merchant_id)
        try:
            outcome = await run_in_threadpool(console.uninstall, installation_id)
        except ValueError as error:
            return page("Nothing to uninstall", f"<p>{escape(str(error))}</p>", 409)
        return outcome_page("Uninstalled", {"method": "POST", **outcome}, merchant_id)

    @router.post(CONSOLE_PATH + "/installations/{installation_id}/settings", response_class=HTMLResponse)
    async def settings(installation_id: str) -> HTMLResponse:
        return await _act(installation_id, "settings")

    @router.post(CONSOLE_PATH + "/installations/{installation_id}/uninstall", response_class=HTMLResponse)
    async def uninstall(installation_id: str) -> HTMLResponse:
        return await _act(installation_id, "uninstall")

    return router
