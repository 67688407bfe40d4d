"""The sandbox's behaviour, apart from HTTP: the partner console (apps, merchants,
installations), the OAuth 2.0 authorization server (RFC 6749 with PKCE, RFC 7636) and the
calls Buy with Prime makes to an app (settings, uninstall).

The FastAPI routes in ``app.py`` only translate HTTP to these methods and back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import httpx

from ..settings import Settings
from .config import FaultSpec, SandboxSettings
from .faults import Faults
from .merchants import seed_merchants
from .store import Store, digest
from .verification import TOKEN_HEADER, SigningKey, with_token

CONSOLE_COOKIE = "bwp_console_session"
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
#: Runtime settings the admin API may change (kept in the state, winning over the environment).
RUNTIME_CONFIG = ("access_token_ttl", "refresh_token_ttl", "code_ttl", "verification_token_ttl",
                  "verification_token_in", "event_shapes", "event_context_keys")  # fmt: skip


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


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class Caller:
    """Who a valid access token belongs to."""

    installation_id: str
    client_id: str
    merchant: dict[str, Any]


def _now() -> float:
    return time.time()


def _check_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ValueError(f"{name} must be an absolute http(s) URL without a fragment, got {url!r}")
    return url


def single_params(pairs: list[tuple[str, str]], names: tuple[str, ...]) -> dict[str, str]:
    """The parameters as a dict; a parameter of ``names`` given twice is an error (RFC 6749 3.1)."""
    seen: dict[str, str] = {}
    for key, value in pairs:
        if key in seen and key in names:
            raise OAuthError("invalid_request", f"parameter {key} is repeated")
        seen.setdefault(key, value)
    return seen


class Sandbox:
    """One sandbox over one state folder."""

    def __init__(self, settings: Settings, config: SandboxSettings) -> None:
        self.settings = settings
        self.store = Store(settings.sandbox_dir)
        self.key = SigningKey(settings.sandbox_dir, settings.sandbox_public_key_file)
        stored = self.store.get_json("config", {})
        self.config = config.model_copy(update={k: v for k, v in stored.items() if k in RUNTIME_CONFIG})
        self.faults = Faults(dict(config.faults))
        self.faults.set({name: FaultSpec(**spec) for name, spec in self.store.get_json("faults", {}).items()})
        if not self.store.one("SELECT 1 FROM merchants LIMIT 1"):
            self._seed(config.merchants)

    def close(self) -> None:
        self.store.close()

    # --- configuration at run time ----------------------------------------------------------
    def update_config(self, changes: dict[str, Any]) -> SandboxSettings:
        unknown = set(changes) - set(RUNTIME_CONFIG)
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))}; changeable: {', '.join(RUNTIME_CONFIG)}")
        merged = {**self.config.model_dump(include=set(RUNTIME_CONFIG)), **changes}
        self.config = SandboxSettings.model_validate({**self.config.model_dump(), **merged})
        self.store.put_json("config", {**self.store.get_json("config", {}), **changes})
        return self.config

    def set_faults(self, specs: dict[str, FaultSpec], *, replace: bool = False) -> dict[str, FaultSpec]:
        if replace:
            self.faults.clear()
        self.faults.set(specs)
        current = {name: spec.model_dump() for name, spec in self.faults.specs().items() if spec.active}
        self.store.put_json("faults", current)
        return self.faults.specs()

    # --- partner console -----------------------------------------------------------------------
    def _seed(self, count: int) -> None:
        import random

        from .merchants import new_order

        with self.store.transaction() as db:
            for merchant in seed_merchants(count):
                db.execute(
                    "INSERT OR IGNORE INTO merchants(merchant_id, data) VALUES (?, ?)",
                    (merchant["merchantId"], _json(merchant)),
                )
        for merchant in self.store.merchants():  # an order history: three delivered orders each
            rng = random.Random(f"history-{merchant['merchantId']}")
            for days_ago in (9, 5, 2):
                order = new_order(merchant, rng, when=_now() - days_ago * 86400)
                order["status"] = "DELIVERED"
                self.store.save_order(merchant["merchantId"], order)

    def register_app(self, launch_url: str, install_url: str, settings_url: str, uninstall_url: str) -> dict[str, str]:
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
        self.store.run(
            "INSERT INTO apps(app_id, client_id, secret_hash, launch_url, install_url, settings_url, uninstall_url, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            app_id,
            client_id,
            digest(client_secret),
            urls["launch_url"],
            urls["install_url"],
            urls["settings_url"],
            urls["uninstall_url"],
            _now(),
        )
        return {"app_id": app_id, "client_id": client_id, "client_secret": client_secret, **urls}

    def apps(self) -> list[dict[str, Any]]:
        rows = self.store.all("SELECT * FROM apps ORDER BY created_at")
        return [_public(row) for row in rows]

    def app(self, app_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT * FROM apps WHERE app_id = ? OR client_id = ?", app_id, app_id)
        if row is None:
            raise NotFound(f"no app {app_id!r}; register one first")
        return _public(row)

    def merchant(self, merchant_id: str | None) -> dict[str, Any]:
        if merchant_id is None:
            return self.store.merchants()[0]
        merchant = self.store.merchant(merchant_id)
        if merchant is None:
            known = ", ".join(m["merchantId"] for m in self.store.merchants())
            raise NotFound(f"no merchant {merchant_id!r}; the sandbox has {known}")
        return merchant

    def installation(self, installation_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT * FROM installations WHERE installation_id = ?", installation_id)
        if row is None:
            raise NotFound(f"no installation {installation_id!r}")
        return dict(row)

    def installations(self, app_id: str | None = None, merchant_id: str | None = None) -> list[dict[str, Any]]:
        rows = self.store.all(
            "SELECT * FROM installations WHERE (? IS NULL OR app_id = ?) AND (? IS NULL OR merchant_id = ?) "
            "ORDER BY created_at",
            app_id,
            app_id,
            merchant_id,
            merchant_id,
        )
        return [dict(row) for row in rows]

    def start_console_install(self, app_id: str, merchant_id: str | None) -> tuple[str, str]:
        """The merchant clicks "install" in the console: a console session (cookie value) and
        the app's launch URL to go to."""
        app = self.app(app_id)
        merchant = self.merchant(merchant_id)
        session = secrets.token_urlsafe(24)
        self.store.run(
            "INSERT INTO console_sessions(session_id, merchant_id, app_id, expires_at) VALUES (?, ?, ?, ?)",
            session,
            merchant["merchantId"],
            app["app_id"],
            _now() + 1800,
        )
        return session, app["launch_url"]

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
        app_row = self.store.one("SELECT * FROM apps WHERE client_id = ?", params["client_id"])
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
            session = self.store.one(
                "SELECT * FROM console_sessions WHERE session_id = ? AND expires_at > ?", console_session, _now()
            )
        if session is None:
            raise AuthorizeError("no merchant is signed in to the console (start the install from the console)", 401)
        if session["app_id"] != app_row["app_id"]:
            return error("access_denied", "the merchant is installing another app")

        installation_id = self._installation_for(app_row["app_id"], session["merchant_id"])
        code = secrets.token_urlsafe(32)
        self.store.run(
            "INSERT INTO codes(code_hash, client_id, redirect_uri, code_challenge, installation_id, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            digest(code),
            app_row["client_id"],
            redirect_uri,
            params["code_challenge"],
            installation_id,
            _now() + self.config.code_ttl,
        )
        url = f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode({'code': code, 'state': state})}"
        token = self.key.token(installation_id, url, None, ttl=self.config.verification_token_ttl)
        return with_token(url, token)

    def _installation_for(self, app_id: str, merchant_id: str) -> str:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT installation_id FROM installations WHERE app_id = ? AND merchant_id = ? "
                "AND status != 'uninstalled'",
                (app_id, merchant_id),
            ).fetchone()
            if row:
                return str(row["installation_id"])
            installation_id = f"inst-{uuid.uuid4()}"
            db.execute(
                "INSERT INTO installations(installation_id, app_id, merchant_id, status, created_at, updated_at) "
                "VALUES (?, ?, ?, 'authorized', ?, ?)",
                (installation_id, app_id, merchant_id, _now(), _now()),
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
        row = self.store.one("SELECT secret_hash FROM apps WHERE client_id = ?", client_id)
        if row is None or not hmac.compare_digest(row["secret_hash"], digest(secret)):
            raise OAuthError("invalid_client", "unknown client or wrong client secret", 401)
        return client_id

    def _issue(self, db: Any, client_id: str, installation_id: str, code_hash: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        now = _now()
        db.executemany(
            "INSERT INTO tokens(token_hash, kind, client_id, installation_id, code_hash, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (digest(access), "access", client_id, installation_id, code_hash, now + self.config.access_token_ttl),
                (
                    digest(refresh),
                    "refresh",
                    client_id,
                    installation_id,
                    code_hash,
                    now + self.config.refresh_token_ttl,
                ),
            ],
        )
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.config.access_token_ttl,
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
        with self.store.transaction() as db:
            row = db.execute("SELECT * FROM codes WHERE code_hash = ?", (code_hash,)).fetchone()
            if row is None:
                raise OAuthError("invalid_grant", "unknown authorization code")
            if row["used_at"] is not None:
                db.execute("UPDATE tokens SET revoked = 1 WHERE code_hash = ?", (code_hash,))
                revoked = True
            else:
                revoked = False
        if revoked:  # outside the transaction, so the revocation is committed
            raise OAuthError(
                "invalid_grant", "the authorization code was already used; tokens issued for it are revoked"
            )
        if row["expires_at"] <= _now():
            raise OAuthError("invalid_grant", "the authorization code expired")
        if row["client_id"] != client_id:
            raise OAuthError("invalid_grant", "the authorization code was issued to another client")
        if row["redirect_uri"] != params["redirect_uri"]:
            raise OAuthError("invalid_grant", "redirect_uri differs from the one in the authorization request")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not hmac.compare_digest(challenge, row["code_challenge"]):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        with self.store.transaction() as db:
            claimed = db.execute(
                "UPDATE codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL", (_now(), code_hash)
            ).rowcount
            if not claimed:
                db.execute("UPDATE tokens SET revoked = 1 WHERE code_hash = ?", (code_hash,))
            else:
                installed = db.execute(
                    "UPDATE installations SET status = 'installed', updated_at = ? WHERE installation_id = ? "
                    "AND status != 'uninstalled'",
                    (_now(), row["installation_id"]),
                ).rowcount
                if installed:
                    return self._issue(db, client_id, row["installation_id"], code_hash)
        if not claimed:
            raise OAuthError(
                "invalid_grant", "the authorization code was already used; tokens issued for it are revoked"
            )
        raise OAuthError("invalid_grant", "the installation was removed")

    def _refresh_grant(self, client_id: str, params: dict[str, str]) -> dict[str, Any]:
        if not params.get("refresh_token"):
            raise OAuthError("invalid_request", "refresh_token is missing")
        token_hash = digest(params["refresh_token"])
        with self.store.transaction() as db:
            row = db.execute("SELECT * FROM tokens WHERE token_hash = ? AND kind = 'refresh'", (token_hash,)).fetchone()
            if row is None:
                raise OAuthError("invalid_grant", "unknown refresh token")
            if row["client_id"] != client_id:
                raise OAuthError("invalid_grant", "the refresh token was issued to another client")
            if row["revoked"]:
                raise OAuthError("invalid_grant", "the refresh token was revoked")
            if row["used"]:
                raise OAuthError("invalid_grant", "the refresh token was already used; use the one issued with it")
            if row["expires_at"] <= _now():
                raise OAuthError("invalid_grant", "the refresh token expired")
            db.execute("UPDATE tokens SET used = 1 WHERE token_hash = ?", (token_hash,))
            return self._issue(db, client_id, row["installation_id"], row["code_hash"])

    # --- bearer tokens on the API ---------------------------------------------------------------------
    def caller(self, access_token: str) -> Caller:
        """The installation an access token is for; ``PermissionError`` with the reason otherwise."""
        row = self.store.one(
            "SELECT t.installation_id, t.client_id, t.expires_at, t.revoked, i.status, i.merchant_id "
            "FROM tokens t JOIN installations i ON i.installation_id = t.installation_id "
            "WHERE t.token_hash = ? AND t.kind = 'access'",
            digest(access_token),
        )
        if row is None:
            raise PermissionError("the access token is not valid")
        if row["revoked"] or row["status"] == "uninstalled":
            raise PermissionError("the access token was revoked")
        if row["expires_at"] <= _now():
            raise PermissionError("the access token expired")
        merchant = self.store.merchant(row["merchant_id"])
        assert merchant is not None
        return Caller(row["installation_id"], row["client_id"], merchant)

    def expire_access_tokens(self, installation_id: str) -> int:
        """Make every access token of the installation expired now (a test hook)."""
        self.installation(installation_id)
        return self.store.run(
            "UPDATE tokens SET expires_at = ? WHERE installation_id = ? AND kind = 'access' AND expires_at > ?",
            _now() - 1,
            installation_id,
            _now() - 1,
        )

    # --- calls to the app ----------------------------------------------------------------------------
    def _signed_call(
        self, installation_id: str, method: str, url: str, body: bytes | None, limit: int = 500
    ) -> dict[str, Any]:
        token = self.key.token(installation_id, url, body, ttl=self.config.verification_token_ttl)
        where = self.config.verification_token_in
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
        installation = self.installation(installation_id)
        app = self.app(installation["app_id"])
        return self._signed_call(installation_id, "GET", app["settings_url"], None, limit)

    def uninstall(self, installation_id: str) -> dict[str, Any]:
        """The merchant removes the app: POST the uninstall URL with a JSON body, then revoke
        the installation's tokens."""
        installation = self.installation(installation_id)
        if installation["status"] == "uninstalled":
            raise ValueError(f"installation {installation_id} is already uninstalled")
        app = self.app(installation["app_id"])
        body = _json({"installationId": installation_id, "eventType": "UNINSTALL", "timestamp": int(_now())}).encode()
        result = self._signed_call(installation_id, "POST", app["uninstall_url"], body)
        with self.store.transaction() as db:
            db.execute(
                "UPDATE installations SET status = 'uninstalled', updated_at = ? WHERE installation_id = ?",
                (_now(), installation_id),
            )
            db.execute("UPDATE tokens SET revoked = 1 WHERE installation_id = ?", (installation_id,))
        return result


def _public(row: Any) -> dict[str, Any]:
    """An app row without its secret hash."""
    app = dict(row)
    app.pop("secret_hash", None)
    return app


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))
