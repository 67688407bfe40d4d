"""Errors of the GraphQL API as Buy with Prime answers them: HTTP 200 with ``errors[]``, each
with ``message``, ``locations``, ``path`` and ``extensions.classification``.

The classification is ``{type, errorType, errorCode}`` (events-queries-eventsubscription,
events-queries-eventsubscriptions: ``AccessDeniedError`` / ``AccessDeniedException`` / 403),
plus the documented ``code`` where a page names one (troubleshoot-events:
``ValidationError`` with ``DestinationNameAlreadyExists`` or ``SubscriptionAlreadyExists``).
Pages: documents.buywithprime.amazon.com/bwp-api/docs/<slug>.
"""

from __future__ import annotations

from typing import Any

#: Error classes: GraphQL ``type`` -> (``errorType``, ``errorCode``). The pages show the
#: AccessDenied and Validation triples; the other types are named by the troubleshooting pages
#: (troubleshoot-events, troubleshoot-order-errors), and their ``errorType``/``errorCode`` follow
#: the same pattern (an inference: no page shows them whole).
CLASSIFICATIONS = {
    "AccessDeniedError": ("AccessDeniedException", 403),
    "ValidationError": ("ValidationException", 400),
    "ResourceNotFoundError": ("ResourceNotFoundException", 404),
    "ThrottlingError": ("ThrottlingException", 429),
    "InternalServerError": ("InternalServerException", 500),
    "ConflictError": ("ConflictException", 409),
}

#: The message BwP gives every AccessDeniedError (events-queries-eventsubscription).
ACCESS_DENIED = "You do not have sufficient access to perform this action."
#: How BwP opens a ValidationError's message (the region example on the events pages).
INVALID_INPUT = "Input request is not valid, the following issues were encountered: "


class BwpError(Exception):
    """An error the API reports in ``errors[]``: its ``kind`` (the classification's ``type``),
    its message, and the documented ``code`` when there is one."""

    def __init__(self, kind: str, message: str, code: str | None = None) -> None:
        if kind not in CLASSIFICATIONS:
            raise ValueError(f"unknown error type {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.code = code


def access_denied(reason: str) -> BwpError:
    """AccessDeniedError with BwP's message, and the sandbox's reason after it."""
    return BwpError("AccessDeniedError", f"{ACCESS_DENIED} ({reason})")


def invalid_input(*issues: str, code: str | None = None) -> BwpError:
    """ValidationError with BwP's message listing the issues."""
    return BwpError("ValidationError", f"{INVALID_INPUT}[{'; '.join(issues)}]", code)


def classification(kind: str, code: str | None = None) -> dict[str, Any]:
    """``extensions.classification`` of an error. A ValidationError always has a ``code`` (the
    documented one, else ``ValidationError``) and ``details`` (events-mutations-createeventsubscription,
    the invalid-region example); other types have a ``code`` only when one is named."""
    error_type, error_code = CLASSIFICATIONS[kind]
    found: dict[str, Any] = {"type": kind}
    if kind == "ValidationError":
        found.update(code=code or kind, details={})
    elif code:
        found["code"] = code
    found.update(errorType=error_type, errorCode=error_code)
    return found


def error_body(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
    """A whole response with one error and no data (for errors outside execution)."""
    return {
        "data": None,
        "errors": [{"message": message, "extensions": {"classification": classification(kind, code)}}],
    }


def body_of(error: BwpError) -> dict[str, Any]:
    """The whole response of one error raised outside execution."""
    return error_body(error.kind, str(error), error.code)
