"""The OAuth authorization code flow (with PKCE) of an install.

* ``GET /launch`` (the launch URL): a new pending install (CSPRNG ``state``, PKCE verifier kept
  in the token table), then a redirect to the authorize URL with the S256 challenge; the state
  cookie binds the install to this browser.
* ``GET /install`` (the install URL, the OAuth redirect URI): checks the callback's state and
  code, the verification token, the state (known, unexpired, bound to this browser when it
  carries the state cookie, used once), exchanges the code with the verifier, records the
  store's business product for the installation (``buyWithPrimeStore.businessProductId``, so events
  that name only their business product find their tenant) and stores the token pair.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bwp_workshop.core.business_products import BusinessProductMapError
from bwp_workshop.core.graphql import GraphQLError
from bwp_workshop.core.token_store import TokenStoreError
from bwp_workshop.core.tokens import TokenEndpointError, TokenSet

from ... import log, pages
from ...errors import Refusal, redact, table_unavailable
from ...services import Services
from ...state import STATE_PATTERN, PendingStoreError
from ..deps import CredentialsRequired, ServicesDep, VerifiedDep

STATE_COOKIE = "bwp_oauth_state"
#: Longest authorization code accepted.
MAX_CODE = 2048

router = APIRouter(dependencies=[CredentialsRequired])


@router.get("/launch", summary="Launch URL: start an install", status_code=302)
def launch(request: Request, services: ServicesDep) -> Response:
    config = services.config
    try:
        started = services.pending.create()
    except PendingStoreError as exc:
        raise table_unavailable(f"the token table refused to record the pending install ({exc})") from None
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
        services.cookie_value(started.state),
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


@router.get("/install", response_class=HTMLResponse, summary="Install URL (OAuth redirect URI)")
def install(
    request: Request,
    sent: Annotated[Callback, Depends(callback)],
    checked: VerifiedDep,
    services: ServicesDep,
) -> HTMLResponse:
    cookie = request.cookies.get(STATE_COOKIE)
    if cookie is None:  # an install is bound to the browser that started it at /launch
        raise Refusal(
            400,
            "state_not_bound",
            "this browser did not start the install (no state cookie); start it again from the Buy with Prime "
            "console in this browser",
        )
    if not hmac.compare_digest(cookie, services.cookie_value(sent.state)):
        raise Refusal(
            400, "state_mismatch", "the state does not belong to this browser's install; start the install again"
        )
    try:
        verifier = services.pending.consume(sent.state)
    except PendingStoreError as exc:
        raise table_unavailable(f"the token table refused to check the state ({exc})") from None
    if verifier is None:
        raise Refusal(400, "unknown_state", "the state is unknown, expired or already used; start the install again")
    try:
        tokens = services.endpoint.exchange_code(
            sent.code, redirect_uri=services.redirect_uri(request), code_verifier=verifier
        )
    except TokenEndpointError as exc:
        reason = redact(str(exc), [sent.code, verifier, services.client_secret])
        raise Refusal(502, "token_endpoint_failed", f"{reason}; nothing was stored, start the install again") from None
    # Before the tokens: a stored token means the installation's events can be tied to it.
    _record_business_product(services, tokens, checked.installation_id)
    try:
        # An install starts the installation afresh (installed_at = now): the write needs no
        # read of the installation's earlier items, which stay until refreshed or uninstalled.
        stored = services.store.put(checked.installation_id, tokens, previous=None)
    except TokenStoreError as exc:
        raise table_unavailable(str(exc)) from None
    log.info("installed %s (token valid until %d)", stored.installation_id, stored.expires_at)
    response = HTMLResponse(pages.installed(stored.installation_id))
    response.delete_cookie(STATE_COOKIE, path="/install")
    return response


def _record_business_product(services: Services, tokens: TokenSet, installation_id: str) -> None:
    """The store's business product -> ``installation_id``, when the app keeps that map."""
    if services.business_products is None or services.graphql is None:
        return
    try:
        store = services.graphql.store(access_token=tokens.access_token, installation_id=installation_id)
    except GraphQLError as exc:
        raise Refusal(
            502,
            "store_unavailable",
            f"the Buy with Prime API did not return the store ({exc}); nothing was stored, start the install again",
        ) from None
    business_product = store.get("businessProductId")
    if not business_product:
        log.warning("installation %s: the store has no businessProductId", installation_id)
        return
    try:
        services.business_products.put(str(business_product), installation_id)
    except BusinessProductMapError as exc:
        raise table_unavailable(str(exc)) from None
