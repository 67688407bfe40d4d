"""An installation's event subscriptions, made as a partner app makes them: each merchant that
installs the app is subscribed to the app's event destinations, and its subscriptions are
deleted when it uninstalls. A subscription belongs to one business product, its ``targetId``
(events-queries-eventsubscription); the caller records it as the installation's, so the event
handler can resolve events that name their tenant only by business product.

The *registration* says what every installation is subscribed to: the destinations (each the
``destination`` of ``CreateEventSubscriptionInput``, events-mutations-createeventsubscription)
and the event types. Notebook 05 writes it, once its destination exists, as the SSM parameter
``names.EVENT_DESTINATION_PARAMETER``; the OAuth app reads it when a merchant installs. Before
05 there is none, and an install subscribes nothing (05 then subscribes every installation the
token table lists).

``run(document, variables)`` is one installation's GraphQL call (its token, its
``X-Omni-InstallationId``): :func:`bwp_workshop.steps.api.session` in a notebook, the app's
client with the token it just stored. The documents are :mod:`bwp_workshop.core.graphql`'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..names import partner_source_name
from .graphql import (
    CREATE_SUBSCRIPTION,
    DELETE_SUBSCRIPTION,
    SUBSCRIPTION_ALREADY_EXISTS,
    SUBSCRIPTION_IDS_QUERY,
    SUBSCRIPTION_QUERY,
    GraphQLError,
)

Run = Callable[[str, dict[str, Any] | None], dict[str, Any]]

#: How BwP answers ``eventSubscriptions`` when an installation has none: AccessDeniedError with
#: ``data.eventSubscriptions: null`` (events-queries-eventsubscriptions, "When Subscriptions Do
#: Not Exist"). The same error could mean missing permissions; creating a subscription then
#: says so.
NONE_YET = "AccessDeniedError"


@dataclass(frozen=True)
class Registration:
    """What every installation is subscribed to: each event type to each destination."""

    event_types: tuple[str, ...]
    destinations: tuple[dict[str, Any], ...]

    def to_json(self) -> str:
        return json.dumps({"eventTypes": list(self.event_types), "destinations": list(self.destinations)})

    @classmethod
    def from_json(cls, text: str) -> Registration:
        """The registration a parameter holds; ``ValueError`` for one that is not."""
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("the registration is not a JSON object")
        types, destinations = value.get("eventTypes"), value.get("destinations")
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise ValueError("eventTypes is not a list of event types")
        if not isinstance(destinations, list) or not all(isinstance(d, dict) and d for d in destinations):
            raise ValueError("destinations is not a list of destinations")
        return cls(tuple(types), tuple(destinations))


def eventbridge_destination(account: str, name: str, region: str) -> dict[str, Any]:
    """An EventBridge destination: the partner event source ``name`` in ``account`` and ``region``
    (create-and-delete-event-subscriptions)."""
    return {"eventBridge": {"partnerEventSource": {"account": account, "name": name}, "region": region}}


def destination_label(destination: dict[str, Any]) -> str:
    """How a listed subscription names the destination: an EventBridge destination's ARN ends in
    its partner event source's name."""
    bridge = destination.get("eventBridge")
    if isinstance(bridge, dict):
        return partner_source_name(str(bridge["partnerEventSource"]["name"]))
    return json.dumps(destination, sort_keys=True)


def is_to(subscription: dict[str, str], destination: dict[str, Any]) -> bool:
    """Whether a listed subscription (:func:`listing`) delivers to ``destination``."""
    return subscription["destination"].endswith(destination_label(destination))


def subscription_ids(run: Run) -> list[str]:
    """The ids of the installation's event subscriptions; none yet: an empty list."""
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


def listing(run: Run) -> list[dict[str, str]]:
    """The installation's event subscriptions: id, event type, destination (an EventBridge
    destination's ARN; another kind of destination by its type name) and target (the business
    product)."""
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


def subscribe(run: Run, registration: Registration) -> list[dict[str, str]]:
    """Subscribe the installation to each event type of the registration at each of its
    destinations (types already subscribed there are left alone); its subscriptions to those
    destinations."""
    existing = listing(run)
    for destination in registration.destinations:
        have = {s["event_type"] for s in existing if is_to(s, destination)}
        for event_type in registration.event_types:
            if event_type in have:
                continue
            try:
                run(CREATE_SUBSCRIPTION, {"input": {"eventType": event_type, "destination": destination}})
            except GraphQLError as error:
                if error.code != SUBSCRIPTION_ALREADY_EXISTS:  # made since the listing: already there
                    raise
    return [s for s in listing(run) if any(is_to(s, d) for d in registration.destinations)]


def unsubscribe(run: Run, destinations: Iterable[dict[str, Any]] | None = None) -> int:
    """Delete the installation's subscriptions (to ``destinations`` only, when given); how many."""
    wanted = list(destinations) if destinations is not None else None
    ours = [s for s in listing(run) if wanted is None or any(is_to(s, d) for d in wanted)]
    for subscription in ours:
        run(DELETE_SUBSCRIPTION, {"subscriptionId": subscription["subscription_id"]})
    return len(ours)


def business_products(found: Iterable[dict[str, str]]) -> set[str]:
    """The business products (``targetId``) of listed subscriptions."""
    return {subscription["target_id"] for subscription in found if subscription["target_id"]}


# --- the registration, kept as an SSM parameter -----------------------------------------------------
def read_registration(ssm: Any, parameter: str) -> Registration | None:
    """The registration in the parameter (``ssm``: a boto3 SSM client); None when there is none
    yet. ``ValueError`` for a parameter that holds something else."""
    try:
        value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return Registration.from_json(str(value))


def write_registration(ssm: Any, parameter: str, registration: Registration) -> None:
    ssm.put_parameter(Name=parameter, Value=registration.to_json(), Type="String", Overwrite=True)
