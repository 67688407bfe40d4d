"""Event types, order lifecycles, payload shapes and malformations (no AWS needed)."""

from __future__ import annotations

import random
import re

import pytest

from bwp_workshop import names
from bwp_workshop.sandbox import event_shapes, order_lifecycles, order_machine
from bwp_workshop.sandbox.merchants import line_value, new_order, seed_merchants
from tests import events as samples

# The documented resource paths (the event pages): order and its delivery, return and refund;
# carrier/<code>/tracker/<number> (package_tracker_milestone_changed); items/<id>
# (buyability_changed); item-quantities/<id> (v2024-01-01 inventory_changed).
RESOURCE = re.compile(r"^businessProduct/bp-[0-9a-f-]{36}/(order/order-[0-9a-f-]{36}(/(delivery|return|refund)/\S+)?|"
                      r"carrier/UPS/tracker/1Z[0-9A-F]{10}|(items|item-quantities)/prod-\S+|"
                      r"personalDataTask/task-[0-9a-f]{12})$")  # fmt: skip


@pytest.mark.parametrize(
    ("lifecycle", "types"),
    [
        ("delivered", ["ORDER_CONFIRMED", "PACKAGE_DELIVERY_IN_TRANSIT", "PACKAGE_TRACKER_MILESTONE_CHANGED",
                       "PACKAGE_DELIVERED"]),
        # REFUND_REQUESTED with RETURN_PACKAGE_DELIVERED (change-the-state-of-a-return-package-in-the-sandbox);
        # REFUND_COMPLETED after the merchant's refund update.
        ("returned", ["ORDER_CONFIRMED", "PACKAGE_DELIVERY_IN_TRANSIT", "PACKAGE_TRACKER_MILESTONE_CHANGED",
                      "PACKAGE_DELIVERED", "RETURN_STARTED", "RETURN_PACKAGE_IN_TRANSIT", "RETURN_PACKAGE_DELIVERED",
                      "REFUND_REQUESTED", "RETURN_ITEM_GRADED", "REFUND_COMPLETED", "RETURN_COMPLETED"]),
        ("cancelled", ["ORDER_CONFIRMED", "PACKAGE_DELIVERY_CANCELLED", "REFUND_REQUESTED", "REFUND_COMPLETED"]),
        ("return_failed", ["ORDER_CONFIRMED", "PACKAGE_DELIVERY_IN_TRANSIT", "PACKAGE_TRACKER_MILESTONE_CHANGED",
                           "PACKAGE_DELIVERED", "RETURN_STARTED", "RETURN_PACKAGE_IN_TRANSIT",
                           "RETURN_PACKAGE_DELIVERY_FAILED"]),
    ],
)  # fmt: skip
def test_lifecycles_walk_an_order_through_its_events(lifecycle: str, types: list[str]) -> None:
    assert order_lifecycles.lifecycle_types(lifecycle) == types


def test_every_order_event_type_is_in_some_lifecycle() -> None:
    walked = {t for name in order_lifecycles.LIFECYCLES for t in order_lifecycles.lifecycle_types(name)}
    assert walked == set(names.ORDER_EVENT_TYPES)


