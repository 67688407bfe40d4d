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

from .. import aws, names
from ..core.business_products import BusinessProductMap
from ..core.graphql import SUBSCRIPTION_ALREADY_EXISTS, GraphQLError
from ..deploy import prerequisites
from ..outputs import stack_output
from ..settings import Settings, get_settings
from .api import Run, session

# The documents below are the pages' own forms (documents.buywithprime.amazon.com/bwp-api/docs/):
# query-event-subscriptions lists the ids, then gets each subscription; a destination is read
# through its type (``... on EventBridgeData``); delete takes the id as a plain argument
# (create-and-delete-event-subscriptions).

#: events-queries-eventsubscriptions
SUBSCRIPTION_IDS_QUERY = """
query SubscriptionIds($after: String) {
  eventSubscriptions(first: 100, after: $after) {
    edges { node { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

#: events-queries-eventsubscription
SUBSCRIPTION_QUERY = """
query Subscription($subscriptionId: String!) {
  eventSubscription(subscriptionId: $subscriptionId) {
    subscriptionId
    targetId
    eventSubscriptionDetails { eventType destination { __typename ... on EventBridgeData { arn } } }
  }
}
"""

#: events-mutations-createeventsubscription
CREATE_SUBSCRIPTION = """
mutation Subscribe($input: CreateEventSubscriptionInput!) {
  createEventSubscription(input: $input) { subscriptionId }
}
"""

#: events-mutations-deleteeventsubscription
DELETE_SUBSCRIPTION = """
mutation Unsubscribe($subscriptionId: String!) {
  deleteEventSubscription(subscriptionId: $subscriptionId) { subscriptionId }
}
"""

#: How BwP answers ``eventSubscriptions`` when an installation has none: AccessDeniedError with
#: ``data.eventSubscriptions: null`` (events-queries-eventsubscriptions, "When Subscriptions Do
#: Not Exist"). The same error could mean missing permissions; creating a subscription then
#: says so.
NONE_YET = "AccessDeniedError"


def source_name(settings: Settings) -> str:
    """``aws.partner/buywithprime/<BWP_EVENT_SOURCE_NAME>``."""
    return prerequisites.partner_source_name(settings.event_source_name)


def subscription_ids(run: Run) -> list[str]:
    """The ids of the installation's event subscriptions (``run``: its :func:`session`); none
    yet: an empty list."""
    found: list[str] = []
    after: str | None = None
    while True:
        try:
            data = run(SUBSCRIPTION_IDS_QUERY, {"after": after})
        except GraphQLError as error:
            if error.error_type == NONE_YET and not found:
                return []
            raise
        page = data["eventSubscriptions"]
        found.extend(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def subscriptions(settings: Settings | None = None, installation_id: str | None = None) -> list[dict[str, str]]:
    """The installation's event subscriptions: id, event type, destination (an EventBridge
    destination's ARN; another kind of destination by its type name) and target (the business
    product)."""
    run = session(settings, installation_id)
    found: list[dict[str, str]] = []
    for subscription_id in subscription_ids(run):
        node = run(SUBSCRIPTION_QUERY, {"subscriptionId": subscription_id})["eventSubscription"]
        details = node["eventSubscriptionDetails"]
        destination = details["destination"]
        found.append(
            {
                "subscription_id": node["subscriptionId"],
                "event_type": details["eventType"],
                "destination": destination.get("arn") or destination["__typename"],
                "target_id": node.get("targetId") or "",
            }
        )
    return found


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
    run = session(settings, installation_id)
    for event_type in event_types:
        if event_type in existing:
            continue
        destination = {
            "partnerEventSource": {"account": account, "name": settings.event_source_name},
            "region": settings.region,
        }
        try:
            run(CREATE_SUBSCRIPTION, {"input": {"eventType": event_type, "destination": {"eventBridge": destination}}})
        except GraphQLError as error:
            if error.code != SUBSCRIPTION_ALREADY_EXISTS:  # made since the listing: already there
                raise
    ours = [s for s in subscriptions(settings, installation_id) if s["destination"].endswith(name)]
    record_business_products(ours, settings, installation_id)
    return ours


def record_business_products(
    found: list[dict[str, str]], settings: Settings, installation_id: str | None = None
) -> set[str]:
    """Record the subscriptions' business products (their ``targetId``) as the installation's,
    in the business product table InfraStack made; the business products recorded."""
    products = {subscription["target_id"] for subscription in found if subscription["target_id"]}
    if products:
        table = aws.resource("dynamodb", settings).Table(
            stack_output(settings, names.INFRA_STACK, names.OUT_BUSINESS_PRODUCT_TABLE)
        )
        for product in sorted(products):
            BusinessProductMap(table).put(product, str(installation_id or settings.installation_id))
    return products


def unsubscribe_events(settings: Settings | None = None, installation_id: str | None = None) -> int:
    """Delete the installation's subscriptions to this account's partner event source."""
    settings = settings or get_settings()
    name = source_name(settings)
    ours = [s for s in subscriptions(settings, installation_id) if s["destination"].endswith(name)]
    if ours:
        run = session(settings, installation_id)
        for subscription in ours:
            run(DELETE_SUBSCRIPTION, {"subscriptionId": subscription["subscription_id"]})
    return len(ours)
