"""Buy with Prime events as the sandbox publishes them: the ``detail`` of each payload shape,
the data-table key of a published event, and the ways an event can be broken on purpose.

Each event is published in every shape asked for: ``2024-11-01`` (the webhook payload as
``detail``, plus ``contextKeys.installationId`` unless ``event_context_keys`` is off),
``legacy`` (``detail.eventType`` + ``detail.contextKeys``) and ``2024-01-01`` (empty
``detail``). What happened (the event type and the resources it names) comes from
``order_lifecycles.py``; the event types themselves are in ``bwp_workshop.names``.

A 2024-01-01 event has no id of its own: its identity is the EventBridge envelope's ``id``,
so its data record is keyed by that (:func:`record_key`). The bus delivers an event again
with the same envelope id, which the sandbox cannot do through PutEvents, so it never sends
a 2024-01-01 event twice.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from .order_machine import Occurrence

#: Ways an emitted event can be broken on purpose, to test a consumer's defences: each can
#: never be recorded. ``missing_installation``: no contextKeys and no business product in its
#: resources (no tenant); ``unknown_installation``: no contextKeys and a business product no
#: installation has; ``garbage_detail``: a detail of no known shape and resources that are not
#: kind/id paths; ``foreign_source``: not a Buy with Prime source (the rule never lets it in).
MALFORMATIONS = ("missing_installation", "unknown_installation", "garbage_detail", "foreign_source")
#: The shape whose events have no id but the envelope's.
THIN_SHAPE = "2024-01-01"


def record_key(entry: dict[str, Any]) -> str | None:
    """The data-table key of a ledger entry's event: its ``event_id``, or for a thin
    2024-01-01 event the id EventBridge gave it (None while it is undelivered)."""
    if entry.get("shape") == THIN_SHAPE:
        envelopes = entry.get("envelope_ids") or []
        return str(envelopes[0]) if envelopes else None
    return str(entry["event_id"])


#: The source of a ``foreign_source`` event: not Buy with Prime's.
FOREIGN_SOURCE = "com.example.not-buywithprime"


def detail(
    shape: str,
    occurrence: Occurrence,
    *,
    event_id: str,
    subscription_id: str,
    installation_id: str,
    when: str,
    context_keys: bool = True,
) -> dict[str, Any]:
    """The ``detail`` of an event in one of the shapes (``context_keys``: whether a
    2024-11-01 detail carries ``contextKeys.installationId``)."""
    if shape == "2024-01-01":
        return {}
    if shape == "legacy":
        legacy: dict[str, Any] = {
            "eventId": event_id,
            "eventType": occurrence.type,
            "contextKeys": {"installationId": installation_id},
        }
        if occurrence.order_id:
            legacy["orderIdentifier"] = {"orderId": occurrence.order_id}
        return legacy
    body = {
        "eventId": event_id,
        "idempotencyKey": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bwp-sandbox:{event_id}")),
        "eventDescriptor": occurrence.type,
        "resources": occurrence.resources,
        "apiVersion": "2024-11-01",
        "subscriptionId": subscription_id,
        "eventTime": when,
        "data": occurrence.data,
    }
    if context_keys:
        body["contextKeys"] = {"installationId": installation_id}
    return body


def _without_business_product(path: str) -> str:
    """``businessProduct/bp/order/o-1`` -> ``order/o-1``."""
    return "/".join(path.split("/")[2:]) if path.startswith("businessProduct/") else path


def malform(
    kind: str, source: str, body: dict[str, Any], rng: random.Random, resources: list[str] | None = None
) -> tuple[str, dict[str, Any], list[str]]:
    """The source, detail and resources of an event broken in the way ``kind`` names."""
    body = dict(body)
    resources = list(resources or [])
    if kind == "missing_installation":
        body.pop("contextKeys", None)
        # The same paths without their businessProduct: nothing names the tenant.
        resources = [_without_business_product(path) for path in resources]
        resources = [path for path in resources if path]
    elif kind == "unknown_installation":
        body.pop("contextKeys", None)
        unknown = f"bp-unknown-{rng.getrandbits(32):08x}"
        resources = [f"businessProduct/{unknown}/{_without_business_product(path)}".rstrip("/") for path in resources]
    elif kind == "garbage_detail":
        body = {"garbage": f"{rng.getrandbits(64):016x}", "note": "not a Buy with Prime event"}
        resources = [f"garbage/{rng.getrandbits(32):08x}/odd"]
    elif kind == "foreign_source":
        source = FOREIGN_SOURCE
    else:
        raise ValueError(f"unknown malformation {kind!r}; choose from {', '.join(MALFORMATIONS)}")
    if "resources" in body:
        body["resources"] = resources
    return source, body, resources
