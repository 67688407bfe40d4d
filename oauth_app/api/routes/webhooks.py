"""The webhook Buy with Prime delivers events to (steps-to-subscribe-to-buy-with-prime-events-using-webhook-events),
and the token endpoint of its OAuth auth profile (events-mutations-createauthprofile).

* ``POST /webhooks/token``: the client credentials grant (RFC 6749 4.4); the client (the app's
  client id and the webhook secret, :mod:`bwp_workshop.core.webhook_auth`) authenticates with
  HTTP basic or in the form. Answers a bearer token for the webhook.
* ``POST /webhooks/events``: one event, the 2024-11-01 payload as the body, with
  ``Authorization: Basic`` or ``Bearer``. A request without valid credentials is refused with
  401 and nothing is put anywhere. A valid one is put on EventStack's webhook bus
  (``BWP_WEBHOOK_EVENT_BUS``) with the source ``names.WEBHOOK_EVENT_SOURCE``, the event type as
  ``DetailType`` and the payload as ``Detail``: what an EventBridge destination delivers, so the
  same queue, Lambda and record key serve both paths, and an event that came both ways is
  stored once (its ``eventId``). 503 when the bus cannot take it, so Buy with Prime retries.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bwp_workshop import names
from bwp_workshop.core import webhook_auth
from bwp_workshop.core.events import MalformedEvent, check_identifier

from ... import log, printable
from ...errors import Refusal
from ..deps import ServicesDep, bounded_body

router = APIRouter()

Body = Annotated[bytes, Depends(bounded_body)]
Authorization = Annotated[str, Header()]


def _credentials_configured(services: ServicesDep) -> None:
    if not services.webhook_secret or not services.config.client_id:
        raise Refusal(503, "not_configured", "the app has no client credentials, so no webhook credentials")


@router.post(names.WEBHOOK_TOKEN_PATH, summary="Token endpoint of the webhook's auth profile")
async def token(services: ServicesDep, body: Body, authorization: Authorization = "") -> JSONResponse:
    _credentials_configured(services)
    form = dict(parse_qsl(body.decode("utf-8", "replace")))
    if form.get("grant_type") != "client_credentials":
        raise Refusal(400, "unsupported_grant_type", "grant_type must be client_credentials")
    pair = webhook_auth.basic_pair(authorization) if authorization else None
    if pair is None and "client_id" in form:
        pair = (form.get("client_id", ""), form.get("client_secret", ""))
    if not webhook_auth.pair_matches(pair, services.config.client_id, services.webhook_secret):
        raise Refusal(401, "invalid_client", "the client id or secret of the webhook's auth profile is wrong")
    answer = {
        "access_token": webhook_auth.issue_token(services.webhook_secret),
        "token_type": "Bearer",
        "expires_in": webhook_auth.TOKEN_TTL_S,
    }
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


def _authorized(services: ServicesDep, authorization: str) -> bool:
    secret = services.webhook_secret
    token = webhook_auth.bearer(authorization)
    if token is not None:
        return webhook_auth.token_valid(secret, token)
    return webhook_auth.pair_matches(webhook_auth.basic_pair(authorization), services.config.client_id, secret)


def _event_entry(body: bytes, bus: str) -> tuple[str, str, dict[str, Any]]:
    """(event id, event type, PutEvents entry) of a 2024-11-01 payload, or a 400 refusal."""
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("the body is not a JSON object")
        event_id, event_type = payload.get("eventId"), payload.get("eventDescriptor")
        if not isinstance(event_id, str) or not isinstance(event_type, str) or not event_id or not event_type:
            raise ValueError("eventId and eventDescriptor must be strings")
        check_identifier(event_id, "eventId")
        check_identifier(event_type, "eventDescriptor")
    except (ValueError, MalformedEvent) as exc:
        raise Refusal(400, "invalid_event", f"not a Buy with Prime 2024-11-01 event: {exc}") from None
    entry = {
        "EventBusName": bus,
        "Source": names.WEBHOOK_EVENT_SOURCE,
        "DetailType": event_type,
        "Detail": body.decode(),
    }
    return event_id, event_type, entry


@router.post(names.WEBHOOK_PATH, summary="Webhook of the event subscriptions", status_code=202)
async def receive(services: ServicesDep, body: Body, authorization: Authorization = "") -> dict[str, Any]:
    _credentials_configured(services)
    if not _authorized(services, authorization):
        raise Refusal(401, "unauthorized", "the webhook takes the credentials of its auth profile")
    if services.events is None:
        raise Refusal(503, "not_configured", f"no event bus for the webhook: set {names.ENV_WEBHOOK_EVENT_BUS}")
    event_id, event_type, entry = _event_entry(body, services.config.webhook_event_bus)
    try:
        answer = await run_in_threadpool(services.events.put_events, Entries=[entry])
    except Exception as exc:  # the bus could not be reached: Buy with Prime delivers again
        reason = f"the event bus did not take the event ({type(exc).__name__})"
        raise Refusal(503, "event_bus_unavailable", reason) from None
    if answer.get("FailedEntryCount"):
        code = printable(str(answer["Entries"][0].get("ErrorCode", "")))
        raise Refusal(503, "event_bus_unavailable", f"the event bus did not take the event ({code})")
    log.info("webhook event %s (%s) put on the event bus", printable(event_id), printable(event_type))
    return {"accepted": event_id}
