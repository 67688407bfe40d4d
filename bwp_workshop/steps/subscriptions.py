"""The workshop's "subscribe to events" step (notebook 05): the installation's event
subscriptions. ``createEventSubscription`` with an EventBridge destination for this account and
region makes Buy with Prime (or, on the local target, the sandbox) create the partner event
source ``aws.partner/buywithprime/<name>``, which
:func:`bwp_workshop.deploy.prerequisites.ensure_partner_event_bus` then associates with a bus.
Every function is idempotent.
"""

from __future__ import annotations

from .. import aws, names
from ..deploy import prerequisites
from ..settings import Settings, get_settings
from .api import execute

SUBSCRIPTIONS_QUERY = """
query Subscriptions($after: String) {
  eventSubscriptions(first: 100, after: $after) {
    edges { node { subscriptionId eventSubscriptionDetails { eventType destination { arn } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


CREATE_SUBSCRIPTION = """
mutation Subscribe($input: CreateEventSubscriptionInput!) {
  createEventSubscription(input: $input) { subscriptionId }
}
"""


DELETE_SUBSCRIPTION = """
mutation Unsubscribe($input: DeleteEventSubscriptionInput!) {
  deleteEventSubscription(input: $input) { subscriptionId }
}
"""


def source_name(settings: Settings) -> str:
    """``aws.partner/buywithprime/<BWP_EVENT_SOURCE_NAME>``."""
    return prerequisites.partner_source_name(settings.event_source_name)


def subscriptions(settings: Settings | None = None, installation_id: str | None = None) -> list[dict[str, str]]:
    """The installation's event subscriptions: id, event type, destination."""
    settings = settings or get_settings()
    found: list[dict[str, str]] = []
    after: str | None = None
    while True:
        data = execute(SUBSCRIPTIONS_QUERY, {"after": after}, settings=settings, installation_id=installation_id)
        page = data["eventSubscriptions"]
        for edge in page["edges"]:
            node = edge["node"]
            details = node["eventSubscriptionDetails"]
            found.append(
                {
                    "subscription_id": node["subscriptionId"],
                    "event_type": details["eventType"],
                    "destination": details["destination"]["arn"],
                }
            )
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def subscribe_events(
    event_types: tuple[str, ...] | list[str] = names.SUBSCRIBED_EVENT_TYPES,
    *,
    settings: Settings | None = None,
    installation_id: str | None = None,
) -> list[dict[str, str]]:
    """Subscribe the installation to each event type with this account's partner event
    source as destination (one subscription per type; types already subscribed to that
    source are left alone). Returns the installation's subscriptions to the source."""
    settings = settings or get_settings()
    name = source_name(settings)
    existing = {s["event_type"] for s in subscriptions(settings, installation_id) if s["destination"].endswith(name)}
    account = aws.account_id(settings)
    for event_type in event_types:
        if event_type in existing:
            continue
        destination = {
            "partnerEventSource": {"account": account, "name": settings.event_source_name},
            "region": settings.region,
        }
        execute(
            CREATE_SUBSCRIPTION,
            {"input": {"eventType": event_type, "destination": {"eventBridge": destination}}},
            settings=settings,
            installation_id=installation_id,
        )
    return [s for s in subscriptions(settings, installation_id) if s["destination"].endswith(name)]


def unsubscribe_events(settings: Settings | None = None, installation_id: str | None = None) -> int:
    """Delete the installation's subscriptions to this account's partner event source."""
    settings = settings or get_settings()
    name = source_name(settings)
    deleted = 0
    for subscription in subscriptions(settings, installation_id):
        if subscription["destination"].endswith(name):
            execute(
                DELETE_SUBSCRIPTION,
                {"input": {"subscriptionId": subscription["subscription_id"]}},
                settings=settings,
                installation_id=installation_id,
            )
            deleted += 1
    return deleted
