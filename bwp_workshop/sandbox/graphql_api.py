"""The GraphQL API: ``POST /graphql`` (bearer token and ``X-Omni-InstallationId`` checked),
the schema in ``schema.graphql``, resolvers, and BwP-shaped errors.

Parsing, validation and execution are graphql-core's (through ariadne). Errors come back as
HTTP 200 with ``errors[]`` whose ``extensions.classification`` is ``{type, errorType,
errorCode}``, as Buy with Prime answers.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from ariadne import MutationType, QueryType, make_executable_schema
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from graphql import DocumentNode, GraphQLError, GraphQLSchema, execute_sync, parse, validate
from starlette.concurrency import run_in_threadpool

from .event_source import EventSource, SubscriptionError
from .oauth_server import Caller, OAuthServer
from .sandbox_state import SandboxState

GRAPHQL_PATH = "/graphql"

_log = logging.getLogger(__name__)

#: Error classes: GraphQL ``type`` -> (``errorType``, ``errorCode``).
CLASSIFICATIONS = {
    "AccessDeniedError": ("AccessDeniedException", 403),
    "ValidationError": ("ValidationException", 400),
    "ResourceNotFoundError": ("ResourceNotFoundException", 404),
    "ThrottlingError": ("ThrottlingException", 429),
    "InternalServerError": ("InternalServerException", 500),
    "ConflictError": ("ConflictException", 409),
}


class BwpError(Exception):
    """An error the API reports in ``errors[]`` with its classification."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def classification(kind: str) -> dict[str, Any]:
    error_type, code = CLASSIFICATIONS[kind]
    return {"type": kind, "errorType": error_type, "errorCode": code}


def error_body(kind: str, message: str) -> dict[str, Any]:
    """A whole response with one error and no data (for errors outside execution)."""
    return {"data": None, "errors": [{"message": message, "extensions": {"classification": classification(kind)}}]}


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    original = error.original_error
    if isinstance(original, (BwpError, SubscriptionError)):
        kind = original.kind
    elif original is not None and not isinstance(original, GraphQLError):
        kind = "InternalServerError"
        _log.error("GraphQL resolver failed at %s", error.path, exc_info=original)
    else:  # syntax or validation error found by graphql-core
        kind = "ValidationError"
    known = kind != "InternalServerError" or isinstance(original, SubscriptionError)
    formatted: dict[str, Any] = {"message": error.message if known else "Internal server error"}
    if error.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        formatted["path"] = list(error.path)
    formatted["extensions"] = {"classification": classification(kind)}
    return formatted


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{index}".encode()).decode()


def _offset(after: str | None) -> int:
    if after is None:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
        if kind != "cursor":
            raise ValueError
        return int(number) + 1
    except ValueError:
        raise BwpError("ValidationError", f"Input request is not valid: after {after!r} is not a cursor") from None


def _page(items: list[Any], first: int | None, after: str | None, limit: int) -> dict[str, Any]:
    if first is not None and not 0 <= first <= limit:
        raise BwpError("ValidationError", f"Input request is not valid: first must be between 0 and {limit}")
    start = _offset(after)
    count = limit if first is None else first
    chosen = items[start : start + count]
    edges = [{"cursor": _cursor(start + number), "node": node} for number, node in enumerate(chosen)]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": start + len(chosen) < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
        "totalCount": len(items),
    }


def _rsql_filter(products: list[dict[str, Any]], expression: str | None) -> list[dict[str, Any]]:
    """A small RSQL subset: ``field==value`` terms joined by ``;`` (and) on sku, externalId,
    title, offerPrime."""
    if not expression:
        return products
    fields = {
        "sku": lambda p: p["sku"]["value"],
        "externalId": lambda p: p["externalId"]["value"],
        "title": lambda p: p["title"],
        "offerPrime": lambda p: str(p["offerPrime"]).lower(),
    }
    chosen = products
    for term in expression.split(";"):
        name, operator, value = term.partition("==")
        if not operator or name.strip() not in fields:
            raise BwpError(
                "ValidationError",
                f"Input request is not valid: filter term {term!r} (use field==value with {', '.join(fields)})",
            )
        value = value.strip().strip("'\"")
        getter = fields[name.strip()]
        chosen = [p for p in chosen if str(getter(p)) == value]
    return chosen


