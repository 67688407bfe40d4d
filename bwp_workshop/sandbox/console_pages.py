"""The partner console's HTML pages (:mod:`.console` routes to them): the console with the
registered apps, the seeded merchants and the merchant's installations, the consent page, the
sign-in page and the outcome of a settings or uninstall call.

Every value a page shows is escaped; no script runs on these pages. Every page answers with
``Cache-Control: no-store``: they change with each install, so the browser's Back button
reloads them rather than showing an old copy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

from .config import CONSOLE_CONSENT_PATH, CONSOLE_INSTALL_PATH, CONSOLE_PATH
from .shared import NotFound, Sandbox

#: What an installed app may do with a merchant's store, as the consent page says it: the
#: queries and mutations of the sandbox's GraphQL API (``schema.graphql``).
APP_ACCESS: tuple[str, ...] = (
    "read your store: its name, site, widget and business product",
    "read your orders and your products",
    "create and delete event subscriptions, so your store's order and catalog events reach the app",
)
#: The pages change with every install and uninstall: never served from the browser's cache.
NO_STORE = {"Cache-Control": "no-store"}


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


def page(title: str, body_html: str, status: int = 200) -> HTMLResponse:
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


def console_page(sandbox: Sandbox, merchant_id: str | None) -> HTMLResponse:
    merchants = sandbox.db.merchants()
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
    return page("Buy with Prime sandbox console", "".join(parts))


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
    return page("Sign in to Buy with Prime", body, 401)


def consent_page(sandbox: Sandbox, app_id: str, merchant_id: str | None) -> HTMLResponse:
    """What the merchant agrees to before an install: the app's name, the store it is for and
    what it may read. Allow starts the install; Cancel goes back to the console."""
    try:
        app = sandbox.app(app_id)
        merchant = sandbox.merchant(merchant_id)
    except NotFound as error:
        return page("Not found", f"<p>{escape(str(error))}</p>", 404)
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
    return page(f"Install {name}?", body)


def outcome_page(title: str, outcome: dict[str, Any], merchant_id: str) -> HTMLResponse:
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
    return page(title if ok else f"{title}: the app refused", body, 200 if ok else 502)
