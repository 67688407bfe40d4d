"""Request dependencies, as ``Annotated`` aliases a route names in its signature.

* :data:`ServicesDep`: the app's :class:`~oauth_app.services.Services`.
* :data:`CredentialsRequired` (a route's ``dependencies``): refuses with 503 while the app has
  no client credentials.
* :data:`VerifiedDep`: the request's verification token checked against the URL Buy with
  Prime called (:func:`bwp_workshop.core.verification.verify`): 401 without a token, 403 for
  a bad one, 503 without a verification key, 400 for an installation id the app cannot use.
* :data:`VerifiedWithBodyDep`: the same over the raw body too, read up to :data:`MAX_BODY`
  bytes (413 beyond, whatever the request declares).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from bwp_workshop.core.verification import TOKEN_PARAMETER, VerificationError, VerifiedRequest, verify
from bwp_workshop.names import OAUTH_STATE_PREFIX

from ..errors import Refusal
from ..services import Services

#: Longest installation id and request body accepted (DynamoDB keys stop at 2 KiB).
MAX_INSTALLATION_ID = 256
MAX_BODY = 64 * 1024

TokenQuery = Annotated[str | None, Query(alias=TOKEN_PARAMETER)]
TokenHeader = Annotated[str | None, Header(alias=TOKEN_PARAMETER)]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_client_credentials(services: ServicesDep) -> None:
    if not services.config.has_client_credentials:
        raise Refusal(
            503,
            "not_configured",
            "the app has no client credentials (BWP_CLIENT_ID, BWP_CLIENT_SECRET): set them from the app "
            "registration and restart the app",
        )


CredentialsRequired = Depends(require_client_credentials)


def _verified(services: Services, request: Request, token: str | None, body: bytes | None) -> VerifiedRequest:
    try:
        checked = verify(
            token, public_key_pem=services.config.public_key, url=services.external_url(request), body=body
        )
    except VerificationError as exc:
        status = {"missing_token": 401, "no_key": 503}.get(exc.code, 403)
        raise Refusal(status, exc.code, exc.reason) from None
    iid = checked.installation_id
    if len(iid) > MAX_INSTALLATION_ID or iid.startswith(OAUTH_STATE_PREFIX) or not iid.isprintable():
        raise Refusal(400, "invalid_installation_id", "the verification token names an unusable installationId")
    return checked


def verified_request(
    request: Request, services: ServicesDep, token_query: TokenQuery = None, token_header: TokenHeader = None
) -> VerifiedRequest:
    """The verified request (a request without a body)."""
    return _verified(services, request, token_query or token_header, None)


async def bounded_body(request: Request) -> bytes:
    """The raw body, at most :data:`MAX_BODY` bytes (read no further, whatever is declared)."""
    too_large = Refusal(413, "body_too_large", f"the body is larger than {MAX_BODY} bytes")
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    body = b""
    async for chunk in request.stream():  # at most MAX_BODY (+ one chunk) is read
        body += chunk
        if len(body) > MAX_BODY:
            raise too_large
    return body


def verified_request_with_body(
    request: Request,
    services: ServicesDep,
    body: Annotated[bytes, Depends(bounded_body)],
    token_query: TokenQuery = None,
    token_header: TokenHeader = None,
) -> VerifiedRequest:
    """The verified request, its raw body part of the request hash."""
    return _verified(services, request, token_query or token_header, body)


VerifiedDep = Annotated[VerifiedRequest, Depends(verified_request)]
VerifiedWithBodyDep = Annotated[VerifiedRequest, Depends(verified_request_with_body)]
