"""The GraphQL API: ``POST /graphql`` (the bearer token, the caller's installation and the API
version checked), the schema in ``schema.graphql`` with its resolvers (``resolvers.py``), and
errors as Buy with Prime answers them (``api_errors.py``).

Parsing, validation and execution are graphql-core's (through ariadne).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from graphql import DocumentNode, GraphQLError, execute_sync, parse, validate
from starlette.concurrency import run_in_threadpool

from ..core.graphql import INSTALLATION_HEADER, TARGET_HEADER, VERSION_HEADER
from .api_errors import BwpError, access_denied, body_of, classification, error_body, invalid_input
from .event_source import EventSource
from .oauth_server import Caller, OAuthServer
from .orders import Orders
from .resolvers import schema
from .shared import Sandbox

GRAPHQL_PATH = "/graphql"

_log = logging.getLogger(__name__)


def format_error(error: GraphQLError) -> dict[str, Any]:
    """One entry of ``errors[]``: message, locations, path and the classification."""
    original = error.original_error
    code: str | None = None
    if isinstance(original, BwpError):
        kind, code = original.kind, original.code
    elif original is not None and not isinstance(original, GraphQLError):
        kind = "InternalServerError"
        _log.error("GraphQL resolver failed at %s", error.path, exc_info=original)
    else:  # syntax or validation error found by graphql-core
        kind = "ValidationError"
    known = kind != "InternalServerError" or isinstance(original, BwpError)
    formatted: dict[str, Any] = {"message": error.message if known else "Internal server error"}
    if error.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        formatted["path"] = list(error.path)
    formatted["extensions"] = {"classification": classification(kind, code)}
    return formatted


@lru_cache(maxsize=512)
def _document(query: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    """The parsed and validated document of ``query``, or the errors that stop it. Cached:
    validation depends only on the schema and the text, and it is most of the cost of a
    small query."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return None, (error,)
    errors = validate(schema(), document)
    return (None, tuple(errors)) if errors else (document, ())


def execute(payload: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Run one GraphQL request body (a dict with ``query``, ``variables``, ``operationName``);
    the response body."""
    document, errors = _document(payload["query"])
    if document is None:
        return {"errors": [format_error(error) for error in errors]}
    result = execute_sync(
        schema(),
        document,
        context_value=context,
        variable_values=payload.get("variables") or None,
        operation_name=payload.get("operationName"),
    )
    if isinstance(result, Awaitable):  # no resolver here is async
        raise TypeError("asynchronous resolvers are not supported")
    # An executed request always answers data, null when an error reached a non-null root
    # field (events-mutations-createeventsubscription, the invalid-region example).
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [format_error(error) for error in result.errors]
    return body


#: The API versions this sandbox serves, newest first (call-the-buy-with-prime-api lists
#: 2024-01-01, 2024-04-01 and 2024-11-01; the schema here is 2024-11-01's). A call without
#: ``x-api-version`` is answered in the newest: no page says what BwP does then.
SERVED_VERSIONS = ("2024-11-01",)


def _refusal(request: Request, caller: Caller) -> JSONResponse | None:
    """Why the headers do not name the caller's installation or a served version, as the
    answer to send; None when they do. call-the-buy-with-prime-api documents
    ``x-api-target-id`` (the business product) and ``x-api-version``; the partner app model
    names the installation in ``X-Omni-InstallationId`` (peer: amzn/buy-with-prime-saas-integration).
    Either names the caller; when both are sent, both must."""
    version = request.headers.get(VERSION_HEADER)
    if version is not None and version not in SERVED_VERSIONS:
        served = ", ".join(SERVED_VERSIONS)
        refused = invalid_input(f"{VERSION_HEADER} {version!r} is not served by this sandbox; it serves {served}")
        return JSONResponse(body_of(refused), status_code=400)
    target = request.headers.get(TARGET_HEADER)
    installation = request.headers.get(INSTALLATION_HEADER)
    if target is None and installation is None:
        reason = f"name the business product in {TARGET_HEADER} (or the installation in {INSTALLATION_HEADER})"
        return JSONResponse(body_of(access_denied(reason)))
    if target is not None and target != caller.merchant["businessProductId"]:
        return JSONResponse(body_of(access_denied(f"{TARGET_HEADER} is not the business product of the access token")))
    if installation is not None and installation != caller.installation_id:
        reason = f"{INSTALLATION_HEADER} is not the installation of the access token"
        return JSONResponse(body_of(access_denied(reason)))
    return None


def graphql_router(sandbox: Sandbox, oauth: OAuthServer, events: EventSource, orders: Orders) -> APIRouter:
    """``POST /graphql``: the caller's access token, its installation and the API version
    checked, then the request executed (mutations in a worker thread: they may call the local
    AWS)."""
    router = APIRouter()

    @router.post(GRAPHQL_PATH, response_model=None)
    async def graphql(request: Request) -> JSONResponse:
        authorization = request.headers.get("authorization", "")
        scheme, _, access_token = authorization.partition(" ")
        status = sandbox.config.graphql_auth_error_status
        bearer = {"WWW-Authenticate": 'Bearer realm="bwp-sandbox", error="invalid_token"'}
        if scheme.lower() != "bearer" or not access_token.strip():
            return JSONResponse(
                error_body("AccessDeniedError", "Missing bearer token (Authorization: Bearer <access token>)"),
                status_code=status,
                headers={"WWW-Authenticate": 'Bearer realm="bwp-sandbox"'},
            )
        try:
            caller = oauth.caller(access_token.strip())
        except PermissionError as error:
            return JSONResponse(error_body("AccessDeniedError", str(error)), status_code=status, headers=bearer)
        refusal = _refusal(request, caller)
        if refusal is not None:
            return refusal
        try:
            payload = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse(error_body("ValidationError", "The body must be JSON"), status_code=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return JSONResponse(
                error_body("ValidationError", 'The body must be a JSON object with a "query" string'), status_code=400
            )
        if payload.get("variables") is not None and not isinstance(payload["variables"], dict):
            return JSONResponse(error_body("ValidationError", '"variables" must be a JSON object'), status_code=400)
        if payload.get("operationName") is not None and not isinstance(payload["operationName"], str):
            return JSONResponse(error_body("ValidationError", '"operationName" must be a string'), status_code=400)
        context = {"caller": caller, "sandbox": sandbox, "events": events, "orders": orders}
        if "mutation" in payload["query"]:  # mutations may call the local AWS: keep the loop free
            result = await run_in_threadpool(execute, payload, context)
        else:
            result = execute(payload, context)
        return JSONResponse(result)

    return router
