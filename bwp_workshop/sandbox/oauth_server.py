"""The sandbox's OAuth 2.0 authorization server: the authorization endpoint (RFC 6749 4.1 with
PKCE S256, RFC 7636), the token endpoint (``authorization_code`` and ``refresh_token`` grants,
client credentials in the body or HTTP Basic, refresh-token rotation, a replayed code revokes
what it issued), and the check of the bearer tokens it issued, for the GraphQL API.

:class:`OAuthServer` holds the behaviour; :func:`oauth_router` only translates HTTP to it and
back, at ``Settings.sandbox_endpoints``' paths.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import html
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..settings import SANDBOX_AUTHORIZE_PATH
from .config import CONSOLE_COOKIE, CONSOLE_PATH
from .console_pages import sign_in_page
from .database import digest
from .shared import Sandbox
from .token_signing import with_token

TOKEN_PATH = "/token"
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 error response (section 5.2 for the token endpoint)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class AuthorizeError(Exception):
    """An authorization request that must not be redirected back (RFC 6749 4.1.2.1): the
    client or redirect URI is wrong, or no merchant is signed in."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Caller:
    """Who a valid access token belongs to."""

    installation_id: str
    client_id: str
    merchant: dict[str, Any]


def single_params(pairs: list[tuple[str, str]], names: tuple[str, ...]) -> dict[str, str]:
    """The parameters as a dict; a parameter of ``names`` given twice is an error (RFC 6749 3.1)."""
    seen: dict[str, str] = {}
    for key, value in pairs:
        if key in seen and key in names:
            raise OAuthError("invalid_request", f"parameter {key} is repeated")
        seen.setdefault(key, value)
    return seen


