"""Every installed merchant is a tenant: an install subscribes the merchant to the app's event
destinations, as a partner app does when a merchant installs it, and records the merchant's
business product (each subscription's ``targetId``, events-queries-eventsubscription) so the
event handler finds the installation of events that name only their business product; an
uninstall deletes the merchant's subscriptions (create-and-delete-event-subscriptions) and its
webhook auth profile, if it has one (events-mutations-deleteauthprofile).

The destinations and event types are the registration notebook 05 writes
(:mod:`bwp_workshop.core.event_subscriptions`): its EventBridge destination, or, when 05 chose
the webhook, the app's webhook, with an auth profile the app makes for the merchant from its own
client credentials (events-mutations-createauthprofile; the registration holds no secret).
Neither step ever fails an install or an uninstall: the token pair is what the merchant
installed; a subscription that could not be made is logged with its reason, and notebook 05
subscribes every installation it finds without one.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bwp_workshop.core import event_subscriptions
from bwp_workshop.core.business_products import BusinessProductMapError
from bwp_workshop.core.graphql import GraphQLError
from bwp_workshop.core.token_table import TokenTableError
from bwp_workshop.core.tokens import TokenEndpointError

from . import log
from .services import Services

#: A token that expires sooner than this is refreshed before an uninstall's calls.
TOKEN_MARGIN_SECONDS = 60.0
_FAILURES = (GraphQLError, BusinessProductMapError, TokenTableError, TokenEndpointError, ClientError, BotoCoreError)


def _run(services: Services, installation_id: str, access_token: str) -> event_subscriptions.Run:
    graphql = services.graphql
    assert graphql is not None

    def run(document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        operation = "mutation" if document.lstrip().startswith("mutation") else "query"
        return graphql.execute(
            document, variables, access_token=access_token, installation_id=installation_id, operation=operation
        )

    return run


def subscribe(services: Services, installation_id: str, access_token: str) -> int:
    """Subscribe a new installation to the registered destinations and record its business
    products; how many subscriptions it has to them (0 when nothing is registered yet, or the
    subscribing failed: logged)."""
    if services.graphql is None or services.ssm is None:
        return 0
    try:
        registration = event_subscriptions.read_registration(services.ssm, services.config.event_destination_parameter)
        if registration is None:
            log.info("events of %s not subscribed: no event destination is registered yet", installation_id)
            return 0
        # A webhook destination: the merchant's auth profile is made with the app's own credentials.
        credentials = (services.config.client_id, services.client_secret)
        found = event_subscriptions.subscribe(
            _run(services, installation_id, access_token),
            registration,
            credentials=credentials if services.config.has_client_credentials else None,
            installation_id=installation_id,
        )
        if services.business_products is not None:
            for product in sorted(event_subscriptions.business_products(found)):
                services.business_products.put(product, installation_id)
    except (*_FAILURES, ValueError) as exc:
        log.warning("events of %s not subscribed (%s: %s)", installation_id, type(exc).__name__, exc)
        return 0
    log.info("subscribed %s to %d event types", installation_id, len(found))
    return len(found)


def unsubscribe(services: Services, installation_id: str) -> int:
    """Delete an uninstalling installation's subscriptions, with its newest token (refreshed
    first when it is about to expire; the pair is not stored, the installation's items are
    deleted next); how many (0 when it has no token or a call failed: logged)."""
    if services.graphql is None:
        return 0
    try:
        current = services.tokens.latest(installation_id)
        if current is None:
            return 0
        token = current.access_token
        if current.expires_within(TOKEN_MARGIN_SECONDS):
            token = services.endpoint.refresh(current.refresh_token).access_token
        run = _run(services, installation_id, token)
        deleted = event_subscriptions.unsubscribe(run)
        # The merchant's webhook auth profile, made at its install, goes with its subscriptions.
        registration = (
            event_subscriptions.read_registration(services.ssm, services.config.event_destination_parameter)
            if services.ssm is not None and services.config.event_destination_parameter
            else None
        )
        profile = event_subscriptions.webhook_profile(registration, services.config.client_id, installation_id)
        if profile is not None:
            event_subscriptions.delete_auth_profile(run, profile)
    except (*_FAILURES, ValueError) as exc:
        log.warning("subscriptions of %s not deleted (%s: %s)", installation_id, type(exc).__name__, exc)
        return 0
    log.info("deleted %d event subscriptions of %s", deleted, installation_id)
    return deleted
