"""The workshop's "subscribe to events" step (notebook 05): the installation's event
subscriptions. ``createEventSubscription`` with an EventBridge destination for this account and
region makes Buy with Prime (or, on the local target, the sandbox) create the partner event
source ``aws.partner/buywithprime/<name>``, which
:func:`bwp_workshop.deploy.prerequisites.ensure_partner_event_bus` then associates with a bus.

A subscription's ``targetId`` is the business product it belongs to (events-queries-eventsubscription),
so subscribing also records that business product as the installation's in the business
product table: events in the documented shapes name their tenant only by business product.
Every function is idempotent.
"""

from __future__ import annotations

from typing import Any

from .. import aws, names
from ..core import event_subscriptions
from ..core.business_products import BusinessProductMap

# The documents are the shared core's (one owner with the OAuth app, which subscribes each
# merchant it installs); kept importable from here.
from ..core.event_subscriptions import NONE_YET, Registration
from ..core.graphql import CREATE_SUBSCRIPTION, DELETE_SUBSCRIPTION, SUBSCRIPTION_IDS_QUERY, SUBSCRIPTION_QUERY
from ..deploy import prerequisites
from ..outputs import stack_output
from ..settings import Settings
from .api import Run, session

__all__ = [
    "CREATE_SUBSCRIPTION",
    "DELETE_SUBSCRIPTION",
    "NONE_YET",
    "SUBSCRIPTION_IDS_QUERY",
    "SUBSCRIPTION_QUERY",
]


def source_name(settings: Settings) -> str:
    """``aws.partner/buywithprime/<BWP_EVENT_SOURCE_NAME>``."""
    return prerequisites.partner_source_name(settings.event_source_name)


def destination(settings: Settings) -> dict[str, Any]:
    """The app's event destination: this account's partner event source in the settings' region."""
    return event_subscriptions.eventbridge_destination(
        aws.account_id(settings), settings.event_source_name, settings.region
    )


def registration(
    settings: Settings, event_types: tuple[str, ...] | list[str] = names.SUBSCRIBED_EVENT_TYPES
) -> Registration:
    """What every installation is subscribed to: ``event_types`` at :func:`destination`."""
    return Registration(tuple(event_types), (destination(settings),))


def subscription_ids(run: Run) -> list[str]:
    """The ids of the installation's event subscriptions (``run``: its :func:`session`); none
    yet: an empty list."""
    return event_subscriptions.subscription_ids(run)


def subscriptions(settings: Settings, installation_id: str | None = None) -> list[dict[str, str]]:
    """The installation's event subscriptions: id, event type, kind (``eventBridge`` or
    ``webhook``), destination (an EventBridge destination's ARN; empty for a webhook) and target
    (the business product)."""
    return event_subscriptions.listing(session(settings, installation_id))


def subscribe_events(
    event_types: tuple[str, ...] | list[str] = names.SUBSCRIBED_EVENT_TYPES,
    *,
    settings: Settings,
    installation_id: str | None = None,
) -> list[dict[str, str]]:
    """Subscribe the installation to each event type with this account's partner event
    source as destination (one subscription per type; types already subscribed to that
    source are left alone). Returns the installation's subscriptions to the source."""
    ours = event_subscriptions.subscribe(session(settings, installation_id), registration(settings, event_types))
    record_business_products(ours, settings, installation_id)
    return ours


def record_business_products(
    found: list[dict[str, str]], settings: Settings, installation_id: str | None = None
) -> set[str]:
    """Record the subscriptions' business products (their ``targetId``) as the installation's,
    in the business product table InfraStack made; the business products recorded."""
    products = event_subscriptions.business_products(found)
    if products:
        table = aws.resource("dynamodb", settings).Table(
            stack_output(settings, names.INFRA_STACK, names.OUT_BUSINESS_PRODUCT_TABLE)
        )
        for product in sorted(products):
            BusinessProductMap(table).put(product, str(installation_id or settings.installation_id))
    return products


def unsubscribe_events(settings: Settings, installation_id: str | None = None) -> int:
    """Delete the installation's subscriptions to this account's partner event source."""
    return event_subscriptions.unsubscribe(session(settings, installation_id), [destination(settings)])
