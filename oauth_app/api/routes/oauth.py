"""The OAuth authorization code flow (with PKCE) of an install.

* ``GET /launch`` (the launch URL): a new pending install (CSPRNG ``state`` and PKCE verifier,
  sealed in the state cookie, which binds the install to this browser; nothing is written
  server-side), then a redirect to the authorize URL with the S256 challenge.
* ``GET /install`` (the install URL, the OAuth redirect URI): checks the callback's state and
  code, the verification token, the state cookie (present, sealed by this app, naming the
  callback's state, unexpired), spends the state (used once: the only write before the code
  exchange), exchanges the code with the verifier and stores the token pair, then subscribes
  the merchant to the app's event destinations and records its business product (a
  subscription's ``targetId`` names it; :mod:`oauth_app.tenancy`); then a 303 to
  ``/installed``, so the address bar keeps no code, state or verification token and a reload
  does not send the used code again.
* ``GET /installed``: the page the merchant ends on, with links back to the Buy with Prime
  console and to the app's settings there; it shows the installation this browser just
  installed (a short-lived cookie, an HMAC under the state-cookie key), nothing otherwise.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bwp_workshop.core.token_table import TokenTableError
from bwp_workshop.core.tokens import TokenEndpointError

from ... import log, pages, tenancy
from ...errors import Refusal, redact, table_unavailable
from ...pending_installs import STATE_PATTERN, SpentStatesError
from ...services import Services
from ..deps import CredentialsRequired, ServicesDep, VerifiedDep

STATE_COOKIE = "bwp_oauth_state"
#: The page an install ends on, and the cookie that tells it which installation.
INSTALLED_PATH = "/installed"
INSTALLED_COOKIE = "bwp_installed"
#: Longest authorization code accepted.
MAX_CODE = 2048

router = APIRouter(dependencies=[CredentialsRequired])


@router.get("/launch", summary="Launch URL: start an install", status_code=302)
def launch(request: Request, services: ServicesDep) -> Response:
    config = services.config
    started = services.pending.create()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": config.client_id,
            "state": started.state,
            "redirect_uri": services.redirect_uri(request),
            "code_challenge": started.code_challenge,
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in config.authorize_url else "?"
    response = RedirectResponse(f"{config.authorize_url}{separator}{query}", status_code=302)
    response.set_cookie(
        STATE_COOKIE,
        services.pending.seal(started),
        max_age=config.state_ttl_seconds,
        path="/install",
        secure=services.secure_cookie,
        httponly=True,
        samesite="lax",  # sent on the top-level redirect back from Buy with Prime
    )
    return response


@dataclass(frozen=True)
class Callback:
    """What Buy with Prime sent back to the redirect URI, checked for shape."""

    code: str = field(repr=False)
    state: str = field(repr=False)


def callback(
    code: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
) -> Callback:
    """The callback's code and state, refused (400) when Buy with Prime refused the install or
    either is missing or malformed; checked before the verification token."""
    if error:
        raise Refusal(
            400,
            "authorization_refused",
            f"Buy with Prime did not authorize the install ({error[:64]!r}); start it again",
        )
    if not state:
        raise Refusal(400, "missing_state", "the request has no state; start the install from /launch")
    if not STATE_PATTERN.fullmatch(state):
        raise Refusal(400, "invalid_state", "the state is not one this app issued; start the install again")
    if not code:
        raise Refusal(400, "missing_code", "the request has no authorization code")
    if len(code) > MAX_CODE:
        raise Refusal(400, "invalid_code", "the authorization code is too long")
    return Callback(code=code, state=state)


@router.get("/install", summary="Install URL (OAuth redirect URI)", status_code=303)
def install(
    request: Request,
    sent: Annotated[Callback, Depends(callback)],
    checked: VerifiedDep,
    services: ServicesDep,
) -> Response:
    cookie = request.cookies.get(STATE_COOKIE)
    if cookie is None:  # an install is bound to the browser that started it at /launch
        raise Refusal(
            400,
            "state_not_bound",
            "this browser did not start the install (no state cookie); start it again from the Buy with Prime "
            "console in this browser",
        )
    pending = services.pending.open(cookie)
    if pending is None or not hmac.compare_digest(pending.state, sent.state):
        raise Refusal(
            400, "state_mismatch", "the state does not belong to this browser's install; start the install again"
        )
    if pending.expired:
        raise Refusal(400, "unknown_state", "the state is unknown, expired or already used; start the install again")
    try:
        first_use = services.spent.spend(pending)
    except SpentStatesError as exc:
        raise table_unavailable(f"the token table refused to check the state ({exc})") from None
    if not first_use:
        raise Refusal(400, "unknown_state", "the state is unknown, expired or already used; start the install again")
    verifier = pending.code_verifier
    try:
        tokens = services.endpoint.exchange_code(
            sent.code, redirect_uri=services.redirect_uri(request), code_verifier=verifier
        )
    except TokenEndpointError as exc:
        reason = redact(str(exc), [sent.code, verifier, services.client_secret])
        raise Refusal(502, "token_endpoint_failed", f"{reason}; nothing was stored, start the install again") from None
    try:
        # An install starts the installation afresh (installed_at = now): the write needs no
        # read of the installation's earlier items, which stay until refreshed or uninstalled.
        stored = services.tokens.put(checked.installation_id, tokens, previous=None)
    except TokenTableError as exc:
        raise table_unavailable(str(exc)) from None
    log.info("installed %s (token valid until %d)", stored.installation_id, stored.expires_at)
    tenancy.subscribe(services, stored.installation_id, stored.access_token)
    response = RedirectResponse(INSTALLED_PATH, status_code=303)
    response.delete_cookie(STATE_COOKIE, path="/install")
    response.set_cookie(
        INSTALLED_COOKIE,
        _installed_cookie(services, stored.installation_id),
        max_age=services.config.state_ttl_seconds,
        path=INSTALLED_PATH,
        secure=services.secure_cookie,
        httponly=True,
        samesite="lax",
    )
    return response


def _installed_cookie(services: Services, installation_id: str) -> str:
    return f"{installation_id}.{services.cookie_value(f'installed:{installation_id}')}"


def console_url(authorize_url: str) -> str:
    """Buy with Prime's console: the origin of its authorize endpoint (the sandbox's console on
    the local target)."""
    parts = urlsplit(authorize_url)
    return f"{parts.scheme}://{parts.netloc}/"


@router.get(INSTALLED_PATH, response_class=HTMLResponse, summary="The page an install ends on")
def installed(request: Request, services: ServicesDep) -> HTMLResponse:
    cookie = request.cookies.get(INSTALLED_COOKIE) or ""
    installation_id = cookie.rpartition(".")[0]
    if not installation_id or not hmac.compare_digest(cookie, _installed_cookie(services, installation_id)):
        raise Refusal(
            404,
            "nothing_installed",
            "this browser has not installed the app lately: install it from the Buy with Prime console",
        )
    return HTMLResponse(pages.installed(installation_id, console_url(services.config.authorize_url)))
