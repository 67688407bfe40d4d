"""Notebook 05's other destination: Buy with Prime's events to the app's webhook
(steps-to-subscribe-to-buy-with-prime-events-using-webhook-events), offered beside the
EventBridge destination (the default; ``BWP_EVENT_DESTINATION=webhook`` or the notebook's
``event_destination`` parameter chooses the webhook).

1. ``createAuthProfile`` (events-mutations-createauthprofile) with the app's webhook
   credentials (:mod:`bwp_workshop.core.webhook_auth`: the client id, and a secret derived from
   the client secret): OAuth 2.0 client credentials against the app's token endpoint, or HTTP
   basic. The profile's alias is derived from those credentials, so running this again reuses it
   and a rotated client secret makes a new one.
2. ``createEventSubscription`` per event type with ``{webhook: {url, method: POST,
   authProfileId}}`` (create-and-delete-event-subscriptions); the url is the app's
   ``/webhooks/events`` (HTTPS on aws: InfraStack's base URL).

The app puts each event it receives on EventStack's webhook bus, whose rule sends it to the same
queue and handler as the partner bus's (``bwp_workshop.stacks.webhook_bus``).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from .. import names
from ..core import webhook_auth
from ..core.graphql import SUBSCRIPTION_ALREADY_EXISTS, GraphQLError
from ..errors import ConfigurationError
from ..settings import Settings
from ..targets import choose_target
from . import registration, subscriptions
from .api import session

#: events-mutations-createauthprofile
CREATE_AUTH_PROFILE = """
mutation CreateAuthProfile($input: CreateAuthProfileInput!) {
  createAuthProfile(input: $input) { authProfileId }
}
"""

AuthKind = Literal["oauth", "basic"]


def wants_webhook(settings: Settings, event_destination: str | None = None) -> bool:
    """Whether the webhook destination is chosen (the notebook's parameter, else the setting)."""
    chosen = event_destination or settings.event_destination
    if chosen not in names.EVENT_DESTINATIONS:
        raise ConfigurationError(
            f"Unknown event destination {chosen!r}.", hint=f"Choose one of {', '.join(names.EVENT_DESTINATIONS)}."
        )
    return chosen == "webhook"


def auth_config(settings: Settings, kind: AuthKind = "oauth") -> dict[str, Any]:
    """The ``authConfig`` of the app's webhook credentials (holds the webhook secret: never print it)."""
    client_id, client_secret = settings.require_client_credentials()
    secret = webhook_auth.webhook_secret(client_secret)
    if kind == "basic":
        return {"basicAuthConfig": {"username": client_id, "password": secret}}
    return {
        "oAuthConfig": {
            "clientParameters": {"clientId": client_id, "clientSecret": secret},
            "authEndpoint": registration.app_base_url(settings) + names.WEBHOOK_TOKEN_PATH,
            "httpMethod": "POST",
        }
    }


def profile_alias(settings: Settings, kind: AuthKind) -> str:
    """An alias that names these credentials (not secret: a hash), so a run again reuses the profile."""
    client_id, client_secret = settings.require_client_credentials()
    digest = hashlib.sha256(f"{kind}\0{client_id}\0{webhook_auth.webhook_secret(client_secret)}".encode()).hexdigest()
    return f"bwp-workshop-{kind}-{digest[:16]}"


def ensure_auth_profile(settings: Settings, installation_id: str | None = None, kind: AuthKind = "oauth") -> str:
    """The id of the auth profile with the app's webhook credentials (made when missing)."""
    alias = profile_alias(settings, kind)
    run = session(settings, installation_id)
    try:
        data = run(
            CREATE_AUTH_PROFILE, {"input": {"authProfileAliasId": alias, "authConfig": auth_config(settings, kind)}}
        )
    except GraphQLError as error:
        if error.error_type == "ValidationError" and alias in str(error):  # made by an earlier run
            return alias
        raise
    return str(data["createAuthProfile"]["authProfileId"])


def webhook_url(settings: Settings) -> str:
    """The app's webhook as Buy with Prime calls it; HTTPS on aws."""
    url = registration.app_base_url(settings) + names.WEBHOOK_PATH
    if choose_target(settings).requires_https and not url.startswith("https://"):
        raise ConfigurationError(
            f"The app's webhook {url} is not HTTPS; Buy with Prime delivers only to HTTPS endpoints.",
            hint="Deploy InfraStack with HTTPS (its CloudFront front or a certificate), then run this again.",
        )
    return url


def subscribe_webhook(
    event_types: tuple[str, ...] | list[str] = names.SUBSCRIBED_EVENT_TYPES,
    *,
    settings: Settings,
    installation_id: str | None = None,
    kind: AuthKind = "oauth",
) -> list[dict[str, str]]:
    """Subscribe the installation to each event type with the app's webhook as destination (types
    already subscribed to a webhook are left alone); its webhook subscriptions."""
    url = webhook_url(settings)
    profile = ensure_auth_profile(settings, installation_id, kind)

    def webhook_subscriptions() -> list[dict[str, str]]:
        # A listing shows a destination by ARN, or (another kind) by its type name.
        found = subscriptions.subscriptions(settings, installation_id)
        return [subscription for subscription in found if not subscription["destination"].startswith("arn:")]

    existing = {subscription["event_type"] for subscription in webhook_subscriptions()}
    run = session(settings, installation_id)
    for event_type in event_types:
        if event_type in existing:
            continue
        destination = {"webhook": {"url": url, "method": "POST", "authProfileId": profile}}
        try:
            run(subscriptions.CREATE_SUBSCRIPTION, {"input": {"eventType": event_type, "destination": destination}})
        except GraphQLError as error:
            if error.code != SUBSCRIPTION_ALREADY_EXISTS:
                raise
    ours = webhook_subscriptions()
    subscriptions.record_business_products(ours, settings, installation_id)
    return ours


def subscribe_chosen_destination(
    settings: Settings, event_destination: str | None = None, installation_id: str | None = None
) -> list[dict[str, str]]:
    """Notebook 05: with the webhook destination chosen, the installation's events move to the
    webhook: its webhook subscriptions are made, then its EventBridge subscriptions (made above)
    deleted, so each event reaches the app by one path; the webhook subscriptions. With
    EventBridge chosen: none."""
    if not wants_webhook(settings, event_destination):
        return []
    made = subscribe_webhook(settings=settings, installation_id=installation_id)
    subscriptions.unsubscribe_events(settings, installation_id)
    return made