def _subscription_node(view: dict[str, Any], target_id: str) -> dict[str, Any]:
    return {
        "id": view["subscriptionId"],
        "subscriptionId": view["subscriptionId"],
        "targetId": target_id,
        "eventSubscriptionDetails": {"eventType": view["eventType"], "destination": {"arn": view["arn"]}},
    }


@cache
def schema() -> GraphQLSchema:
    query, mutation = QueryType(), MutationType()

    @query.field("buyWithPrimeStore")
    def store(_: Any, info: Any) -> dict[str, Any]:
        merchant = info.context["caller"].merchant
        return {
            "siteId": merchant["siteId"],
            "widgetId": merchant["widgetId"],
            "businessProductId": merchant["businessProductId"],
            "name": merchant["name"],
        }

    @query.field("order")
    def order(_: Any, info: Any, orderIdentifier: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        store = info.context["sandbox"].store
        order_id: str | None = orderIdentifier.get("orderId")
        alias: dict[str, Any] = orderIdentifier.get("alias") or {}
        if bool(order_id) == bool(alias):
            raise BwpError(
                "ValidationError",
                "Input request is not valid, the following issues were encountered: "
                "[orderIdentifier needs exactly one of orderId or alias]",
            )
        merchant_id = caller.merchant["merchantId"]
        found = (
            store.order(merchant_id, order_id)
            if order_id
            else store.orders_by_alias(merchant_id, alias["aliasType"], alias["aliasId"])
        )
        if found is None:
            raise BwpError("ResourceNotFoundError", "The requested order was not found")
        return found

    @query.field("product")
    def product(_: Any, info: Any, identifier: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        keys = [key for key, value in identifier.items() if value]
        if len(keys) != 1:
            raise BwpError(
                "ValidationError",
                "Input request is not valid: identifier needs exactly one of sku, externalId, amazonSku",
            )
        key = keys[0]
        wanted = identifier[key]["value"] if key == "amazonSku" else identifier[key]
        for item in caller.merchant["products"]:
            if item[key]["value"] == wanted:
                return item
        raise BwpError("ResourceNotFoundError", "The requested product was not found")

    @query.field("products")
    def products(
        _: Any, info: Any, first: int | None = None, after: str | None = None, filter: str | None = None
    ) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        return _page(_rsql_filter(caller.merchant["products"], filter), first, after, 20)

    @query.field("eventSubscription")
    def event_subscription(_: Any, info: Any, subscriptionId: str) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        view = source.subscription(caller.installation_id, subscriptionId)
        return _subscription_node(view, caller.merchant["businessProductId"])

    @query.field("eventSubscriptions")
    def event_subscriptions(_: Any, info: Any, first: int | None = None, after: str | None = None) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        nodes = [
            _subscription_node(view, caller.merchant["businessProductId"])
            for view in source.subscriptions(caller.installation_id)
        ]
        return _page(nodes, first, after, 1000)

    @mutation.field("createEventSubscription")
    def create_subscription(_: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        view = source.create_subscription(caller.installation_id, input)
        return {"subscriptionId": view["subscriptionId"]}

    @mutation.field("deleteEventSubscription")
    def delete_subscription(_: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        subscription_id = input["subscriptionId"]
        if not 1 <= len(subscription_id) <= 50:
            raise BwpError("ValidationError", "Input request is not valid: subscriptionId must be 1-50 characters")
        return {"subscriptionId": source.delete_subscription(caller.installation_id, subscription_id)}

    sdl = resources.files(__package__).joinpath("schema.graphql").read_text()
    return make_executable_schema(sdl, query, mutation)


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
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [format_error(error) for error in result.errors]
    if result.data is not None or not result.errors:
        body = {"data": result.data, **body}
    return body


def graphql_router(sandbox: SandboxState, oauth: OAuthServer, events: EventSource) -> APIRouter:
    """``POST /graphql``: the caller's access token and installation checked, then the request
    executed (mutations in a worker thread: they may call the local AWS)."""
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
        installation = request.headers.get("x-omni-installationid")
        if not installation:
            return JSONResponse(error_body("AccessDeniedError", "X-Omni-InstallationId header is missing"))
        if installation != caller.installation_id:
            return JSONResponse(
                error_body("AccessDeniedError", "X-Omni-InstallationId does not match the access token")
            )
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
        context = {"caller": caller, "sandbox": sandbox, "events": events}
        if "mutation" in payload["query"]:  # mutations may call the local AWS: keep the loop free
            result = await run_in_threadpool(execute, payload, context)
        else:
            result = execute(payload, context)
        return JSONResponse(result)

    return router
