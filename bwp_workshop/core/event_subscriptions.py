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

A webhook destination (``{webhook: {url, method}}``, create-and-delete-event-subscriptions) is
registered without its auth: the registration names the kind of auth profile and its auth
endpoint (``webhookAuth``), never a secret. Whoever subscribes an installation (05's step, the
app at install) makes the installation's auth profile with the app's own client credentials
(:func:`ensure_auth_profile`, :mod:`.webhook_auth`) and subscribes with its ``authProfileId``.

No page shows a webhook destination read back: ``eventSubscription`` shows an EventBridge
destination as ``EventBridgeData { arn }`` (query-event-subscriptions), and the only other kind
of destination the pages document is a webhook. So a listed subscription whose destination has no
ARN is a webhook subscription (:data:`WEBHOOK`).

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
from . import webhook_auth
from .graphql import (
    CREATE_AUTH_PROFILE,
    CREATE_SUBSCRIPTION,
    DELETE_AUTH_PROFILE,
    DELETE_SUBSCRIPTION,
    SUBSCRIPTION_ALREADY_EXISTS,
    SUBSCRIPTION_IDS_QUERY,
    SUBSCRIPTION_QUERY,
    UPDATE_AUTH_PROFILE,
    GraphQLError,
)

Run = Callable[[str, dict[str, Any] | None], dict[str, Any]]

#: How BwP answers ``eventSubscriptions`` when an installation has none: AccessDeniedError with
#: ``data.eventSubscriptions: null`` (events-queries-eventsubscriptions, "When Subscriptions Do
#: Not Exist"). The same error could mean missing permissions; creating a subscription then
#: says so.
NONE_YET = "AccessDeniedError"
#: The kinds of destination (the fields of ``CreateEventSubscriptionInput.destination``,
#: events-mutations-createeventsubscription), as a listed subscription names its own.
EVENT_BRIDGE, WEBHOOK = "eventBridge", "webhook"
#: The documented auth of a webhook: a profile id or an inline config (create-and-delete-event-subscriptions).
_WEBHOOK_AUTH_FIELDS = ("authProfileId", "authConfig")


@dataclass(frozen=True)
class Registration:
    """What every installation is subscribed to: each event type to each destination.
    ``webhook_auth``: for a webhook destination, the auth profile each installation gets
    (``{"kind": "oauth" | "basic", "authEndpoint": <the app's token endpoint, for oauth>}``)."""

    event_types: tuple[str, ...]
    destinations: tuple[dict[str, Any], ...]
    webhook_auth: dict[str, str] | None = None

    def to_json(self) -> str:
        value: dict[str, Any] = {"eventTypes": list(self.event_types), "destinations": list(self.destinations)}
        if self.webhook_auth:
            value["webhookAuth"] = self.webhook_auth
        return json.dumps(value)

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
        auth = value.get("webhookAuth")
        if auth is not None and (
            not isinstance(auth, dict) or auth.get("kind") not in webhook_auth.AUTH_KINDS or _has_secret(auth)
        ):
            raise ValueError("webhookAuth is not an auth kind (oauth or basic) and its endpoint")
        if any(_kind(d) == WEBHOOK and _has_secret(d[WEBHOOK]) for d in destinations):
            raise ValueError("a registered webhook destination carries no auth: the registration holds no secret")
        return cls(tuple(types), tuple(destinations), auth)


def _has_secret(mapping: dict[str, Any]) -> bool:
    return any(key in mapping for key in ("authConfig", "clientSecret", "password"))


def _kind(destination: dict[str, Any]) -> str:
    return WEBHOOK if WEBHOOK in destination else EVENT_BRIDGE


def eventbridge_destination(account: str, name: str, region: str) -> dict[str, Any]:
    """An EventBridge destination: the partner event source ``name`` in ``account`` and ``region``
    (create-and-delete-event-subscriptions)."""
    return {"eventBridge": {"partnerEventSource": {"account": account, "name": name}, "region": region}}


def webhook_destination(url: str) -> dict[str, Any]:
    """A webhook destination without its auth (:func:`with_auth_profile` adds it): POST to ``url``
    (create-and-delete-event-subscriptions)."""
    return {WEBHOOK: {"url": url, "method": "POST"}}


def with_auth_profile(destination: dict[str, Any], profile_id: str) -> dict[str, Any]:
    """The webhook ``destination`` authenticated by the auth profile ``profile_id``."""
    return {WEBHOOK: {**destination[WEBHOOK], "authProfileId": profile_id}}


