"""Notebook 05's other destination: Buy with Prime's events to the app's webhook
(steps-to-subscribe-to-buy-with-prime-events-using-webhook-events), offered beside the
EventBridge destination (the default; ``BWP_EVENT_DESTINATION=webhook`` or the notebook's
``event_destination`` parameter chooses the webhook).

1. ``createAuthProfile`` (events-mutations-createauthprofile) with the app's webhook
   credentials (:mod:`bwp_workshop.core.webhook_auth`: the client id, and a secret derived from
   the client secret): OAuth 2.0 client credentials against the app's token endpoint, or HTTP
   basic. The profile's alias is derived from the client id and the installation, so running
   this again finds it, and updates it (events-mutations-updateauthprofile) to a rotated secret.
2. ``createEventSubscription`` per event type with ``{webhook: {url, method: POST,
   authProfileId}}`` (create-and-delete-event-subscriptions); the url is the app's
   ``/webhooks/events`` (HTTPS on aws: InfraStack's base URL).
3. The registration (:mod:`bwp_workshop.core.event_subscriptions`) names the webhook and its
   kind of auth profile (no secret), so a merchant who installs the app later is subscribed by
   the app to the webhook too, with a profile the app makes from its own client credentials.

The app puts each event it receives on EventStack's webhook bus, whose rule sends it to the same
queue and handler as the partner bus's (``bwp_workshop.stacks.webhook_bus``).
"""

from __future__ import annotations

from .. import aws, names
from ..core import event_subscriptions, webhook_auth
from ..core.webhook_auth import AuthKind
from ..errors import ConfigurationError
from ..settings import Settings
from ..targets import choose_target
from . import registration, subscriptions
from .api import session

__all__ = ["AuthKind"]


def wants_webhook(settings: Settings, event_destination: str | None = None) -> bool:
    """Whether the webhook destination is chosen (the notebook's parameter, else the setting)."""
    chosen = event_destination or settings.event_destination
    if chosen not in names.EVENT_DESTINATIONS:
        raise ConfigurationError(
            f"Unknown event destination {chosen!r}.", hint=f"Choose one of {', '.join(names.EVENT_DESTINATIONS)}."
        )
    return chosen == "webhook"


def token_endpoint(settings: Settings) -> str:
    """The app's token endpoint, an OAuth auth profile's ``authEndpoint``."""
    return registration.app_base_url(settings) + names.WEBHOOK_TOKEN_PATH


def profile_alias(settings: Settings, kind: AuthKind, installation_id: str | None = None) -> str:
    """The installation's profile alias (not secret: a hash), so a run again finds the profile."""
    client_id, _ = settings.require_client_credentials()
    return webhook_auth.profile_alias(client_id, kind, str(installation_id or settings.installation_id))


def webhook_registration(
    settings: Settings,
    event_types: tuple[str, ...] | list[str] = names.SUBSCRIBED_EVENT_TYPES,
    kind: AuthKind = "oauth",
) -> event_subscriptions.Registration:
    """Every installation subscribed to ``event_types`` at the app's webhook, each with its own
    auth profile of ``kind`` (no secret: the subscriber makes it from the app's credentials)."""
    auth = {"kind": kind, **({"authEndpoint": token_endpoint(settings)} if kind == "oauth" else {})}
    return event_subscriptions.Registration(
        tuple(event_types), (event_subscriptions.webhook_destination(webhook_url(settings)),), auth
    )


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
    ours = event_subscriptions.subscribe(
        session(settings, installation_id),
        webhook_registration(settings, event_types, kind),
        credentials=settings.require_client_credentials(),
        installation_id=str(installation_id or settings.installation_id),
    )
    subscriptions.record_business_products(ours, settings, installation_id)
    return ours


def subscribe_chosen_destination(
    settings: Settings, event_destination: str | None = None, installation_id: str | None = None
) -> list[dict[str, str]]:
    """Notebook 05: with the webhook destination chosen, the installation's events move to the
    webhook: its webhook subscriptions are made, then its EventBridge subscriptions (made above)
    deleted, so each event reaches the app by one path, and the webhook registered for the
    merchants who install later; the webhook subscriptions. With EventBridge chosen: none."""
    if not wants_webhook(settings, event_destination):
        return []
    made = subscribe_webhook(settings=settings, installation_id=installation_id)
    subscriptions.unsubscribe_events(settings, installation_id)
    # Merchants who install from now on get the webhook too (the app reads the registration).
    event_subscriptions.write_registration(
        aws.client("ssm", settings), names.EVENT_DESTINATION_PARAMETER, webhook_registration(settings)
    )
    return made


def unsubscribe_webhook(
    settings: Settings,
    registration: event_subscriptions.Registration | None,
    installation_id: str | None = None,
) -> int:
    """Notebook 99: delete the installation's webhook subscriptions and its auth profile
    (events-mutations-deleteauthprofile) when ``registration`` (05's) is the webhook; how many
    subscriptions."""
    if registration is None or registration.webhook_auth is None:
        return 0
    client_id, _ = settings.require_client_credentials()
    profile = event_subscriptions.webhook_profile(
        registration, client_id, str(installation_id or settings.installation_id)
    )
    run = session(settings, installation_id)
    webhooks = [d for d in registration.destinations if event_subscriptions.WEBHOOK in d]
    deleted = event_subscriptions.unsubscribe(run, webhooks)
    event_subscriptions.delete_auth_profile(run, str(profile))
    return deleted
