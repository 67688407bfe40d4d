"""A Python client of the sandbox's admin API: what a notebook, a test or the CLI uses to act
as the partner console and as a merchant.

    client = SandboxClient(settings)
    registration = client.register_app(launch_url, install_url, settings_url, uninstall_url)
    write_credentials_to_env(settings, registration)   # BWP_CLIENT_ID / BWP_CLIENT_SECRET in .env
    outcome = client.install()                          # launch -> authorize -> install, like a browser
    client.emit(orders=3, duplicates=1, malformed=["garbage_detail"])
    client.ledger()

The client secret is a ``SecretStr``: it never shows in a repr, a log or an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
from pydantic import SecretStr

from ..errors import LocalRuntimeError, WorkshopError
from ..settings import Settings
from .config import ADMIN_PREFIX, CONSOLE_INSTALL_PATH

ADMIN = ADMIN_PREFIX


class SandboxError(WorkshopError):
    """The sandbox refused an admin request or could not be reached."""


@dataclass(frozen=True)
class AppRegistration:
    """What approval of an app onboarding request gives: the app and its client credentials."""

    app_id: str
    client_id: str
    client_secret: SecretStr
    launch_url: str = ""
    install_url: str = ""
    settings_url: str = ""
    uninstall_url: str = ""


@dataclass(frozen=True)
class InstallOutcome:
    """How a merchant's install went, as the browser saw it."""

    installation_id: str | None
    status_code: int | None
    final_url: str
    ok: bool
    page: str = ""
    error: str = ""
    redirects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CallOutcome:
    """How the app answered a call the sandbox made to it (settings, uninstall)."""

    status_code: int | None
    url: str
    ok: bool
    text: str = ""
    error: str = ""


def _mask_secrets(url: str) -> str:
    """A URL safe to show: code, state and verification token masked."""
    return re.sub(r"((?:^|[?&])(?:code|verification-token|state)=)[^&]*", r"\1***", url)


