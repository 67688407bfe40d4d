"""Every refusal and error of the app as a response, in one place.

A request the app will not serve raises :class:`Refusal` (``status``, a stable ``code``, a
``reason`` that says what to do, never a secret); :func:`add_error_handlers` maps it, the
validation and routing errors of FastAPI and the DynamoDB errors the stores did not translate
to ``{"error": code, "reason": text}`` (or an HTML page for browsers), and logs the method,
path, status and reason: never a query string, a token, a code, a verifier or a secret.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import log, pages, printable


class Refusal(Exception):
    """A request the app will not serve: ``status``, a stable ``code`` and a ``reason`` that
    says what to do; never a secret."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


def table_unavailable(message: str) -> Refusal:
    """The token (or business product) table refused or could not be reached."""
    return Refusal(503, "table_unavailable", f"{message}; nothing was stored, try again")


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with each of ``secrets`` (4 characters or more) replaced."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def refusal_response(request: Request, refusal: Refusal) -> Response:
    """The response (JSON, or HTML for a browser) and the log line of a refusal."""
    log.warning(
        "%s %s refused %d %s: %s",
        request.method,
        printable(request.url.path),
        refusal.status,
        refusal.code,
        printable(refusal.reason),
    )
    if _wants_html(request):
        return HTMLResponse(pages.error(refusal.status, refusal.code, refusal.reason), status_code=refusal.status)
    return JSONResponse({"error": refusal.code, "reason": refusal.reason}, status_code=refusal.status)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return refusal_response(request, exc)


async def _table_unreachable(request: Request, exc: Exception) -> Response:
    # DynamoDB errors the stores did not translate (no connection, no credentials...).
    return refusal_response(
        request,
        Refusal(
            503,
            "table_unavailable",
            f"the app's tables could not be reached ({type(exc).__name__}); nothing was stored, try again",
        ),
    )


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = sorted({".".join(str(p) for p in error.get("loc", ())) for error in exc.errors()})
    return refusal_response(request, Refusal(400, "invalid_request", f"invalid request fields: {', '.join(fields)}"))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    reason = {404: "no such page", 405: "method not allowed here"}.get(exc.status_code, str(exc.detail))
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    response = refusal_response(request, Refusal(exc.status_code, code, reason))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def add_error_handlers(app: FastAPI) -> None:
    """Answer every refusal and error of ``app`` as above."""
    app.add_exception_handler(Refusal, _refused)
    app.add_exception_handler(BotoCoreError, _table_unreachable)
    app.add_exception_handler(ClientError, _table_unreachable)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
