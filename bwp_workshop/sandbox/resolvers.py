"""The GraphQL schema (``schema.graphql``) with its resolvers: what each query and mutation
answers, from the sandbox's database. Every shape is the documented one (the ``@page`` of each
type and field in the schema names its page).
"""

from __future__ import annotations

import base64
from functools import cache
from importlib import resources
from typing import Any

from ariadne import MutationType, ObjectType, QueryType, ScalarType, UnionType, make_executable_schema
from graphql import EnumValueNode, GraphQLSchema, StringValueNode, ValueNode

from .api_errors import BwpError, access_denied, invalid_input
from .event_source import EventSource
from .oauth_server import Caller
from .orders import Orders

#: ``first`` and ``after`` limits (catalog-queries-products: 0-20 and 65535 characters;
#: events-queries-eventsubscriptions: 0-1000 and 6000).
PRODUCTS_PAGE_LIMIT = 20
PRODUCTS_CURSOR_LIMIT = 65535
SUBSCRIPTIONS_PAGE_LIMIT = 1000
SUBSCRIPTIONS_CURSOR_LIMIT = 6000


def summary_state(states: list[str]) -> str:
    """A PackageInformationSummary's state over its packages' (order-objects-packageinformationsummary:
    PENDING, IN_TRANSIT, DELIVERED or CANCELLED; how BwP aggregates is not documented): none yet
    or any pending, PENDING; any in transit, IN_TRANSIT; all cancelled, CANCELLED; else DELIVERED."""
    if not states or "PENDING" in states:
        return "PENDING"
    if "IN_TRANSIT" in states:
        return "IN_TRANSIT"
    return "CANCELLED" if all(state == "CANCELLED" for state in states) else "DELIVERED"


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
        raise invalid_input(f"after {after[:60]!r} is not a cursor") from None


def _page(items: list[Any], first: int | None, after: str | None, limit: int) -> dict[str, Any]:
    """A Relay connection over ``items`` (edges, pageInfo, totalCount)."""
    if first is not None and not 0 <= first <= limit:
        raise invalid_input(f"first must be greater than or equal to 0 and less than or equal to {limit}")
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


def _subscription(view: dict[str, Any], target_id: str) -> dict[str, Any]:
    """An EventSubscription (events-queries-eventsubscription, query-event-subscriptions) of the
    event source's view."""
    # No page shows a webhook destination read back: null (see EventSubscriptionDestination).
    destination = None if "webhookUrl" in view else {"kind": "EventBridgeData", "arn": view["arn"]}
    return {
        "subscriptionId": view["subscriptionId"],
        "targetId": target_id,
        "eventSubscriptionDetails": {"eventType": view["eventType"], "destination": destination},
    }


def _name_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> str:
    """A name written as an enum value (POST) or a string ("POST"): the pages show both for an
    ``HttpMethod`` and a ``CancellationReasonInput``."""
    if isinstance(node, EnumValueNode | StringValueNode):
        return str(node.value)
    raise ValueError("expected a name such as POST")


