"""Parsing Buy with Prime events: the envelope, the three detail shapes, resources."""

from __future__ import annotations

import json

import pytest

from bwp_workshop.core.events import (
    SHAPE_2024_01,
    SHAPE_2024_11,
    SHAPE_LEGACY,
    MalformedEvent,
    parse_event,
    parse_resource,
)

from .doubles import BP, envelope


def test_the_2024_11_01_shape() -> None:
    body = envelope("REFUND_REQUESTED", resources=[f"businessProduct/{BP}/order/o-1/refund/r-9"])
    body["detail"]["data"] = {"order": {"id": "o-1"}}
    event = parse_event(json.dumps(body))
    assert event.shape == SHAPE_2024_11
    assert event.event_id == body["detail"]["eventId"] != body["id"]
    assert event.envelope_id == body["id"]
    assert event.event_type == "REFUND_REQUESTED"
    assert event.installation_id == "inst-1"
    assert event.idempotency_key == f"idem-{event.event_id}"
    assert event.subscription_id == "sub-1"
    assert (event.order_id, event.id_of("refund"), event.business_product_id) == ("o-1", "r-9", BP)


def test_the_legacy_shape_takes_its_type_and_order_from_detail() -> None:
    body = envelope("ORDER_PLACED", shape="legacy", resources=[])
    del body["detail-type"]
    body["detail"]["orderIdentifier"] = {"orderId": "o-7"}
    event = parse_event(body)
    assert (event.shape, event.event_type, event.order_id, event.installation_id) == (
        SHAPE_LEGACY,
        "ORDER_PLACED",
        "o-7",
        "inst-1",
    )


def test_detail_type_wins_over_the_detail_fields() -> None:
    body = envelope("PACKAGE_DELIVERED")
    body["detail"]["eventDescriptor"] = "SOMETHING_ELSE"
    assert parse_event(body).event_type == "PACKAGE_DELIVERED"
    del body["detail-type"]
    assert parse_event(body).event_type == "SOMETHING_ELSE"


def test_the_thin_2024_01_01_shape_parses_and_names_its_tenant_by_business_product() -> None:
    body = envelope("RETURN_STARTED", shape="2024-01-01", resources=[f"businessProduct/{BP}/order/o-1/return/x-1"])
    event = parse_event(body)
    assert (event.shape, event.event_type, event.installation_id) == (SHAPE_2024_01, "RETURN_STARTED", None)
    assert event.business_product_id == BP
    assert event.event_id == body["id"]  # no detail.eventId: the envelope id
    assert (event.order_id, event.id_of("return")) == ("o-1", "x-1")
    with pytest.raises(MalformedEvent, match="no installation id"):
        parse_event(body, require_installation=True)


def test_a_detail_of_no_known_shape_is_kept_as_other() -> None:
    body = {**envelope("STORE_SETTINGS_CHANGED", resources=[f"businessProduct/{BP}"]), "detail": {"garbage": "x"}}
    event = parse_event(body)
    assert (event.shape, event.event_type, event.business_product_id) == ("other", "STORE_SETTINGS_CHANGED", BP)
    assert event.event_id == body["id"]


@pytest.mark.parametrize(
    ("path", "kind", "pairs"),
    [
        (f"businessProduct/{BP}/order/o-1", "order", (("order", "o-1"),)),
        (f"businessProduct/{BP}/order/o-1/refund/r-1", "refund", (("order", "o-1"), ("refund", "r-1"))),
        (f"businessProduct/{BP}/order/o-1/return/x-1", "return", (("order", "o-1"), ("return", "x-1"))),
        (f"businessProduct/{BP}/order/o-1/delivery/d-1", "delivery", (("order", "o-1"), ("delivery", "d-1"))),
        (f"businessProduct/{BP}/items/sku-1", "items", (("items", "sku-1"),)),
        (f"businessProduct/{BP}/personalDataTask/t-1/", "personalDataTask", (("personalDataTask", "t-1"),)),
    ],
)
def test_each_resource_kind_parses_generically(path: str, kind: str, pairs: tuple[tuple[str, str], ...]) -> None:
    resource = parse_resource(path)
    assert (resource.business_product_id, resource.kind, resource.pairs) == (BP, kind, pairs)


def test_resource_ids_of_an_event_collect_every_kind() -> None:
    body = envelope(
        "PACKAGE_DELIVERED",
        resources=[f"businessProduct/{BP}/order/o-1/delivery/d-1", f"businessProduct/{BP}/items/sku-2"],
    )
    assert parse_event(body).resource_ids() == {"order": "o-1", "delivery": "d-1", "items": "sku-2"}


def test_an_event_without_order_resources_has_no_order() -> None:
    event = parse_event(envelope("BUYABILITY_CHANGED", resources=[f"businessProduct/{BP}/items/sku-1"]))
    assert event.order_id is None and event.id_of("items") == "sku-1"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", "not JSON"),
        ("[1, 2]", "not an object"),
        (json.dumps({**envelope(), "source": "com.example.shop"}), "not a Buy with Prime event"),
        (json.dumps({k: v for k, v in envelope().items() if k != "source"}), "not a Buy with Prime event"),
        (json.dumps({**envelope(), "detail-type": "", "detail": {"garbage": "x"}}), "no event type"),
        (json.dumps({**envelope(), "detail": "text"}), "not an object"),
        (json.dumps({k: v for k, v in envelope().items() if k != "id"}), "no id"),
        (json.dumps(envelope(resources=["businessProduct/bp/order"])), "kind/id pairs"),
        (json.dumps(envelope(resources=["businessProduct//order/o-1"])), "kind/id pairs"),
    ],
)
def test_malformed_bodies_say_why(body: str, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        parse_event(body)


@pytest.mark.parametrize(
    "source",
    [
        "aws.partner/buywithprime-evil/x",  # a look-alike that starts with the prefix
        "aws.partner/buywithprimeZZZ",
        "aws.partner/buywithprime",  # the prefix alone
        "aws.partner/buywithprime/",
    ],
)
def test_a_look_alike_source_is_not_a_buy_with_prime_event(source: str) -> None:
    with pytest.raises(MalformedEvent, match="not a Buy with Prime event"):
        parse_event({**envelope(), "source": source})


def test_only_the_subscribed_source_is_accepted_when_one_is_given() -> None:
    body = envelope()
    assert parse_event(body, sources=(body["source"],)).source == body["source"]
    other = {**body, "source": "aws.partner/buywithprime/another-partner"}
    assert parse_event(other).source == other["source"]  # a Buy with Prime source...
    with pytest.raises(MalformedEvent, match="is not the subscribed"):  # ...but not ours
        parse_event(other, sources=(body["source"], "bwp-workshop.test-events"))
