"""The data record has one definition: what the event handler writes is what the notebooks
read (``core/data_record.py``)."""

from __future__ import annotations

from decimal import Decimal

from bwp_workshop.core import data_record
from bwp_workshop.core.events import parse_event
from tests.events import event as sample


def _written(name: str, **facts: object) -> dict:
    event = parse_event(sample(name))
    store = {"siteId": "site-1", "widgetId": "widget-1"}
    order = {
        "id": "order-1",
        "metadata": {"executionState": "STARTED"},
        "totalPrice": {"value": {"amount": "12.50", "currencyCode": "EUR"}},
        "lineItems": [{"id": "line-1"}],
    }
    return data_record.data_item(event, store, order, message_id="m-1", installation_id="inst-1", **facts)


def test_every_attribute_the_handler_writes_is_defined() -> None:
    enriched = _written("order_confirmed_2024_11_01.json", installation_from=data_record.FROM_CONTEXT_KEYS)
    unenriched = _written("package_delivered_2024_01_01.json", unenriched_reason="the API refused")
    for item in (enriched, unenriched):
        assert set(item) <= set(data_record.ATTRIBUTES), set(item) - set(data_record.ATTRIBUTES)
    assert set(data_record.ENRICHED) <= set(enriched)
    assert "unenriched_reason" in unenriched and unenriched["enriched"] is False


def test_order_facts_come_from_the_documented_fields() -> None:
    # sandbox-objects-ordermetadata (executionState), order-objects-ordertotalsummary (value).
    item = _written("order_confirmed_2024_11_01.json")
    assert (item["order_execution_state"], item["order_total_amount"], item["order_currency"]) == (
        "STARTED",
        Decimal("12.50"),
        "EUR",
    )
    assert item["order_line_count"] == 1


def test_an_order_answered_with_nulls_keeps_what_it_has() -> None:
    event = parse_event(sample("order_confirmed_2024_11_01.json"))
    order = {"id": "order-1", "metadata": None, "totalPrice": {"value": None}, "lineItems": None}
    item = data_record.data_item(event, {}, order, message_id="m-1", installation_id="inst-1")
    assert item["order_id"] == "order-1"
    assert not {"order_execution_state", "order_total_amount", "order_line_count"} & set(item)


def test_the_analytics_columns_are_record_attributes() -> None:
    assert set(data_record.COLUMNS) <= set(data_record.ATTRIBUTES)
    assert len(set(data_record.ATTRIBUTES)) == len(data_record.ATTRIBUTES)


def test_stored_numbers_read_back_as_plain_python() -> None:
    stored = {"order_total_amount": Decimal("12.50"), "order_line_count": Decimal(3), "resources": {Decimal("1")}}
    assert data_record.plain(stored) == {"order_total_amount": 12.5, "order_line_count": 3, "resources": [1]}
    assert isinstance(data_record.plain(Decimal(3)), int)


def test_a_refund_event_keeps_its_refunds_state_and_total() -> None:
    # sandbox-objects-refunddetails: the refund the event's resources name, from the order's refunds.
    envelope = sample("order_confirmed_2024_11_01.json")
    path = envelope["resources"][0] + "/refund/ref-1"
    envelope["resources"] = [path]
    envelope["detail-type"] = "REFUND_COMPLETED"
    if isinstance(envelope.get("detail"), dict) and "resources" in envelope["detail"]:
        envelope["detail"]["resources"] = [path]
        envelope["detail"]["eventDescriptor"] = "REFUND_COMPLETED"
    event = parse_event(envelope)
    refund = {
        "id": "ref-1",
        "state": "SUCCESS",
        "refundTotal": {"totalAmount": {"amount": "7.25", "currencyCode": "USD"}},
    }
    order = {"id": "order-1", "refunds": {"details": [{"id": "ref-0", "state": "PENDING"}, refund]}}
    item = data_record.data_item(event, {}, order, message_id="m-1", installation_id="inst-1")
    assert (item["refund_id"], item["refund_state"], item["refund_amount"]) == ("ref-1", "SUCCESS", Decimal("7.25"))
    assert "refund_state" not in _written("order_confirmed_2024_11_01.json")
