"""The FastAPI application: ``create_app(config)``.

Endpoints (the URLs registered with Buy with Prime are the first four):

* ``GET /launch``: a new pending install (CSPRNG ``state``, PKCE verifier kept in the token
  table), then a redirect to the authorize URL with the S256 challenge.
* ``GET /install`` (the OAuth redirect URI): checks the verification token, the state
  (known, unexpired, bound to this browser when it carries the state cookie, used once),
  exchanges the code with the verifier, records the store's business product for the
  installation (``buyWithPrimeStore.businessProductId``, so events that name only their
  business product find their tenant) and stores the token pair.
* ``GET /settings``: checks the verification token and shows the installation's token facts.
* ``POST /uninstall``: checks the verification token (over the raw body too) and deletes every
  token item and the business product of the installation; repeating it is harmless.
* ``GET /health`` (load balancer and container), ``GET /_bwp/health`` (the local runtime's
  supervisor), ``GET /`` (landing page).

Every refusal is a 4xx (502 when the token endpoint fails, 503 when the token table or the
app's own configuration does) with ``{"error": code, "reason": text}`` (or an HTML page for
browsers). Logs carry the method, path, status and refusal reason: never a query string, a
token, a code, a verifier or a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from bwp_workshop.core.business_products import BusinessProductMap, BusinessProductMapError
from bwp_workshop.core.graphql import GraphQLClient, GraphQLError
from bwp_workshop.core.token_store import TokenStore, TokenStoreError
from bwp_workshop.core.tokens import TokenEndpoint, TokenEndpointError
from bwp_workshop.core.verification import TOKEN_PARAMETER, VerificationError, VerifiedRequest, verify
from bwp_workshop.names import OAUTH_STATE_PREFIX

from . import pages
from .config import AppConfig
from .middleware import SecurityHeaders
from .state import STATE_PATTERN, PendingInstalls, PendingStoreError

log = logging.getLogger("oauth_app")

SERVICE_NAME = "oauth-app"
STATE_COOKIE = "bwp_oauth_state"
#: Longest installation id, code and uninstall body accepted (DynamoDB keys stop at 2 KiB).
MAX_INSTALLATION_ID = 256
MAX_CODE = 2048
MAX_BODY = 64 * 1024


class Refusal(Exception):
    """A request the app will not serve: ``status``, a stable ``code`` and a ``reason`` that
    says what to do; never a secret."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def create_app(
    config: AppConfig, *, table: Any = None, http: httpx.Client | None = None, business_product_table: Any = None
) -> FastAPI:
    """The app for ``config``. ``table`` (the token table), ``business_product_table`` (boto3
    DynamoDB Tables) and ``http`` (the client for the token endpoint and the GraphQL API)
    default to real ones; tests pass their own."""
    if table is None:
        import boto3
        from botocore.exceptions import NoRegionError

        try:
            table = boto3.resource("dynamodb").Table(config.token_table_name)
        except NoRegionError:
            raise RuntimeError("AWS_REGION is not set: set it to the token table's region") from None
    if business_product_table is None and config.business_product_table:
        import boto3

        business_product_table = boto3.resource("dynamodb").Table(config.business_product_table)
    store = TokenStore(table)
    own_http = None if http else httpx.Client(timeout=config.token_timeout_seconds, trust_env=False)
    business_products = BusinessProductMap(business_product_table) if business_product_table is not None else None
    graphql = (
        GraphQLClient(config.graphql_url, api_version=config.api_version, http=http or own_http, max_wait=1.0)
        if business_products is not None and config.graphql_url
        else None
    )
    pending = PendingInstalls(table, ttl_seconds=config.state_ttl_seconds)
    client_secret = config.client_secret.get_secret_value()
    endpoint = TokenEndpoint(
        config.token_url,
        config.client_id,
        client_secret,
        http=http or own_http,
        attempts=config.token_attempts,
        max_wait=1.0,
    )
    # The state cookie is an HMAC of the state under a key only the app's instances share.
    cookie_key = hashlib.sha256(b"bwp-oauth-state-cookie\0" + client_secret.encode()).digest()
    secure_cookie = config.app_base_url.startswith("https://")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if own_http is not None:
            own_http.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Buy with Prime OAuth handler",
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        description="Launch, install, settings and uninstall URLs of the app.",
    )
    app.state.config = config
    app.state.token_store = store
    app.state.pending_installs = pending
    app.state.token_endpoint = endpoint

    # --- responses, headers, logs ------------------------------------------------------
    def refusal_response(request: Request, refusal: Refusal) -> Response:
        log.warning(
            "%s %s refused %d %s: %s", request.method, request.url.path, refusal.status, refusal.code, refusal.reason
        )
        if _wants_html(request):
            return HTMLResponse(pages.error(refusal.status, refusal.code, refusal.reason), status_code=refusal.status)
        return JSONResponse({"error": refusal.code, "reason": refusal.reason}, status_code=refusal.status)

    @app.exception_handler(Refusal)
    async def _refused(request: Request, exc: Refusal) -> Response:
        return refusal_response(request, exc)

    @app.exception_handler(BotoCoreError)
    @app.exception_handler(ClientError)
    async def _table_unreachable(request: Request, exc: Exception) -> Response:
        # DynamoDB errors the stores did not translate (no connection, no credentials...).
        return refusal_response(
            request,
            Refusal(
                503,
                "token_table_unavailable",
                f"the token table could not be reached ({type(exc).__name__}); nothing was stored, try again",
            ),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({".".join(str(p) for p in error.get("loc", ())) for error in exc.errors()})
        reason = f"invalid request fields: {', '.join(fields)}"
        return refusal_response(request, Refusal(400, "invalid_request", reason))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        reason = {404: "no such page", 405: "method not allowed here"}.get(exc.status_code, str(exc.detail))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = refusal_response(request, Refusal(exc.status_code, code, reason))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    app.add_middleware(SecurityHeaders, hsts=secure_cookie)

    # --- helpers -----------------------------------------------------------------------
    def external_url(request: Request) -> str:
        """The URL as Buy with Prime sent it (what it signed), not as this container sees it."""
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        query = request.scope.get("query_string", b"").decode("latin-1")
        if config.request_url_from == "forwarded":
            origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
        else:
            origin = config.app_base_url
        return origin + path + (f"?{query}" if query else "")

    def redirect_uri(request: Request) -> str:
        if config.app_base_url:
            return f"{config.app_base_url}/install"
        return f"{request.url.scheme}://{request.headers.get('host', '')}/install"

    def verified(
        request: Request, token_query: str | None, token_header: str | None, body: bytes | None = None
    ) -> VerifiedRequest:
        token = token_query or token_header
        try:
            checked = verify(token, public_key_pem=config.public_key, url=external_url(request), body=body)
        except VerificationError as exc:
            status = 503 if exc.code == "no_key" else 403
            if exc.code == "missing_token":
                status = 401
            raise Refusal(status, exc.code, exc.reason) from None
        iid = checked.installation_id
        if len(iid) > MAX_INSTALLATION_ID or iid.startswith(OAUTH_STATE_PREFIX) or not iid.isprintable():
            raise Refusal(400, "invalid_installation_id", "the verification token names an unusable installationId")
        return checked

    def require_client_credentials() -> None:
        if not config.has_client_credentials:
            raise Refusal(
                503,
                "not_configured",
                "the app has no client credentials (BWP_CLIENT_ID, BWP_CLIENT_SECRET): set them from the app "
                "registration and restart the app",
            )

    def cookie_value(state: str) -> str:
        return hmac.new(cookie_key, state.encode(), hashlib.sha256).hexdigest()

    def table_unavailable(message: str) -> Refusal:
        return Refusal(503, "token_table_unavailable", f"{message}; nothing was stored, try again")

    # --- endpoints ---------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, summary="Landing page")
    def landing() -> HTMLResponse:
        return HTMLResponse(pages.landing())

    @app.get("/health", summary="Health for the load balancer and the container")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_bwp/health", include_in_schema=False)
    def supervisor_health() -> dict[str, Any]:
        return {"service": SERVICE_NAME, "pid": os.getpid()}

    @app.get("/launch", summary="Launch URL: start an install", status_code=302)
    def launch(request: Request) -> Response:
        require_client_credentials()
        try:
            started = pending.create()
        except PendingStoreError as exc:
            raise table_unavailable(f"the token table refused to record the pending install ({exc})") from None
        query = urlencode(
            {
                "response_type": "code",
                "client_id": config.client_id,
                "state": started.state,
                "redirect_uri": redirect_uri(request),
                "code_challenge": started.code_challenge,
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in config.authorize_url else "?"
        response = RedirectResponse(f"{config.authorize_url}{separator}{query}", status_code=302)
        response.set_cookie(
            STATE_COOKIE,
            cookie_value(started.state),
            max_age=config.state_ttl_seconds,
            path="/install",
            secure=secure_cookie,
            httponly=True,
            samesite="lax",  # sent on the top-level redirect back from Buy with Prime
        )
        return response

    @app.get("/install", response_class=HTMLResponse, summary="Install URL (OAuth redirect URI)")
    def install(
        request: Request,
        code: Annotated[str | None, Query()] = None,
        state: Annotated[str | None, Query()] = None,
        error: Annotated[str | None, Query()] = None,
        token_query: Annotated[str | None, Query(alias=TOKEN_PARAMETER)] = None,
        token_header: Annotated[str | None, Header(alias=TOKEN_PARAMETER)] = None,
    ) -> HTMLResponse:
        require_client_credentials()
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
        checked = verified(request, token_query, token_header)
        cookie = request.cookies.get(STATE_COOKIE)
        if cookie is not None and not hmac.compare_digest(cookie, cookie_value(state)):
            raise Refusal(
                400, "state_mismatch", "the state does not belong to this browser's install; start the install again"
            )
        try:
            verifier = pending.consume(state)
        except PendingStoreError as exc:
            raise table_unavailable(f"the token table refused to check the state ({exc})") from None
        if verifier is None:
            raise Refusal(
                400, "unknown_state", "the state is unknown, expired or already used; start the install again"
            )
        try:
            tokens = endpoint.exchange_code(code, redirect_uri=redirect_uri(request), code_verifier=verifier)
        except TokenEndpointError as exc:
            reason = _redact(str(exc), [code, verifier, client_secret])
            raise Refusal(
                502, "token_endpoint_failed", f"{reason}; nothing was stored, start the install again"
            ) from None
        if business_products is not None and graphql is not None:
            # Before the tokens: a stored token means the installation's events can be tied to it.
            try:
                business_product = graphql.store(
                    access_token=tokens.access_token, installation_id=checked.installation_id
                ).get("businessProductId")
            except GraphQLError as exc:
                raise Refusal(
                    502,
                    "store_unavailable",
                    f"the Buy with Prime API did not return the store ({exc}); nothing was stored, start the "
                    "install again",
                ) from None
            if business_product:
                try:
                    business_products.put(str(business_product), checked.installation_id)
                except BusinessProductMapError as exc:
                    raise table_unavailable(str(exc)) from None
            else:
                log.warning("installation %s: the store has no businessProductId", checked.installation_id)
        try:
            # An install starts the installation afresh (installed_at = now): the write needs no
            # read of the installation's earlier items, which stay until refreshed or uninstalled.
            stored = store.put(checked.installation_id, tokens, previous=None)
        except TokenStoreError as exc:
            raise table_unavailable(str(exc)) from None
        log.info("installed %s (token valid until %d)", stored.installation_id, stored.expires_at)
        response = HTMLResponse(pages.installed(stored.installation_id))
        response.delete_cookie(STATE_COOKIE, path="/install")
        return response

    @app.get("/settings", response_class=HTMLResponse, summary="Settings URL")
    def settings(
        request: Request,
        token_query: Annotated[str | None, Query(alias=TOKEN_PARAMETER)] = None,
        token_header: Annotated[str | None, Header(alias=TOKEN_PARAMETER)] = None,
    ) -> HTMLResponse:
        checked = verified(request, token_query, token_header)
        try:
            current = store.latest(checked.installation_id)
        except TokenStoreError as exc:
            raise table_unavailable(str(exc)) from None
        if current is None:
            raise Refusal(
                404, "not_installed", f"installation {checked.installation_id} has no token here: install the app first"
            )
        return HTMLResponse(
            pages.settings(current.installation_id, current.installed_at, current.updated_at, current.expires_at)
        )

    @app.post(
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
    async def uninstall(
        request: Request,
        token_query: Annotated[str | None, Query(alias=TOKEN_PARAMETER)] = None,
        token_header: Annotated[str | None, Header(alias=TOKEN_PARAMETER)] = None,
    ) -> dict[str, Any]:
        too_large = Refusal(413, "body_too_large", f"the body is larger than {MAX_BODY} bytes")
        declared = request.headers.get("content-length", "0")
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise too_large
        body = b""
        async for chunk in request.stream():  # read at most MAX_BODY (+ one chunk), whatever is declared
            body += chunk
            if len(body) > MAX_BODY:
                raise too_large
        checked = verified(request, token_query, token_header, body)
        try:
            deleted = await run_in_threadpool(store.delete_installation, checked.installation_id)
            if business_products is not None:
                await run_in_threadpool(business_products.remove_installation, checked.installation_id)
        except (TokenStoreError, BusinessProductMapError) as exc:
            raise table_unavailable(str(exc)) from None
        log.info("uninstalled %s (%d token items deleted)", checked.installation_id, deleted)
        return {"installation_id": checked.installation_id, "uninstalled": True, "deleted_items": deleted}

    return app
