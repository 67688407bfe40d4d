"""The sandbox's partner console: what a merchant does there, and the plain HTML pages that
let a person with a browser do it.

:class:`PartnerConsole` holds the actions: approve an app's onboarding request (a client id
and secret), sign a merchant in and start an install, open an installation's settings and
uninstall it (the signed calls Buy with Prime makes to the app). The pages:

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

Every value a page shows is escaped; no script runs on these pages. Every page answers with
``Cache-Control: no-store``: they change with each install, so the browser's Back button
reloads them rather than showing an old copy.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .config import CONSOLE_CONSENT_PATH, CONSOLE_COOKIE, CONSOLE_INSTALL_PATH, CONSOLE_PATH
from .sandbox_state import NotFound, SandboxState, compact_json
from .store import digest
from .token_signing import TOKEN_HEADER, with_token

#: How long a merchant stays signed in to the console (seconds).
CONSOLE_SESSION_TTL = 1800
#: What an installed app may do with a merchant's store, as the consent page says it: the
#: queries and mutations of the sandbox's GraphQL API (``schema.graphql``).
APP_ACCESS: tuple[str, ...] = (
    "read your store: its name, site, widget and business product",
    "read your orders and your products",
    "create and delete event subscriptions, so your store's order and catalog events reach the app",
)
#: The pages change with every install and uninstall: never served from the browser's cache.
NO_STORE = {"Cache-Control": "no-store"}


# --- the actions ------------------------------------------------------------------------------
class PartnerConsole:
    """The merchant's and the partner's actions in the console, over the sandbox's state."""

    def __init__(self, sandbox: SandboxState) -> None:
        self.sandbox = sandbox
        self.store = sandbox.store

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
        self.store.run(
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
        self.store.run(
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
        row = self.store.one(
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
        with self.store.transaction() as db:
            db.execute(
                "UPDATE installations SET status = 'uninstalled', updated_at = ? WHERE installation_id = ?",
                (time.time(), installation_id),
            )
            db.execute("UPDATE tokens SET revoked = 1 WHERE installation_id = ?", (installation_id,))
        return result


def _check_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ValueError(f"{name} must be an absolute http(s) URL without a fragment, got {url!r}")
    return url


# --- the pages --------------------------------------------------------------------------------
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;
color:#0f1111;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.8rem;border-bottom:1px solid #ddd}
p.lead{color:#565959;margin-top:0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eee;
vertical-align:top}th{background:#f3f3f3;font-weight:600}
code{font-size:.9em;overflow-wrap:anywhere}select{font:inherit;padding:.15rem}
.signed-in{background:#eaf5fb;border:1px solid #a6d4ec;padding:.6rem .8rem;border-radius:6px}
.button,button{display:inline-block;background:#ffd814;border:1px solid #fcd200;border-radius:16px;
padding:.25rem .9rem;color:#0f1111;text-decoration:none;font:inherit;cursor:pointer;white-space:nowrap}
button.secondary,a.button.secondary{background:#fff;border-color:#bbb}form.inline{display:inline;margin:0}
.status-installed{color:#067d62;font-weight:600}.status-uninstalled{color:#888}
.note{color:#565959;font-size:.9em}tr:target{background:#fff7d6}
ul.access li{margin:.3rem 0}pre{background:#f6f6f6;padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere}
"""


def _page(title: str, body_html: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body_html}</body></html>\n"
    )
    return HTMLResponse(html, status_code=status, headers=NO_STORE)


def _when(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _console_link(merchant_id: str | None) -> str:
    return CONSOLE_PATH + (f"?{urlencode({'merchant_id': merchant_id})}" if merchant_id else "")


def consent_link(app_id: str, merchant_id: str) -> str:
    """The Install button's target: the consent page."""
    return f"{CONSOLE_CONSENT_PATH}?{urlencode({'app_id': app_id, 'merchant_id': merchant_id})}"


def install_link(app_id: str, merchant_id: str) -> str:
    """The consent page's Allow button: the merchant signs in and the install starts."""
    return f"{CONSOLE_INSTALL_PATH}?{urlencode({'app_id': app_id, 'merchant_id': merchant_id})}"


def app_label(app: dict[str, Any]) -> str:
    """How a page names an app: its name, else its app id."""
    return str(app.get("name") or app["app_id"])


def console_page(sandbox: SandboxState, merchant_id: str | None) -> HTMLResponse:
    merchants = sandbox.store.merchants()
    known = {m["merchantId"]: m for m in merchants}
    problem = ""
    if merchant_id not in known:
        if merchant_id:
            problem = f'<p class="note">No merchant {escape(merchant_id)!s} here; pick one of the list.</p>'
        merchant_id = merchants[0]["merchantId"] if merchants else None
    merchant = known.get(merchant_id or "")
    apps = sandbox.apps()

    options = "".join(
        f'<option value="{escape(m["merchantId"])}"{" selected" if m["merchantId"] == merchant_id else ""}>'
        f"{escape(m['name'])} ({escape(m['merchantId'])})</option>"
        for m in merchants
    )
    sign_in = (
        f'<form method="get" action="{CONSOLE_PATH}"><label>Merchant: <select name="merchant_id">{options}'
        '</select></label> <button type="submit" class="secondary">Sign in as this merchant</button></form>'
    )
    parts = [
        '<p class="lead">A merchant installs your app from here, as in the Buy with Prime console. '
        "This is the workshop's local stand-in, not the real Buy with Prime.</p>",
        problem,
        "<h2>1. Sign in as a merchant</h2>",
        sign_in,
    ]
    if merchant:
        parts.append(
            f'<p class="signed-in">Signed in as <strong>{escape(merchant["name"])}</strong> '
            f"(<code>{escape(merchant['merchantId'])}</code>, business product "
            f"<code>{escape(merchant['businessProductId'])}</code>, site <code>{escape(merchant['siteId'])}</code>, "
            f"{len(merchant['products'])} products).</p>"
        )

    parts.append("<h2>2. Install an app</h2>")
    if not apps:
        parts.append(
            "<p>No app is registered yet. Approve the app's onboarding request first (notebook 02, or "
            "<code>bwp-workshop sandbox register --write-env</code>), then reload this page.</p>"
        )
    else:
        active = {
            row["app_id"] for row in sandbox.installations(merchant_id=merchant_id) if row["status"] != "uninstalled"
        }
        rows = []
        for app in reversed(apps):  # newest first: the one the workshop registered last
            label = "Install again" if app["app_id"] in active else "Install"
            button = (
                f'<a class="button" href="{escape(consent_link(app["app_id"], merchant_id))}">{label}</a>'
                if merchant_id
                else ""
            )
            rows.append(
                f"<tr><td><strong>{escape(app_label(app))}</strong><br><span class='note'>app "
                f"<code>{escape(app['app_id'])}</code><br>client id "
                f"<code>{escape(app['client_id'])}</code><br>registered {escape(_when(app['created_at']))}</span>"
                f"</td><td><code>{escape(app['launch_url'])}</code></td><td>{button}</td></tr>"
            )
        parts.append(
            "<table><thead><tr><th>app</th><th>launch URL</th><th></th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            '<p class="note">Install shows what the app may read; Allow takes the browser to the app\'s '
            "launch URL, then to the authorize endpoint and back to the app's install URL, where the app "
            "exchanges the code for tokens. Come back here afterwards to see the installation.</p>"
        )

    parts.append("<h2>3. Installations of this merchant</h2>")
    installations = sandbox.installations(merchant_id=merchant_id) if merchant_id else []
    if not installations:
        parts.append("<p>None yet.</p>")
    else:
        rows = []
        for row in reversed(installations):
            status = str(row["status"])
            actions = ""
            if status != "uninstalled":
                base = f"{CONSOLE_PATH}/installations/{escape(row['installation_id'])}"
                actions = (
                    f'<form class="inline" method="post" action="{base}/settings">'
                    '<button type="submit" class="secondary">Settings</button></form> '
                    f'<form class="inline" method="post" action="{base}/uninstall">'
                    '<button type="submit" class="secondary">Uninstall</button></form>'
                )
            rows.append(
                f'<tr id="{escape(row["installation_id"])}">'
                f"<td><code>{escape(row['installation_id'])}</code></td><td><code>{escape(row['app_id'])}</code>"
                f'</td><td class="status-{escape(status)}">{escape(status)}{_note(row)}</td>'
                f"<td>{escape(_when(row['updated_at']))}</td><td>{actions}</td></tr>"
            )
        parts.append(
            "<table><thead><tr><th>installation</th><th>app</th><th>status</th><th>since</th><th></th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
            '<p class="note">An installation is <em>authorized</em> once the merchant consented, '
            "<em>installed</em> once the app exchanged the code for tokens.</p>"
        )
    return _page("Buy with Prime sandbox console", "".join(parts))


def _note(row: dict[str, Any]) -> str:
    """Why an installation ended, when the merchant did not end it."""
    note = str(row.get("note") or "")
    return f'<br><span class="note">{escape(note)}</span>' if note else ""


def _answer(text: str) -> str:
    """The app's answer: an HTML page shown as a page (in a sandboxed frame: no script, no
    navigation), anything else as text."""
    if text.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        return (
            '<p>The app answered:</p><iframe sandbox="" title="the app\'s answer" '
            f'style="width:100%;height:18rem;border:1px solid #ddd" srcdoc="{escape(text)}"></iframe>'
        )
    return f"<p>The app answered:</p><pre>{escape(text)}</pre>"


def sign_in_page(message: str, console_url: str) -> HTMLResponse:
    """What the authorize endpoint answers when no merchant is signed in (someone opened the
    app's launch URL directly): where to start instead."""
    body = (
        f"<p>{escape(message[:1].upper() + message[1:])}.</p>"
        "<p>A merchant starts an install from the console: pick a merchant there and click Install next to the app.</p>"
        f'<p><a class="button" href="{escape(console_url)}">Open the console</a> '
        f"<code>{escape(console_url)}</code></p>"
    )
    return _page("Sign in to Buy with Prime", body, 401)


def consent_page(sandbox: SandboxState, app_id: str, merchant_id: str | None) -> HTMLResponse:
    """What the merchant agrees to before an install: the app's name, the store it is for and
    what it may read. Allow starts the install; Cancel goes back to the console."""
    try:
        app = sandbox.app(app_id)
        merchant = sandbox.merchant(merchant_id)
    except NotFound as error:
        return _page("Not found", f"<p>{escape(str(error))}</p>", 404)
    name = app_label(app)
    access = "".join(f"<li>{escape(line[:1].upper() + line[1:])}.</li>" for line in APP_ACCESS)
    body = (
        f'<p class="lead"><strong>{escape(name)}</strong> asks to be installed for '
        f"<strong>{escape(merchant['name'])}</strong> (<code>{escape(merchant['merchantId'])}</code>).</p>"
        f'<p>Once installed, {escape(name)} may:</p><ul class="access">{access}</ul>'
        f'<p class="note">App <code>{escape(app["app_id"])}</code>, launch URL '
        f"<code>{escape(app['launch_url'])}</code>. You can remove the app later from the console "
        "(Uninstall), which revokes its access.</p>"
        f'<p><a class="button" href="{escape(install_link(app["app_id"], merchant["merchantId"]))}">Allow</a> '
        f'<a class="button secondary" href="{escape(_console_link(merchant["merchantId"]))}">Cancel</a></p>'
    )
    return _page(f"Install {name}?", body)


def _outcome_page(title: str, outcome: dict[str, Any], merchant_id: str) -> HTMLResponse:
    ok = bool(outcome.get("ok"))
    answer = str(outcome.get("text") or "")
    code = outcome.get("status_code")
    status = f"HTTP {code}" if code is not None else "no answer"
    error = str(outcome.get("error") or "")
    said = f"{status}: {error}" if error and error != status else status  # an HTTP error is its status
    body = (
        f"<p>{escape(str(outcome.get('method', '')))} <code>{escape(str(outcome.get('url', '')))}</code>: "
        f"{escape(said)}</p>"
        + (_answer(answer) if answer else "")
        + f'<p><a class="button" href="{escape(_console_link(merchant_id))}">Back to the console</a></p>'
    )
    return _page(title if ok else f"{title}: the app refused", body, 200 if ok else 502)


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
            return _page("Not found", f"<p>{escape(str(error))}</p>", 404)
        response = RedirectResponse(launch_url, status_code=302)
        response.set_cookie(CONSOLE_COOKIE, session, httponly=True, samesite="lax", path="/")
        return response

    async def _act(installation_id: str, action: str) -> HTMLResponse:
        try:
            installation = console.sandbox.installation(installation_id)
        except NotFound as error:
            return _page("Not found", f"<p>{escape(str(error))}</p>", 404)
        merchant_id = str(installation["merchant_id"])
        if action == "settings":
            outcome = await run_in_threadpool(console.open_settings, installation_id, 20_000)
            return _outcome_page("Settings opened", {"method": "GET", **outcome}, merchant_id)
        try:
            outcome = await run_in_threadpool(console.uninstall, installation_id)
        except ValueError as error:
            return _page("Nothing to uninstall", f"<p>{escape(str(error))}</p>", 409)
        return _outcome_page("Uninstalled", {"method": "POST", **outcome}, merchant_id)

    @router.post(CONSOLE_PATH + "/installations/{installation_id}/settings", response_class=HTMLResponse)
    async def settings(installation_id: str) -> HTMLResponse:
        return await _act(installation_id, "settings")

    @router.post(CONSOLE_PATH + "/installations/{installation_id}/uninstall", response_class=HTMLResponse)
    async def uninstall(installation_id: str) -> HTMLResponse:
        return await _act(installation_id, "uninstall")

    return router
