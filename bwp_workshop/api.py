"""The Buy with Prime GraphQL API from a notebook or the CLI, as an installation: the access
token comes from the token table (refreshed first when it is about to expire, the same way
the event Lambda does), the calls go through the shared GraphQL client (retries with backoff,
errors classified).

The event subscription helpers are the workshop's "subscribe to events" step:
``createEventSubscription`` with an EventBridge destination for this account and region makes
Buy with Prime (or, on the local target, the sandbox) create the partner event source
``aws.partner/buywithprime/<name>``.
"""

from __future__ import annotations

from typing import Any

from . import aws
from .core.graphql import GraphQLClient
from .core.token_store import StoredToken, TokenStore
from .core.tokens import TokenEndpoint
from .errors import ConfigurationError
from .names import INFRA_STACK, OUT_TOKEN_TABLE, PARTNER_SOURCE_PREFIX
from .outputs import stack_output
from .settings import Settings, get_settings

#: Event types the workshop subscribes to: the order lifecycle the analytics use.
ORDER_EVENT_TYPES = (
    "ORDER_CONFIRMED",
    "PACKAGE_DELIVERY_IN_TRANSIT",
    "PACKAGE_DELIVERED",
    "PACKAGE_DELIVERY_CANCELLED",
    "RETURN_STARTED",
    "RETURN_COMPLETED",
    "REFUND_REQUESTED",
    "REFUND_COMPLETED",
)

STORE_QUERY = "query BuyWithPrimeStore { buyWithPrimeStore { siteId widgetId } }"
ORDER_QUERY = """
query Order($orderId: String!) {
  order(orderIdentifier: {orderId: $orderId}) {
    id status createdAt
    totalPrice { amount currencyCode }
    lineItems { id amount { unit value } product { title sku { value } price { amount currencyCode } } }
    packageInformation { details { id state } }
    returns { details { id state reason } }
    refunds { details { id state } }
  }
}
"""
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


def _installation(settings: Settings, installation_id: str | None) -> str:
    installation_id = installation_id or settings.installation_id
    if not installation_id:
        raise ConfigurationError(
            "No installation to call the API as.",
            hint="Install the app as a merchant first (notebook 04); it sets BWP_INSTALLATION_ID in .env.",
        )
    return installation_id


def access_token(settings: Settings | None = None, installation_id: str | None = None) -> StoredToken:
    """The installation's token from the token table, refreshed when it expires within a minute."""
    settings = settings or get_settings()
    installation_id = _installation(settings, installation_id)
    client_id, client_secret = settings.require_client_credentials()
    table = aws.resource("dynamodb", settings).Table(stack_output(settings, INFRA_STACK, OUT_TOKEN_TABLE))
    return TokenStore(table).valid_token(installation_id, TokenEndpoint(settings.token_url, client_id, client_secret))


def refresh_token(settings: Settings | None = None, installation_id: str | None = None) -> StoredToken:
    """Refresh the installation's token now, whatever its expiry (as the Lambda does when one
    is about to expire); the new pair is stored as the installation's newest item."""
    settings = settings or get_settings()
    installation_id = _installation(settings, installation_id)
    client_id, client_secret = settings.require_client_credentials()
    table = aws.resource("dynamodb", settings).Table(stack_output(settings, INFRA_STACK, OUT_TOKEN_TABLE))
    endpoint = TokenEndpoint(settings.token_url, client_id, client_secret)
    return TokenStore(table).valid_token(installation_id, endpoint, margin_seconds=float("inf"))


def execute(
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    installation_id: str | None = None,
) -> dict[str, Any]:
    """Run a GraphQL document as the installation; its ``data``."""
    settings = settings or get_settings()
    installation_id = _installation(settings, installation_id)
    token = access_token(settings, installation_id)
    client = GraphQLClient(settings.graphql_url, api_version=settings.api_version)
    operation = "mutation" if document.lstrip().startswith("mutation") else "query"
    return client.execute(
        document,
        variables,
        access_token=token.access_token,
        installation_id=installation_id,
        operation=operation,
    )


def store(settings: Settings | None = None, installation_id: str | None = None) -> dict[str, Any]:
    return dict(execute(STORE_QUERY, settings=settings, installation_id=installation_id)["buyWithPrimeStore"])


def order(order_id: str, settings: Settings | None = None, installation_id: str | None = None) -> dict[str, Any]:
    data = execute(ORDER_QUERY, {"orderId": order_id}, settings=settings, installation_id=installation_id)
    return dict(data["order"] or {})


def source_name(settings: Settings) -> str:
    """``aws.partner/buywithprime/<BWP_EVENT_SOURCE_NAME>``."""
    return f"{PARTNER_SOURCE_PREFIX}/{settings.event_source_name}"


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
    event_types: tuple[str, ...] | list[str] = ORDER_EVENT_TYPES,
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