def is_to(subscription: dict[str, str], destination: dict[str, Any]) -> bool:
    """Whether a listed subscription (:func:`listing`) delivers to ``destination``: a webhook
    subscription to a webhook (the read-back shows no url: the app has one webhook); an
    EventBridge subscription whose ARN ends in the destination's partner event source's name."""
    if _kind(destination) == WEBHOOK:
        return subscription["kind"] == WEBHOOK
    name = partner_source_name(str(destination[EVENT_BRIDGE]["partnerEventSource"]["name"]))
    return subscription["kind"] == EVENT_BRIDGE and subscription["destination"].endswith(name)


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
    """The installation's event subscriptions: id, event type, kind (:data:`EVENT_BRIDGE` or
    :data:`WEBHOOK`), destination (an EventBridge destination's ARN; empty for a webhook, whose
    read-back no page shows) and target (the business product)."""
    found: list[dict[str, str]] = []
    for subscription_id in subscription_ids(run):
        node = run(SUBSCRIPTION_QUERY, {"subscriptionId": subscription_id})["eventSubscription"]
        details = node["eventSubscriptionDetails"]
        arn = (details.get("destination") or {}).get("arn") or ""
        found.append(
            {
                "subscription_id": node["subscriptionId"],
                "event_type": details["eventType"],
                "kind": EVENT_BRIDGE if arn else WEBHOOK,
                "destination": arn,
                "target_id": node.get("targetId") or "",
            }
        )
    return found


def ensure_auth_profile(run: Run, alias: str, auth_config: dict[str, Any]) -> str:
    """The id of the installation's auth profile ``alias`` with ``auth_config``: made
    (events-mutations-createauthprofile), or, made before, updated to it
    (events-mutations-updateauthprofile: a rotated secret or a moved token endpoint applies to
    the subscriptions that use it)."""
    try:
        data = run(CREATE_AUTH_PROFILE, {"input": {"authProfileAliasId": alias, "authConfig": auth_config}})
    except GraphQLError as error:
        if error.error_type != "ValidationError" or alias not in str(error):
            raise
        data = run(UPDATE_AUTH_PROFILE, {"input": {"authProfileId": alias, "authConfig": auth_config}})
        return str(data["updateAuthProfile"]["authProfileId"])
    return str(data["createAuthProfile"]["authProfileId"])


def webhook_profile(registration: Registration | None, client_id: str, installation_id: str) -> str | None:
    """The id of the auth profile the installation got for the registration's webhook (None:
    the registration has no webhook)."""
    if registration is None or registration.webhook_auth is None:
        return None
    return webhook_auth.profile_alias(client_id, registration.webhook_auth["kind"], installation_id)


def delete_auth_profile(run: Run, profile_id: str) -> bool:
    """Delete the installation's auth profile (events-mutations-deleteauthprofile); False when it
    has none by that id (AccessDeniedError, as the page's "Invalid Auth Profile Id" example)."""
    try:
        run(DELETE_AUTH_PROFILE, {"authProfileId": profile_id})
    except GraphQLError as error:
        if error.error_type != NONE_YET:
            raise
        return False
    return True


def _authenticated(
    run: Run, registration: Registration, destination: dict[str, Any], credentials: tuple[str, str] | None, iid: str
) -> dict[str, Any]:
    """``destination`` as it is created: a registered webhook gets the installation's auth profile."""
    if _kind(destination) != WEBHOOK or any(key in destination[WEBHOOK] for key in _WEBHOOK_AUTH_FIELDS):
        return destination
    auth = registration.webhook_auth
    if auth is None or credentials is None or not all(credentials):
        raise ValueError("a webhook destination needs the registration's webhookAuth and the app's client credentials")
    client_id, client_secret = credentials
    config = webhook_auth.auth_config(client_id, client_secret, auth["kind"], auth.get("authEndpoint", ""))
    profile = ensure_auth_profile(run, str(webhook_profile(registration, client_id, iid)), config)
    return with_auth_profile(destination, profile)


def subscribe(
    run: Run,
    registration: Registration,
    *,
    credentials: tuple[str, str] | None = None,
    installation_id: str = "",
) -> list[dict[str, str]]:
    """Subscribe the installation to each event type of the registration at each of its
    destinations (types already subscribed there are left alone); its subscriptions to those
    destinations. A webhook destination needs ``credentials`` (the app's client id and secret)
    and ``installation_id`` for the installation's auth profile."""
    existing = listing(run)
    for destination in registration.destinations:
        have = {s["event_type"] for s in existing if is_to(s, destination)}
        missing = [event_type for event_type in registration.event_types if event_type not in have]
        if not missing:
            continue
        made = _authenticated(run, registration, destination, credentials, installation_id)
        for event_type in missing:
            try:
                run(CREATE_SUBSCRIPTION, {"input": {"eventType": event_type, "destination": made}})
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