class SandboxClient:
    """The sandbox's admin API over HTTP (``trust_env=False``: no proxy from the environment).

    ``http`` lets a test hand in its own client (a ``fastapi.testclient.TestClient`` for an
    in-process sandbox); by default the sandbox at ``settings.sandbox_url`` is used.
    """

    def __init__(self, settings: Settings, *, http: httpx.Client | None = None, timeout: float = 30):
        self.settings = settings
        self.base_url = self.settings.sandbox_url
        self._http = http or httpx.Client(base_url=self.base_url, trust_env=False, timeout=timeout)
        self._timeout = timeout

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, f"{ADMIN}{path}", **kwargs)
        except httpx.TransportError as exc:
            raise LocalRuntimeError(
                f"The Buy with Prime sandbox at {self.base_url} did not answer ({type(exc).__name__}).",
                hint="Start it with `bwp-workshop local up` (or `bwp-workshop sandbox serve`).",
            ) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise SandboxError(f"The sandbox refused {method} {ADMIN}{path} (HTTP {response.status_code}): {detail}")
        return response.json()

    # --- the partner console --------------------------------------------------------------------
    def register_app(
        self, launch_url: str, install_url: str, settings_url: str, uninstall_url: str, name: str = ""
    ) -> AppRegistration:
        """Approve an app onboarding request with these URLs (and the app's name, shown to a
        merchant on the consent page); a new client id and secret."""
        body = {
            "launch_url": launch_url,
            "install_url": install_url,
            "settings_url": settings_url,
            "uninstall_url": uninstall_url,
            "name": name,
        }
        issued = self._request("POST", "/apps", json=body)
        return AppRegistration(
            app_id=issued["app_id"],
            client_id=issued["client_id"],
            client_secret=SecretStr(issued["client_secret"]),
            launch_url=issued["launch_url"],
            install_url=issued["install_url"],
            settings_url=issued["settings_url"],
            uninstall_url=issued["uninstall_url"],
        )

    def apps(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/apps"))

    def merchants(self) -> list[dict[str, Any]]:
        """The seeded merchants (business product, site and widget ids, catalog)."""
        return list(self._request("GET", "/merchants"))

    def orders(self, merchant_id: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"/merchants/{merchant_id}/orders"))

    def installations(self, app_id: str | None = None, merchant_id: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("app_id", app_id), ("merchant_id", merchant_id)) if v}
        return list(self._request("GET", "/installations", params=params))

    def installation(self, installation_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"/installations/{installation_id}"))

    def _app_id(self, app_id: str | None) -> str:
        if app_id:
            return app_id
        if self.settings.client_id:
            return self.settings.client_id
        apps = self.apps()
        if not apps:
            raise SandboxError("No app is registered in the sandbox.", hint="Register one first (register_app).")
        return str(apps[-1]["app_id"])

    # --- the merchant's actions ----------------------------------------------------------------------
    def install(self, merchant_id: str | None = None, *, app_id: str | None = None) -> InstallOutcome:
        """The merchant installs the app, as a browser: console -> the app's launch URL ->
        authorize -> the app's install URL, following redirects with cookies kept.

        ``app_id`` may be an app id or a client id; default: ``settings.client_id``, else the
        app registered last."""
        params = {"app_id": self._app_id(app_id)}
        if merchant_id:
            params["merchant_id"] = merchant_id
        start = httpx.URL(f"{self.base_url}{CONSOLE_INSTALL_PATH}", params=params)
        with httpx.Client(trust_env=False, timeout=self._timeout, follow_redirects=True) as browser:
            try:
                response = browser.get(start)
            except httpx.HTTPError as exc:
                return InstallOutcome(None, None, str(start), False, error=f"{type(exc).__name__}: {exc}")
        urls = [str(r.url) for r in response.history] + [str(response.url)]
        installation_id = None
        for url in urls:
            token = dict(parse_qsl(urlsplit(url).query)).get("verification-token")
            if token:
                installation_id = jwt.decode(token, options={"verify_signature": False}).get("installationId")
        text = response.text[:500]
        final = str(response.url)
        error = ""
        query = dict(parse_qsl(urlsplit(final).query))
        if "error" in query:
            error = f"{query['error']}: {query.get('error_description', '')}"
        elif not response.is_success:
            error = f"HTTP {response.status_code}: {re.sub(r'<[^>]+>', ' ', text).strip()[:200]}"
        installed = False
        if installation_id and not error:
            installed = self.installation(installation_id)["status"] == "installed"
            if not installed:
                error = "the app answered but did not exchange the authorization code"
        return InstallOutcome(
            installation_id=installation_id,
            status_code=response.status_code,
            final_url=_mask_secrets(final),
            ok=response.is_success and installed,
            page=text,
            error=error,
            redirects=[_mask_secrets(url) for url in urls],
        )

    def open_settings(self, installation_id: str) -> CallOutcome:
        """The merchant opens the app's settings: the sandbox GETs the settings URL, signed."""
        return CallOutcome(**self._request("POST", f"/installations/{installation_id}/settings"))

    def uninstall(self, installation_id: str) -> CallOutcome:
        """The merchant removes the app: the sandbox POSTs the uninstall URL (JSON body,
        signed) and revokes the installation's tokens."""
        return CallOutcome(**self._request("POST", f"/installations/{installation_id}/uninstall"))

    def forget_installations(self, reason: str) -> list[str]:
        """The apps lost their installations' tokens (a restarted local AWS): every installation
        is marked uninstalled, ``reason`` shown beside it in the console; the ids marked."""
        return list(self._request("POST", "/installations/forget", json={"reason": reason})["uninstalled"])

    def expire_access_tokens(self, installation_id: str) -> int:
        """Expire the installation's access tokens now (to exercise a refresh)."""
        return int(self._request("POST", f"/installations/{installation_id}/expire-access-tokens")["expired"])

    # --- events -----------------------------------------------------------------------------------
    def subscriptions(self, installation_id: str | None = None) -> list[dict[str, Any]]:
        params = {"installation_id": installation_id} if installation_id else {}
        return list(self._request("GET", "/subscriptions", params=params))

    def emit(
        self,
        orders: int = 1,
        *,
        installation_id: str | None = None,
        merchant_id: str | None = None,
        lifecycle: str = "mixed",
        catalog_events: int = 0,
        privacy_events: int = 0,
        duplicates: int = 0,
        malformed: list[str] | tuple[str, ...] = (),
        shapes: list[str] | tuple[str, ...] | None = None,
        seed: int | None = None,
        spread_hours: float = 0.0,
    ) -> dict[str, Any]:
        """Simulate merchant activity: ``orders`` orders walking ``lifecycle`` (delivered,
        returned, cancelled, return_failed or mixed), catalog and privacy events, some events
        delivered twice, and one broken event per kind in ``malformed``
        (missing_installation, unknown_installation, garbage_detail, foreign_source). Events
        go to every matching subscription; the answer lists the ledger entries written.
        ``spread_hours`` backdates the orders over that many past hours (a history to analyse)."""
        body = {
            "orders": orders,
            "installation_id": installation_id,
            "merchant_id": merchant_id,
            "lifecycle": lifecycle,
            "catalog_events": catalog_events,
            "privacy_events": privacy_events,
            "duplicates": duplicates,
            "malformed": list(malformed),
            "shapes": list(shapes) if shapes is not None else None,
            "seed": seed,
            "spread_hours": spread_hours,
        }
        return dict(self._request("POST", "/emit", json=body))

    def ledger(self, since: int = 0) -> list[dict[str, Any]]:
        """Every event published (after ledger sequence number ``since``)."""
        return list(self._request("GET", "/ledger", params={"since": since}))

    # --- faults and configuration ----------------------------------------------------------------------
    def faults(self) -> dict[str, dict[str, Any]]:
        return dict(self._request("GET", "/faults"))

    def set_faults(self, replace: bool = False, **endpoints: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Faults per endpoint, e.g. ``set_faults(graphql={"throttle_rate": 0.2, "seed": 7})``;
        ``replace=True`` clears the endpoints not named. ``set_faults(replace=True)`` turns all off."""
        return dict(self._request("PUT", "/faults", json={"faults": endpoints, "replace": replace}))

    def config(self) -> dict[str, Any]:
        return dict(self._request("GET", "/config"))

    def update_config(self, **changes: Any) -> dict[str, Any]:
        """Change lifetimes, the verification-token placement or the event shapes at run time."""
        return dict(self._request("PATCH", "/config", json=changes))

    def public_key(self) -> str:
        response = self._http.get(f"{ADMIN}/public-key")
        response.raise_for_status()
        return response.text


def write_credentials_to_env(settings: Settings, registration: AppRegistration, env_file: Path | None = None) -> Path:
    """Write the issued client id and secret into the project's ``.env`` as ``BWP_CLIENT_ID``
    and ``BWP_CLIENT_SECRET`` (replacing earlier values, keeping every other line); the file's
    path. The file is made readable by its owner only."""
    from ..envfile import set_env_values
    from ..names import ENV_CLIENT_ID, ENV_CLIENT_SECRET

    values = {ENV_CLIENT_ID: registration.client_id, ENV_CLIENT_SECRET: registration.client_secret.get_secret_value()}
    return set_env_values(values, settings, path=env_file)