def test_an_order_walked_through_returned_ends_refunded_with_matching_ids() -> None:
    merchant = seed_merchants(1)[0]
    bp = merchant["businessProductId"]
    rng = random.Random(3)
    order = new_order(merchant, rng)
    steps = len(order_lifecycles.LIFECYCLES["returned"])
    occurrences = order_lifecycles.walk(order, "returned", rng, [1000.0 + n for n in range(steps)], bp)
    package = order["packageInformation"]["details"][0]
    returned = order["returns"]["details"][0]
    refund = order["refunds"]["details"][0]
    assert package["state"] == "DELIVERED"
    codes = [m["status"]["code"] for m in package["packageTracker"]["milestones"]]
    assert codes == ["IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]
    assert returned["state"] == "COMPLETED" and returned["_grade"] in ("SELLABLE", "DEFECTIVE", "DAMAGED")
    assert [p["state"] for p in returned["returnPackageDetails"]] == ["DELIVERED"]
    assert order["metadata"]["executionState"] == "STARTED"
    assert refund["state"] == "SUCCESS"  # order-objects-refundstateinput
    (returned_line,) = [line for line in order["lineItems"] if line["id"] in returned["_lineItemIds"]]
    assert refund["refundTotal"]["totalAmount"]["amount"] == pytest.approx(line_value(returned_line))
    by_type = {o.type: o for o in occurrences}
    base = f"businessProduct/{bp}/order/{order['id']}"
    assert by_type["ORDER_CONFIRMED"].resources == [base]
    assert by_type["PACKAGE_DELIVERED"].resources == [f"{base}/delivery/{package['id']}"]
    tracker = package["packageTracker"]["packageTrackerIdentifier"]
    assert by_type["PACKAGE_TRACKER_MILESTONE_CHANGED"].resources == [
        f"businessProduct/{bp}/carrier/{tracker['carrierCode']}/tracker/{tracker['trackingNumber']}"
    ]
    assert by_type["RETURN_ITEM_GRADED"].resources == [f"{base}/return/{returned['id']}"]
    assert by_type["REFUND_COMPLETED"].resources == [f"{base}/refund/{refund['id']}"]
    # The data snapshots the event pages show: the refund requested (as it was then: PENDING), the
    # refund completed, the order confirmed with its metadata and customer as lists.
    requested = by_type["REFUND_REQUESTED"].data["order"]
    assert (requested["id"], requested["aliases"]) == (order["id"], order["aliases"])
    assert [(r["id"], r["state"]) for r in requested["refunds"]["details"]] == [(refund["id"], "PENDING")]
    completed = by_type["REFUND_COMPLETED"].data["order"]["refunds"]
    assert [(r["details"]["id"], r["details"]["state"]) for r in completed] == [(refund["id"], "SUCCESS")]
    confirmed = by_type["ORDER_CONFIRMED"].data["order"]
    assert confirmed["metadata"][0]["executionState"] == "NOT_STARTED"
    assert confirmed["customer"][0]["contact"]["email"].endswith("@example.com")
    assert {line["id"] for line in confirmed["lineItems"]} == {line["id"] for line in order["lineItems"]}
    (done,) = by_type["RETURN_COMPLETED"].data["order"]["returns"]["details"]
    assert (done["id"], done["state"]) == (returned["id"], "COMPLETED") and "_lineItemIds" not in done
    assert by_type["PACKAGE_DELIVERED"].data == {} and by_type["RETURN_ITEM_GRADED"].data == {}
    for occurrence in occurrences:
        assert all(RESOURCE.match(resource) for resource in occurrence.resources), occurrence.resources


def test_catalog_and_privacy_events_name_their_resources() -> None:
    merchant = seed_merchants(1)[0]
    rng = random.Random(1)
    for event_type in names.CATALOG_EVENT_TYPES:
        assert RESOURCE.match(order_lifecycles.catalog_occurrence(merchant, rng, event_type).resources[0])
    for event_type in names.PRIVACY_EVENT_TYPES:
        assert RESOURCE.match(order_lifecycles.privacy_occurrence(merchant, rng, event_type).resources[0])
    assert set(names.EVENT_TYPES) >= {"BUYABILITY_CHANGED", "INVENTORY_CHANGED", "PERSONAL_DATA_DELETION_TASK_FAILED"}


def _occurrence() -> order_machine.Occurrence:
    return order_machine.Occurrence(
        "ORDER_CONFIRMED", ["businessProduct/bp-1/order/o-1"], "o-1", {"order": {"id": "o-1", "aliases": []}}
    )


def test_the_2024_11_01_shape_carries_the_webhook_payload_and_the_installation() -> None:
    detail = event_shapes.detail(
        "2024-11-01", _occurrence(), event_id="e-1", subscription_id="s-1", installation_id="i-1", when="T"
    )
    assert detail == {
        "eventId": "e-1",
        "idempotencyKey": detail["idempotencyKey"],
        "eventDescriptor": "ORDER_CONFIRMED",
        "resources": ["businessProduct/bp-1/order/o-1"],
        "apiVersion": "2024-11-01",
        "subscriptionId": "s-1",
        "eventTime": "T",
        "data": {"order": {"id": "o-1", "aliases": []}},
        "contextKeys": {"installationId": "i-1"},
    }
    again = event_shapes.detail(
        "2024-11-01", _occurrence(), event_id="e-1", subscription_id="s-1", installation_id="i-1", when="T2"
    )
    assert again["idempotencyKey"] == detail["idempotencyKey"]  # stable for a redelivered event


def test_the_legacy_and_2024_01_01_shapes() -> None:
    legacy = event_shapes.detail(
        "legacy", _occurrence(), event_id="e", subscription_id="s", installation_id="i", when="T"
    )
    assert legacy == {
        "eventId": "e",
        "eventType": "ORDER_CONFIRMED",
        "contextKeys": {"installationId": "i"},
        "orderIdentifier": {"orderId": "o-1"},
    }
    thin = event_shapes.detail(
        "2024-01-01", _occurrence(), event_id="e", subscription_id="s", installation_id="i", when="T"
    )
    assert thin == {}


def test_without_context_keys_the_2024_11_01_shape_is_the_public_schema() -> None:
    detail = event_shapes.detail(
        "2024-11-01",
        _occurrence(),
        event_id="e-1",
        subscription_id="s-1",
        installation_id="i-1",
        when="T",
        context_keys=False,
    )
    assert "contextKeys" not in detail and detail["resources"] == ["businessProduct/bp-1/order/o-1"]


def test_one_documented_shape_is_the_default_and_the_others_are_on_a_switch() -> None:
    """One shape per subscription (its API version, 2024-11-01), without the contextKeys no event
    page shows; the thin and legacy shapes only when asked for."""
    from bwp_workshop.sandbox.config import SandboxSettings

    default = SandboxSettings()
    assert (default.event_shapes, default.event_context_keys) == (["2024-11-01"], False)
    asked = SandboxSettings(event_shapes=["2024-11-01", "2024-01-01", "legacy"], event_context_keys=True)
    assert (asked.event_shapes, asked.event_context_keys) == (["2024-11-01", "2024-01-01", "legacy"], True)


@pytest.mark.parametrize(
    ("shape", "sample", "context_keys"),
    [
        ("2024-11-01", samples.SHAPES["2024-11-01"], True),
        ("2024-11-01", samples.SHAPES["2024-11-01 without contextKeys"], False),
        ("2024-01-01", samples.SHAPES["2024-01-01"], True),
        ("legacy", samples.SHAPES["legacy"], True),
    ],
)
def test_the_sandbox_emits_the_structure_of_the_event_samples(shape: str, sample: str, context_keys: bool) -> None:
    expected = samples.event(sample)
    detail = event_shapes.detail(
        shape,
        _occurrence(),
        event_id="e-1",
        subscription_id="s-1",
        installation_id="i-1",
        when="T",
        context_keys=context_keys,
    )
    assert set(detail) == set(expected["detail"])
    assert all(path.startswith("businessProduct/") for path in expected["resources"])


@pytest.mark.parametrize("kind", event_shapes.MALFORMATIONS)
def test_malformations_can_never_be_recorded(kind: str) -> None:
    from bwp_workshop.core.events import MalformedEvent, parse_event

    body = {
        "eventId": "e",
        "contextKeys": {"installationId": "i"},
        "eventDescriptor": "ORDER_CONFIRMED",
        "apiVersion": "2024-11-01",
        "resources": ["businessProduct/bp-1/order/o-1"],
    }
    resources = ["businessProduct/bp-1/order/o-1"]
    source, broken, paths = event_shapes.malform(kind, "aws.partner/buywithprime/x", body, random.Random(0), resources)
    assert body["contextKeys"] == {"installationId": "i"} and resources == ["businessProduct/bp-1/order/o-1"]
    envelope = {"id": "x", "source": source, "detail-type": "ORDER_CONFIRMED", "time": "T", "resources": paths}
    if kind == "foreign_source":
        assert source == event_shapes.FOREIGN_SOURCE and broken == body
        with pytest.raises(MalformedEvent, match="not a Buy with Prime event"):
            parse_event({**envelope, "detail": broken})
        return
    assert source == "aws.partner/buywithprime/x" and "contextKeys" not in broken
    if kind == "garbage_detail":
        with pytest.raises(MalformedEvent, match="kind/id pairs"):
            parse_event({**envelope, "detail": broken})
        return
    event = parse_event({**envelope, "detail": broken})  # well formed, but whose is it?
    assert event.installation_id is None
    if kind == "missing_installation":
        assert paths == ["order/o-1"] and event.business_product_id is None
    else:
        assert event.business_product_id.startswith("bp-unknown-") and event.order_id == "o-1"


def test_an_unknown_malformation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown malformation"):
        event_shapes.malform("shouty", "s", {}, random.Random(0))


def test_the_record_key_of_a_thin_event_is_its_envelope_id() -> None:
    assert event_shapes.record_key({"shape": "2024-11-01", "event_id": "e", "envelope_ids": ["x"]}) == "e"
    assert event_shapes.record_key({"shape": "2024-01-01", "event_id": "e", "envelope_ids": ["x", "y"]}) == "x"
    assert event_shapes.record_key({"shape": "2024-01-01", "event_id": "e", "envelope_ids": []}) is None


def test_seeded_merchants_are_the_same_every_time() -> None:
    assert seed_merchants(3) == seed_merchants(3)
    first, second = seed_merchants(2)
    assert first["businessProductId"] != second["businessProductId"]
    assert len(first["products"]) == 5
