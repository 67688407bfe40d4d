"""The few HTML pages the app shows a merchant: small, static, every value escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

APP_NAME = "SupaDupa Analytics"

_STYLE = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}dt{font-weight:600}"


def page(title: str, body_html: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body_html}</body></html>\n"
    )


def when(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def landing() -> str:
    return page(
        f"{APP_NAME} for Buy with Prime",
        "<p>This service connects Buy with Prime stores to "
        f"{APP_NAME}. Install the app from the Buy with Prime console.</p>",
    )


def installed(installation_id: str, console_url: str) -> str:
    """The end of an install: links back to the console, and to the installation's row there
    (its id as the fragment), where Buy with Prime opens the app's settings: the settings URL
    needs Buy with Prime's signature, so the app cannot link to it itself."""
    return page(
        f"{APP_NAME} is installed",
        f"<p>The app is installed for installation <code>{escape(installation_id)}</code>.</p>"
        f'<p><a href="{escape(console_url)}">Back to the Buy with Prime console</a></p>'
        f'<p><a href="{escape(console_url)}#{escape(installation_id)}">Open the app\'s settings</a> '
        "(from the console: the Settings button next to this installation)</p>",
    )


def settings(installation_id: str, installed_at: int, updated_at_ms: int, expires_at: int) -> str:
    rows = {
        "Installation": f"<code>{escape(installation_id)}</code>",
        "Installed since": escape(when(installed_at)),
        "Last token refresh": escape(when(updated_at_ms / 1000)),
        "Access token valid until": escape(when(expires_at)),
    }
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows.items())
    return page(f"{APP_NAME} settings", f"<dl>{items}</dl>")


def error(status: int, code: str, reason: str) -> str:
    return page(
        "The request could not be completed",
        f"<p>{escape(reason)}</p><p>HTTP {status}, <code>{escape(code)}</code></p>",
    )
