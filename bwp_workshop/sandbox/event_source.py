"""The event source: the merchant activity simulator, publishing to the installations' event
subscriptions (:mod:`.subscriptions`) on EventBridge or their webhooks (:mod:`.webhooks`), and the
ledger of what was sent.

An event reaches the bus associated with its partner event source (PutEvents to that bus with
``Source`` = the source name), or is recorded as undelivered when no bus is.
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_random_exponential

from ..names import (
    CATALOG_EVENT_TYPES,
    DEPRECATED_EVENT_TYPES,
    PRIVACY_EVENT_TYPES,
)
from .event_shapes import MALFORMATIONS, THIN_SHAPE, detail, malform
from .merchants import iso, new_order
from .order_lifecycles import LIFECYCLES, MIXED, catalog_occurrence, privacy_occurrence, spread_times, walk
from .order_machine import Occurrence
from .shared import Sandbox
from .subscriptions import Subscriptions
from .webhooks import AuthProfiles, WebhookDelivery

#: PutEvents tries per batch; the pause between tries grows from about this many seconds.
PUBLISH_ATTEMPTS = 5
PUBLISH_BACKOFF_S = 0.05


class EmitRequest(BaseModel):
    """Merchant activity to simulate."""

    installation_id: str | None = Field(None, description="whose merchant acts (default: merchant_id)")
    merchant_id: str | None = Field(None, description="the acting merchant (default: the first with an install)")
    orders: int = Field(1, ge=0, le=200, description="orders to place")
    lifecycle: str = Field("mixed", description=f"one of {', '.join(LIFECYCLES)}, or mixed (a draw among {MIXED})")
    catalog_events: int = Field(0, ge=0, le=100, description="BUYABILITY_CHANGED/INVENTORY_CHANGED events")
    privacy_events: int = Field(0, ge=0, le=100, description="PERSONAL_DATA_* task events")
    duplicates: int = Field(
        0,
        ge=0,
        le=1000,
        description="extra deliveries: events delivered a second time (beyond one per event, a third...)",
    )
    malformed: list[Literal["missing_installation", "unknown_installation", "garbage_detail", "foreign_source"]] = (
        Field(default_factory=list, description="one broken event of each kind named")
    )
    shapes: list[Literal["2024-11-01", "legacy", "2024-01-01"]] | None = Field(
        None, description="payload shapes (default: the sandbox's event_shapes)"
    )
    seed: int | None = Field(None, description="seed for the lifecycle and product choices")
    spread_hours: float = Field(
        0.0,
        ge=0,
        le=24 * 90,
        description="place the orders at random times over this many past hours, their lifecycle steps "
        "spread between the order and now (event times in the past, as a history); 0: everything happens now",
    )

    @field_validator("lifecycle")
    @classmethod
    def _known_lifecycle(cls, value: str) -> str:
        if value != "mixed" and value not in LIFECYCLES:
            raise ValueError(f"unknown lifecycle {value!r}; choose mixed or one of {', '.join(LIFECYCLES)}")
        return value


class EventSource:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.db = sandbox.db
        self.auth_profiles = AuthProfiles(self.db)
        self.subscriptions = Subscriptions(sandbox, self.auth_profiles)
        self.webhooks = WebhookDelivery(self.db, self.auth_profiles)

    def close(self) -> None:
        """Finish the webhook deliveries under way."""
        self.webhooks.close()

    # --- merchant activity -------------------------------------------------------------------------
    def emit(self, request: EmitRequest) -> dict[str, Any]:
        """Simulate merchant activity and publish its events; returns what was done and the
        ledger entries written."""
        merchant = self._acting_merchant(request)
        bp = merchant["businessProductId"]
        rng = random.Random(request.seed)
        shapes = list(request.shapes or self.sandbox.config.event_shapes)
        occurrences: list[Occurrence] = []
        lifecycles = list(MIXED)
        orders = []
        for _ in range(request.orders):
            name = rng.choice(lifecycles) if request.lifecycle == "mixed" else request.lifecycle
            order = new_order(merchant, rng)
            now, steps = time.time(), len(LIFECYCLES[name])
            if request.spread_hours:  # the lifecycle fits between the order and now
                placed = now - rng.uniform(0.1, 1.0) * request.spread_hours * 3600
                occurrences += walk(order, name, rng, spread_times(steps, placed, now, rng), bp)
            else:
                occurrences += walk(order, name, rng, [now + number for number in range(steps)], bp, timed=False)
            self.db.save_order(merchant["merchantId"], order)
            orders.append({"order_id": order["id"], "lifecycle": name})
        for number in range(request.catalog_events):
            occurrences.append(catalog_occurrence(merchant, rng, CATALOG_EVENT_TYPES[number % 2]))
        for number in range(request.privacy_events):
            occurrences.append(privacy_occurrence(merchant, rng, PRIVACY_EVENT_TYPES[number % 4]))

        subscriptions, by_type = self._subscriptions_by_type(merchant["merchantId"])
        outgoing = self._outgoing(occurrences, by_type, shapes, rng)
        for kind in request.malformed:
            if kind not in MALFORMATIONS:
                raise ValueError(f"unknown malformation {kind!r}")
            if not subscriptions:
                break
            order_occurrences = [o for o in occurrences if o.type == "ORDER_CONFIRMED"]
            occurrence = (
                order_occurrences[0]
                if order_occurrences
                else Occurrence("ORDER_CONFIRMED", [f"businessProduct/{bp}/order/order-{uuid.uuid4()}"])
            )
            subscription = next(iter(by_type.get(occurrence.type, [])), subscriptions[0])
            outgoing.append(self._event(occurrence, subscription, shapes[0], kind, rng))

        deliveries = list(outgoing)
        well_formed = [
            event
            for event in outgoing
            if event["ledger"]["malformed"] is None and event["ledger"]["shape"] != THIN_SHAPE
        ]
        # Extra deliveries: a sample of the events a second time, then (beyond one per event)
        # a third time, and so on, as an at-least-once bus may deliver them.
        extra = request.duplicates
        while extra > 0 and well_formed:
            chosen = rng.sample(well_formed, min(extra, len(well_formed)))
            deliveries.extend(chosen)
            extra -= len(chosen)
        entries = self._publish_recorded(outgoing, deliveries)
        return {
            "merchant_id": merchant["merchantId"],
            "orders": orders,
            "occurrences": len(occurrences),
            "published": len(entries),
            "deliveries": len(deliveries),
            "undelivered": sum(1 for entry in entries if not entry["delivered"]),
            "subscriptions": len(subscriptions),
            "entries": entries,
        }

    def publish(self, merchant_id: str, occurrences: list[Occurrence]) -> list[dict[str, Any]]:
        """Publish what an order mutation published to the merchant's subscriptions, in the
        sandbox's event shapes; the ledger entries."""
        _, by_type = self._subscriptions_by_type(merchant_id)
        outgoing = self._outgoing(occurrences, by_type, list(self.sandbox.config.event_shapes), random.Random())
        return self._publish_recorded(outgoing, list(outgoing))

    def _subscriptions_by_type(self, merchant_id: str) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """The merchant's active subscriptions, and by the event type they receive (a deprecated
        type receives its successor's)."""
        subscriptions = self.subscriptions.active(merchant_id)
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for subscription in subscriptions:
            by_type[DEPRECATED_EVENT_TYPES.get(subscription["event_type"], subscription["event_type"])].append(
                subscription
            )
        return subscriptions, by_type

    def _outgoing(
        self,
        occurrences: list[Occurrence],
        by_type: dict[str, list[dict[str, Any]]],
        shapes: Sequence[str],
        rng: random.Random,
    ) -> list[dict[str, Any]]:
        """Each occurrence as an event to each subscription of its type, in each shape: the
        ledger entry and the PutEvents entry."""
        return [
            self._event(occurrence, subscription, shape, None, rng)
            for occurrence in occurrences
            for subscription in by_type.get(occurrence.type, [])
            # A webhook gets the payload of its API version, the 2024-11-01 one.
            for shape in (["2024-11-01"] if subscription.get("webhook") else shapes)
        ]

    def _acting_merchant(self, request: EmitRequest) -> dict[str, Any]:
        if request.installation_id:
            installation = self.sandbox.installation(request.installation_id)
            return self.sandbox.merchant(installation["merchant_id"])
        if request.merchant_id:
            return self.sandbox.merchant(request.merchant_id)
        row = self.db.one(
            "SELECT merchant_id FROM installations WHERE status = 'installed' ORDER BY created_at LIMIT 1"
        )
        return self.sandbox.merchant(row["merchant_id"] if row else None)

    def _event(
        self, occurrence: Occurrence, subscription: dict[str, Any], shape: str, kind: str | None, rng: random.Random
    ) -> dict[str, Any]:
        # Published under the subscription's type: a deprecated name for its successor's events.
        occurrence = dataclasses.replace(occurrence, type=subscription["event_type"])
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        when = iso(occurrence.at)
        body = detail(
            shape,
            occurrence,
            event_id=event_id,
            subscription_id=subscription["subscription_id"],
            installation_id=subscription["installation_id"],
            when=when,
            context_keys=self.sandbox.config.event_context_keys,
        )
        source = subscription["source_name"]
        resources = occurrence.resources
        if kind:
            source, body, resources = malform(kind, source, body, rng, resources)
        import json

        return {
            **({"webhook": json.loads(subscription["webhook"])} if subscription.get("webhook") else {}),
            "region": subscription["region"],
            "bus": subscription["source_name"],
            "entry": {
                "Source": source,
                "DetailType": occurrence.type,
                "Detail": json.dumps(body),
                "Resources": resources,
                **({"Time": datetime.fromtimestamp(occurrence.at, UTC)} if occurrence.at else {}),
            },
            "ledger": {
                "event_id": event_id,
                "type": occurrence.type,
                "shape": shape,
                "installation_id": subscription["installation_id"],
                "subscription_id": subscription["subscription_id"],
                "source": source,
                "resources": resources,
                "order_id": occurrence.order_id,
                "malformed": kind,
                "deliveries": 0,
                "envelope_ids": [],
                "delivered": False,
                "error": "",
                "published_at": when,
            },
        }

    def _publish_recorded(self, outgoing: list[dict[str, Any]], deliveries: list[dict[str, Any]]) -> list[dict]:
        """Publish ``deliveries`` (events of ``outgoing``, some more than once) with the
        ledger holding each event before it is published (as not delivered yet), so an emit
        that fails half way still shows every event it meant to send; then record the
        outcome. The ledger entries."""
        entries = [event["ledger"] for event in outgoing]
        seqs = self.db.append_ledger(entries)
        seq_of = {id(event["ledger"]): seq for event, seq in zip(outgoing, seqs, strict=True)}
        try:
            self._publish([event for event in deliveries if "webhook" not in event])
        finally:
            self.db.update_ledger(dict(zip(seqs, entries, strict=True)))
        for event in deliveries:  # in the background: the mutation does not wait for a webhook
            if "webhook" in event:
                self.webhooks.submit(seq_of[id(event["ledger"])], event)
        return entries

    def _publish(self, deliveries: list[dict[str, Any]]) -> None:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for event in deliveries:
            groups[(event["region"], event["bus"])].append(event)
        for (region, bus), events in groups.items():
            client = self.subscriptions.events_client(region)
            try:
                client.describe_event_bus(Name=bus)
            except client.exceptions.ResourceNotFoundException:
                for event in events:
                    event["ledger"]["error"] = f"no event bus is associated with {bus}"
                continue
            except Exception as exc:
                for event in events:
                    event["ledger"]["error"] = f"the local AWS did not answer ({type(exc).__name__})"
                continue
            for start in range(0, len(events), 10):
                self._put_events(client, bus, events[start : start + 10])

    def _put_events(self, client: Any, bus: str, batch: list[dict[str, Any]]) -> None:
        """PutEvents for up to ten events; the entries PutEvents reports as failed (and the
        whole batch when the call itself fails) are sent again with backoff, up to
        ``PUBLISH_ATTEMPTS`` times. What still fails keeps its error in the ledger."""
        pending = list(batch)

        def send() -> list[dict[str, Any]]:
            """One PutEvents of what is pending; what failed (and is pending now)."""
            nonlocal pending
            try:
                answer = client.put_events(Entries=[{**event["entry"], "EventBusName": bus} for event in pending])
            except Exception as exc:  # the local AWS did not answer: the whole batch again
                for event in pending:
                    event["ledger"]["error"] = f"the local AWS did not answer ({type(exc).__name__})"
                return pending
            failed = []
            for event, result in zip(pending, answer["Entries"], strict=True):
                ledger = event["ledger"]
                if "EventId" in result:
                    ledger["deliveries"] += 1
                    ledger["envelope_ids"].append(result["EventId"])
                    ledger["delivered"] = True
                    ledger["error"] = ""
                else:
                    ledger["error"] = f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"
                    failed.append(event)
            pending = failed
            return failed

        Retrying(
            stop=stop_after_attempt(PUBLISH_ATTEMPTS),
            wait=wait_random_exponential(multiplier=PUBLISH_BACKOFF_S, max=2.0),
            retry=retry_if_result(bool),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )(send)
