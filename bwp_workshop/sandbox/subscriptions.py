"""Event subscriptions (createEventSubscription, eventSubscription, eventSubscriptions,
deleteEventSubscription: events-mutations-createeventsubscription, events-queries-eventsubscription,
events-queries-eventsubscriptions, events-mutations-deleteeventsubscription), kept in the
sandbox's database.

``createEventSubscription`` with an EventBridge destination creates the partner event source
``aws.partner/buywithprime/<name>`` in the local AWS, as BwP does on AWS; the workshop then
associates a bus with it. A webhook destination is checked and kept by :mod:`.webhooks`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from .. import aws
from ..core.graphql import DESTINATION_NAME_ALREADY_EXISTS, SUBSCRIPTION_ALREADY_EXISTS
from ..names import SUBSCRIBABLE_EVENT_TYPES, partner_source_name
from .api_errors import BwpError, access_denied, invalid_input
from .shared import Sandbox
from .webhooks import AuthProfiles, create_webhook_subscription

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^(us(-gov)?|ap|ca|cn|eu|sa|af)-(central|(north|south)?(east|west)?)-[0-9]$")
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


class Subscriptions:
    """The installations' event subscriptions."""

    def __init__(self, sandbox: Sandbox, auth_profiles: AuthProfiles) -> None:
        self.sandbox = sandbox
        self.db = sandbox.db
        self.auth_profiles = auth_profiles

    def events_client(self, region: str) -> Any:
        """The local AWS's EventBridge in ``region`` (where a partner event source is made)."""
        settings = self.sandbox.settings
        if region != settings.region:
            settings = settings.model_copy(update={"region": region})
        return aws.client("events", settings)

    def create(self, installation_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """createEventSubscription (events-mutations-createeventsubscription). Refusals as
        troubleshoot-events lists them: AccessDeniedError for an event type that is not one
        (or has white space); ValidationError ``DestinationNameAlreadyExists`` for a partner
        event source name another app or AWS account took; ValidationError
        ``SubscriptionAlreadyExists`` for the same event type and destination again."""
        event_type = payload.get("eventType")
        destination = payload.get("destination") or {}
        if event_type not in SUBSCRIBABLE_EVENT_TYPES:
            raise access_denied(f"{event_type!r} is not an event type you can subscribe to")
        if destination.get("webhook") is not None:
            if destination.get("eventBridge") is not None:
                raise invalid_input("a destination is eventBridge or webhook, not both")
            subscription_id = create_webhook_subscription(
                self.db, self.auth_profiles, installation_id, event_type, destination["webhook"]
            )
            return self.one(installation_id, subscription_id)
        bridge = destination.get("eventBridge") or {}
        source = bridge.get("partnerEventSource") or {}
        account, name, region = source.get("account", ""), source.get("name", ""), bridge.get("region", "")
        problems = []
        if not _ACCOUNT.match(account or ""):
            problems.append("account must be a 12-digit AWS account id")
        if not _SOURCE_NAME.match(name or ""):
            problems.append("partnerEventSource.name must be 1-200 characters of [A-Za-z0-9._-]")
        if not _REGION.match(region or ""):
            problems.append(f"region must match {_REGION.pattern}")
        if problems:
            raise invalid_input(*problems)
        source_name = partner_source_name(name)
        # A name is one partner's: another app, or another AWS account, cannot take it; the
        # app's other merchants deliver to it too (the page says only "globally unique").
        owner = self.db.one(
            "SELECT s.subscription_id FROM subscriptions s "
            "JOIN installations i ON i.installation_id = s.installation_id "
            "WHERE s.source_name = ? AND (s.account != ? OR i.app_id != "
            "(SELECT app_id FROM installations WHERE installation_id = ?)) LIMIT 1",
            source_name,
            account,
            installation_id,
        )
        if owner is not None:
            raise invalid_input(
                f"the partner event source name {name!r} is taken; choose a globally unique name",
                code=DESTINATION_NAME_ALREADY_EXISTS,
            )
        same = self.db.one(
            "SELECT subscription_id FROM subscriptions WHERE installation_id = ? AND event_type = ? "
            "AND source_name = ? AND account = ? AND region = ? LIMIT 1",
            installation_id,
            event_type,
            source_name,
            account,
            region,
        )
        if same is not None:
            raise invalid_input(
                f"a subscription to {event_type} with this destination exists ({same['subscription_id']})",
                code=SUBSCRIPTION_ALREADY_EXISTS,
            )
        # Every time, not only for a new name: the local AWS may have been reset since.
        client = self.events_client(region)
        try:
            client.create_partner_event_source(Name=source_name, Account=account)
        except client.exceptions.ResourceAlreadyExistsException:
            pass
        except Exception as exc:  # the local AWS is not reachable
            raise BwpError(
                "InternalServerError",
                f"Could not create the partner event source ({type(exc).__name__}); is the local AWS up?",
            ) from None
        subscription_id = str(uuid.uuid4())
        self.db.run(
            "INSERT INTO subscriptions(subscription_id, installation_id, event_type, source_name, account, region, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            subscription_id,
            installation_id,
            event_type,
            source_name,
            account,
            region,
            time.time(),
        )
        return self.one(installation_id, subscription_id)

    def one(self, installation_id: str, subscription_id: str) -> dict[str, Any]:
        row = self.db.one(
            "SELECT * FROM subscriptions WHERE subscription_id = ? AND installation_id = ?",
            subscription_id,
            installation_id,
        )
        if row is None:  # BwP answers AccessDenied for unknown ids (events-queries-eventsubscription)
            raise access_denied(f"no subscription {subscription_id!r} of this installation")
        return _subscription_view(dict(row))

    def all(self, installation_id: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.all(
            "SELECT * FROM subscriptions WHERE ? IS NULL OR installation_id = ? ORDER BY created_at, subscription_id",
            installation_id,
            installation_id,
        )
        return [_subscription_view(dict(row)) for row in rows]

    def delete(self, installation_id: str, subscription_id: str) -> str:
        self.one(installation_id, subscription_id)
        self.db.run("DELETE FROM subscriptions WHERE subscription_id = ?", subscription_id)
        return subscription_id

    def active(self, merchant_id: str) -> list[dict[str, Any]]:
        """The subscriptions of the merchant's installed installations (the rows, oldest first)."""
        rows = self.db.all(
            "SELECT s.* FROM subscriptions s JOIN installations i ON i.installation_id = s.installation_id "
            "WHERE i.merchant_id = ? AND i.status = 'installed' ORDER BY s.created_at, s.subscription_id",
            merchant_id,
        )
        return [dict(row) for row in rows]


def _subscription_view(row: dict[str, Any]) -> dict[str, Any]:
    if row.get("webhook"):
        webhook = json.loads(row["webhook"])
        return {
            "subscriptionId": row["subscription_id"],
            "installationId": row["installation_id"],
            "eventType": row["event_type"],
            "webhookUrl": webhook["url"],
            "authProfileId": webhook.get("authProfileId"),
        }
    return {
        "subscriptionId": row["subscription_id"],
        "installationId": row["installation_id"],
        "eventType": row["event_type"],
        "sourceName": row["source_name"],
        "account": row["account"],
        "region": row["region"],
        "arn": f"arn:aws:events:{row['region']}::event-source/{row['source_name']}",
    }