class OAuthServer:
    """The authorization server over the sandbox's database."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.db = sandbox.db

    # --- the authorization endpoint ------------------------------------------------------------
    def authorize(self, query: str, console_session: str | None) -> str:
        """Validate an authorization request; the URL to redirect to (the install URL with a
        code, or with an error), or ``AuthorizeError`` when it must not redirect."""
        pairs = parse_qsl(query, keep_blank_values=True)
        names = ("response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method")
        counts = {name: sum(1 for key, _ in pairs if key == name) for name in names}
        params = dict(reversed(pairs))  # first occurrence wins
        if counts["client_id"] != 1 or not params.get("client_id"):
            raise AuthorizeError("client_id is missing or repeated")
        app_row = self.db.one("SELECT * FROM apps WHERE client_id = ?", params["client_id"])
        if app_row is None:
            raise AuthorizeError("client_id is not the client id of a registered app")
        if counts["redirect_uri"] != 1 or not params.get("redirect_uri"):
            raise AuthorizeError("redirect_uri is missing or repeated")
        redirect_uri = params["redirect_uri"]
        if redirect_uri != app_row["install_url"]:
            raise AuthorizeError("redirect_uri does not exactly match the install URL registered for this app")

        state = params.get("state")

        def error(code: str, description: str) -> str:
            values = {"error": code, "error_description": description}
            if state and counts["state"] == 1:
                values["state"] = state
            return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(values)}"

        repeated = [name for name, count in counts.items() if count > 1]
        if repeated:
            return error("invalid_request", f"parameter {repeated[0]} is repeated")
        if "response_type" not in params:
            return error("invalid_request", "response_type is missing")
        if params["response_type"] != "code":
            return error("unsupported_response_type", "only response_type=code is supported")
        if not state:
            return error("invalid_request", "state is missing")
        if not params.get("code_challenge"):
            return error("invalid_request", "code_challenge is missing (PKCE is required)")
        if params.get("code_challenge_method") != "S256":
            return error("invalid_request", "code_challenge_method must be S256")
        if not _CHALLENGE.match(params["code_challenge"]):
            return error("invalid_request", "code_challenge must be base64url(SHA-256(verifier)) without padding")

        session = None
        if console_session:
            session = self.db.one(
                "SELECT * FROM console_sessions WHERE session_id = ? AND expires_at > ?", console_session, time.time()
            )
        if session is None:
            raise AuthorizeError("no merchant is signed in to the console (start the install from the console)", 401)
        if session["app_id"] != app_row["app_id"]:
            return error("access_denied", "the merchant is installing another app")

        installation_id = self._installation_for(app_row["app_id"], session["merchant_id"])
        code = secrets.token_urlsafe(32)
        self.db.run(
            "INSERT INTO codes(code_hash, client_id, redirect_uri, code_challenge, installation_id, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            digest(code),
            app_row["client_id"],
            redirect_uri,
            params["code_challenge"],
            installation_id,
            time.time() + self.sandbox.config.code_ttl,
        )
        url = f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode({'code': code, 'state': state})}"
        token = self.sandbox.key.token(installation_id, url, None, ttl=self.sandbox.config.verification_token_ttl)
        return with_token(url, token)

    def _installation_for(self, app_id: str, merchant_id: str) -> str:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT installation_id FROM installations WHERE app_id = ? AND merchant_id = ? "
                "AND status != 'uninstalled'",
                (app_id, merchant_id),
            ).fetchone()
            if row:
                return str(row["installation_id"])
            installation_id = f"inst-{uuid.uuid4()}"
            conn.execute(
                "INSERT INTO installations(installation_id, app_id, merchant_id, status, created_at, updated_at) "
                "VALUES (?, ?, ?, 'authorized', ?, ?)",
                (installation_id, app_id, merchant_id, time.time(), time.time()),
            )
            return installation_id

    # --- the token endpoint -----------------------------------------------------------------------
    def token(self, body: bytes, content_type: str, authorization: str | None) -> dict[str, Any]:
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise OAuthError("invalid_request", "the body is not UTF-8") from None
        params = single_params(
            pairs,
            ("grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "client_id", "client_secret"),
        )
        client_id = self._authenticate_client(params, authorization)
        grant_type = params.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is missing")
        if grant_type == "authorization_code":
            return self._code_grant(client_id, params)
        if grant_type == "refresh_token":
            return self._refresh_grant(client_id, params)
        raise OAuthError("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")

    def _authenticate_client(self, params: dict[str, str], authorization: str | None) -> str:
        basic = None
        if authorization and authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
                user, _, password = decoded.partition(":")
                basic = (unquote(user.replace("+", " ")), unquote(password.replace("+", " ")))
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "the Basic authorization header is malformed", 401) from None
        if basic and "client_secret" in params:
            raise OAuthError("invalid_request", "client credentials in both the header and the body; use one")
        if basic:
            if params.get("client_id") and params["client_id"] != basic[0]:
                raise OAuthError("invalid_request", "client_id in the body differs from the Basic credentials")
            client_id, secret = basic
        else:
            client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
        if not client_id or not secret:
            raise OAuthError("invalid_client", "client authentication is missing (client_id and client_secret)", 401)
        row = self.db.one("SELECT secret_hash FROM apps WHERE client_id = ?", client_id)
        if row is None or not hmac.compare_digest(row["secret_hash"], digest(secret)):
            raise OAuthError("invalid_client", "unknown client or wrong client secret", 401)
        return client_id

    def _issue(self, conn: Any, client_id: str, installation_id: str, code_hash: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        now = time.time()
        conn.executemany(
            "INSERT INTO tokens(token_hash, kind, client_id, installation_id, code_hash, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    digest(access),
                    "access",
                    client_id,
                    installation_id,
                    code_hash,
                    now + self.sandbox.config.access_token_ttl,
                ),
                (
                    digest(refresh),
                    "refresh",
                    client_id,
                    installation_id,
                    code_hash,
                    now + self.sandbox.config.refresh_token_ttl,
                ),
            ],
        )
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.sandbox.config.access_token_ttl,
            "refresh_token": refresh,
        }

    def _code_grant(self, client_id: str, params: dict[str, str]) -> dict[str, Any]:
        for name in ("code", "redirect_uri", "code_verifier"):
            if not params.get(name):
                raise OAuthError("invalid_request", f"{name} is missing")
        verifier = params["code_verifier"]
        if not _VERIFIER.match(verifier):
            raise OAuthError("invalid_request", "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]")
        code_hash = digest(params["code"])
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM codes WHERE code_hash = ?", (code_hash,)).fetchone()
            if row is None:
                raise OAuthError("invalid_grant", "unknown authorization code")
            if row["used_at"] is not None:
                conn.execute("UPDATE tokens SET revoked = 1 WHERE code_hash = ?", (code_hash,))
                revoked = True
            else:
                revoked = False
        if revoked:  # outside the transaction, so the revocation is committed
            raise OAuthError(
                "invalid_grant", "the authorization code was already used; tokens issued for it are revoked"
            )
        if row["expires_at"] <= time.time():
            raise OAuthError("invalid_grant", "the authorization code expired")
        if row["client_id"] != client_id:
            raise OAuthError("invalid_grant", "the authorization code was issued to another client")
        if row["redirect_uri"] != params["redirect_uri"]:
            raise OAuthError("invalid_grant", "redirect_uri differs from the one in the authorization request")
        challenge = create_s256_code_challenge(verifier)
        if not hmac.compare_digest(challenge, row["code_challenge"]):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        with self.db.transaction() as conn:
            claimed = conn.execute(
                "UPDATE codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL", (time.time(), code_hash)
            ).rowcount
            if not claimed:
                conn.execute("UPDATE tokens SET revoked = 1 WHERE code_hash = ?", (code_hash,))
            else:
                installed = conn.execute(
                    "UPDATE installations SET status = 'installed', updated_at = ? WHERE installation_id = ? "
                    "AND status != 'uninstalled'",
                    (time.time(), row["installation_id"]),
                ).rowcount
                if installed:
                    return self._issue(conn, client_id, row["installation_id"], code_hash)
        if not claimed:
            raise OAuthError(
                "invalid_grant", "the authorization code was already used; tokens issued for it are revoked"
            )
        raise OAuthError("invalid_grant", "the installation was removed")

    def _refresh_grant(self, client_id: str, params: dict[str, str]) -> dict[str, Any]:
        if not params.get("refresh_token"):
            raise OAuthError("invalid_request", "refresh_token is missing")
        token_hash = digest(params["refresh_token"])
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM tokens WHERE token_hash = ? AND kind = 'refresh'", (token_hash,)
            ).fetchone()
            if row is None:
                raise OAuthError("invalid_grant", "unknown refresh token")
            if row["client_id"] != client_id:
                raise OAuthError("invalid_grant", "the refresh token was issued to another client")
            if row["revoked"]:
                raise OAuthError("invalid_grant", "the refresh token was revoked")
            if row["used"]:
                raise OAuthError("invalid_grant", "the refresh token was already used; use the one issued with it")
            if row["expires_at"] <= time.time():
                raise OAuthError("invalid_grant", "the refresh token expired")
            conn.execute("UPDATE tokens SET used = 1 WHERE token_hash = ?", (token_hash,))
            return self._issue(conn, client_id, row["installation_id"], row["code_hash"])

    # --- bearer tokens on the API ---------------------------------------------------------------------
    def caller(self, access_token: str) -> Caller:
        """The installation an access token is for; ``PermissionError`` with the reason otherwise."""
        row = self.db.one(
            "SELECT t.installation_id, t.client_id, t.expires_at, t.revoked, i.status, i.merchant_id "
            "FROM tokens t JOIN installations i ON i.installation_id = t.installation_id "
            "WHERE t.token_hash = ? AND t.kind = 'access'",
            digest(access_token),
        )
        if row is None:
            raise PermissionError("the access token is not valid")
        if row["revoked"] or row["status"] == "uninstalled":
            raise PermissionError("the access token was revoked")
        if row["expires_at"] <= time.time():
            raise PermissionError("the access token expired")
        merchant = self.db.merchant(row["merchant_id"])
        assert merchant is not None
        return Caller(row["installation_id"], row["client_id"], merchant)

    def expire_access_tokens(self, installation_id: str) -> int:
        """Make every access token of the installation expired now (a test hook)."""
        self.sandbox.installation(installation_id)
        return self.db.run(
            "UPDATE tokens SET expires_at = ? WHERE installation_id = ? AND kind = 'access' AND expires_at > ?",
            time.time() - 1,
            installation_id,
            time.time() - 1,
        )


def _page(title: str, message: str, status: int) -> HTMLResponse:
    body = (
        f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
    )
    return HTMLResponse(body, status_code=status)


def _oauth_error(error: OAuthError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="bwp-sandbox"'
    return JSONResponse(
        {"error": error.error, "error_description": error.description}, status_code=error.status, headers=headers
    )


def oauth_router(oauth: OAuthServer) -> APIRouter:
    """``GET /marketplace/authorize`` and ``POST /token``."""
    router = APIRouter()

    @router.get(SANDBOX_AUTHORIZE_PATH, response_model=None)
    async def authorize(request: Request) -> Response:
        try:
            location = oauth.authorize(request.url.query, request.cookies.get(CONSOLE_COOKIE))
        except AuthorizeError as error:
            if error.status == 401:
                return sign_in_page(error.message, f"{str(request.base_url).rstrip('/')}{CONSOLE_PATH}")
            return _page("Invalid authorization request", error.message, error.status)
        return RedirectResponse(location, status_code=302)

    @router.post(TOKEN_PATH, response_model=None)
    async def token(request: Request) -> Response:
        body = await request.body()
        try:
            issued = oauth.token(body, request.headers.get("content-type", ""), request.headers.get("authorization"))
        except OAuthError as error:
            return _oauth_error(error)
        return JSONResponse(issued, headers=_NO_STORE)

    return router