def _name_value(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a name such as POST")
    return value


def _check_subscription_id(subscription_id: str) -> None:
    """events-queries-eventsubscription, events-mutations-deleteeventsubscription: 1-50 characters."""
    if not 1 <= len(subscription_id) <= 50:
        raise invalid_input("subscriptionId must be between 1 and 50 characters")


@cache
def schema() -> GraphQLSchema:
    query, mutation = QueryType(), MutationType()
    packages, tracker = ObjectType("PackageInformation"), ObjectType("PackageTracker")
    destination = UnionType("EventSubscriptionDestination")
    http_method = ScalarType("HttpMethod", literal_parser=_name_literal, value_parser=_name_value)
    reason = ScalarType("CancellationReasonInput", literal_parser=_name_literal, value_parser=_name_value)

    @destination.type_resolver
    def destination_type(value: dict[str, Any], *_: Any) -> str:
        return str(value["kind"])

    @query.field("buyWithPrimeStore")
    def store(_: Any, info: Any) -> dict[str, Any]:
        merchant = info.context["caller"].merchant
        return {"siteId": merchant["siteId"], "widgetId": merchant["widgetId"]}

    @query.field("order")
    def order(_: Any, info: Any, orderIdentifier: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        orders: Orders = info.context["orders"]
        return orders.order(caller.merchant["merchantId"], orderIdentifier)

    @query.field("packageTracker")
    def package_tracker(_: Any, info: Any, packageTrackerInput: dict[str, Any]) -> dict[str, Any]:
        """tracking-queries-packagetracker: an outbound or return package's tracker (track-packages:
        both), by its carrier and tracking number; the follow-up of PACKAGE_TRACKER_MILESTONE_CHANGED."""
        caller: Caller = info.context["caller"]
        wanted = packageTrackerInput["packageTrackerIdentifier"]
        key = (wanted["carrierCode"].upper(), wanted["trackingNumber"])
        for order in info.context["sandbox"].db.orders(caller.merchant["merchantId"]):
            packages = order["packageInformation"]["details"] + [
                package for details in order["returns"]["details"] for package in details["returnPackageDetails"]
            ]
            for package in packages:
                tracker = package.get("packageTracker") or {}
                identifier = tracker.get("packageTrackerIdentifier") or {}
                if (str(identifier.get("carrierCode", "")).upper(), identifier.get("trackingNumber")) == key:
                    return dict(tracker)
        # The page's error rows were not read; a tracker no order has is not found.
        raise BwpError("ResourceNotFoundError", "The requested package tracker was not found")

    @mutation.field("updateOrder")
    def update_order(_: Any, info: Any, orderIdentifier: dict[str, Any], input: dict[str, Any]) -> dict[str, Any]:
        orders: Orders = info.context["orders"]
        return {"order": orders.update_order(info.context["caller"].merchant, orderIdentifier, input)}

    @mutation.field("createOrder")
    def create_order(_: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        orders: Orders = info.context["orders"]
        return {"order": orders.create_order(info.context["caller"].merchant, input)}

    @mutation.field("cancelOrder")
    def cancel_order(
        _: Any, info: Any, orderIdentifier: dict[str, Any], input: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        orders: Orders = info.context["orders"]
        return {"cancellation": orders.cancel_order(info.context["caller"].merchant, orderIdentifier, input or {})}

    @mutation.field("updateOrderPackageInformation")
    def update_packages(_: Any, info: Any, orderIdentifier: dict[str, Any], input: dict[str, Any]) -> dict[str, Any]:
        orders: Orders = info.context["orders"]
        details = input["packageInformation"]["details"]
        return {"order": orders.update_package_information(info.context["caller"].merchant, orderIdentifier, details)}

    @mutation.field("updateOrderReturns")
    def update_returns(_: Any, info: Any, orderIdentifier: dict[str, Any], input: dict[str, Any]) -> dict[str, Any]:
        orders: Orders = info.context["orders"]
        details = input["returns"]["details"]
        return {"order": orders.update_returns(info.context["caller"].merchant, orderIdentifier, details)}

    @query.field("product")
    def product(_: Any, info: Any, identifier: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        keys = [key for key, value in identifier.items() if value]
        if len(keys) != 1:
            raise invalid_input("identifier needs exactly one of sku, externalId, amazonSku")
        key = keys[0]
        wanted = identifier[key]["value"] if key == "amazonSku" else identifier[key]
        for item in caller.merchant["products"]:
            if item[key]["value"] == wanted:
                return dict(item)
        raise BwpError("ResourceNotFoundError", "The requested product was not found")

    @query.field("products")
    def products(_: Any, info: Any, first: int | None = None, after: str | None = None) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        if after is not None and len(after) > PRODUCTS_CURSOR_LIMIT:
            raise invalid_input(f"after must be at most {PRODUCTS_CURSOR_LIMIT} characters")
        return _page(caller.merchant["products"], first, after, PRODUCTS_PAGE_LIMIT)

    @packages.field("summary")
    def package_summary(information: dict[str, Any], _: Any) -> dict[str, Any]:
        return {"state": summary_state([package["state"] for package in information.get("details") or []])}

    @tracker.field("latestMilestone")
    def latest_milestone(package_tracker: dict[str, Any], _: Any) -> dict[str, Any] | None:
        milestones = package_tracker.get("milestones") or []
        return milestones[-1] if milestones else None

    @query.field("eventSubscription")
    def event_subscription(_: Any, info: Any, subscriptionId: str) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        _check_subscription_id(subscriptionId)
        return _subscription(
            source.subscriptions.one(caller.installation_id, subscriptionId), caller.merchant["businessProductId"]
        )

    @query.field("eventSubscriptions")
    def event_subscriptions(_: Any, info: Any, first: int | None = None, after: str | None = None) -> dict[str, Any]:
        """events-queries-eventsubscriptions: the caller's subscription ids; with none, BwP
        answers AccessDeniedError (the "When Subscriptions Do Not Exist" example)."""
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        if after is not None and len(after) > SUBSCRIPTIONS_CURSOR_LIMIT:
            raise invalid_input(f"after must be at most {SUBSCRIPTIONS_CURSOR_LIMIT} characters")
        nodes = [{"id": view["subscriptionId"]} for view in source.subscriptions.all(caller.installation_id)]
        if not nodes:
            raise access_denied("this installation has no event subscriptions")
        return _page(nodes, first, after, SUBSCRIPTIONS_PAGE_LIMIT)

    @mutation.field("createEventSubscription")
    def create_subscription(_: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        view = source.subscriptions.create(caller.installation_id, input)
        return {"subscriptionId": view["subscriptionId"]}

    @mutation.field("createAuthProfile")
    def create_auth_profile(_: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        """events-mutations-createauthprofile: an OAuth or basic auth configuration for webhooks."""
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        return {"authProfileId": source.auth_profiles.create(caller.installation_id, input)}

    @mutation.field("updateAuthProfile")
    def update_auth_profile(_: Any, info: Any, input: dict[str, Any] | None = None) -> dict[str, Any]:
        """events-mutations-updateauthprofile: new credentials under the same id."""
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        if input is None:
            raise invalid_input("input is required")
        return {"authProfileId": source.auth_profiles.update(caller.installation_id, input)}

    @mutation.field("deleteAuthProfile")
    def delete_auth_profile(_: Any, info: Any, authProfileId: str) -> dict[str, Any]:
        """events-mutations-deleteauthprofile."""
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        return {"authProfileId": source.auth_profiles.delete(caller.installation_id, authProfileId)}

    @mutation.field("deleteEventSubscription")
    def delete_subscription(_: Any, info: Any, subscriptionId: str) -> dict[str, Any]:
        caller: Caller = info.context["caller"]
        source: EventSource = info.context["events"]
        _check_subscription_id(subscriptionId)
        return {"subscriptionId": source.subscriptions.delete(caller.installation_id, subscriptionId)}

    sdl = resources.files(__package__).joinpath("schema.graphql").read_text()
    return make_executable_schema(sdl, query, mutation, packages, tracker, destination, http_method, reason)
