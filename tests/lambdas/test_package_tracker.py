"""PACKAGE_TRACKER_MILESTONE_CHANGED names its tracker, not an order
(``businessProduct/<bp>/carrier/<carrierCode>/tracker/<trackingNumber>``,
package_tracker_milestone_changed); the handler follows it up with the ``packageTracker`` query
(tracking-queries-packagetracker), once per tracker per batch, and keeps the tracker's carrier,
number and latest milestone in the record (``bwp_workshop.core.data_record.TRACKER``)."""

from __future__ import annotations

from typing import Any

from bwp_workshop.core.data_record import ATTRIBUTES, TRACKER

from .doubles import BP, FakeBwp, envelope, error_response, invoke, sqs_event, stored

TRACKED = f"businessProduct/{BP}/carrier/ups/tracker/1Z-1"


def _milestone(resource: str = TRACKED) -> dict[str, Any]:
    return envelope("PACKAGE_TRACKER_MILESTONE_CHANGED", resources=[resource], installation=None)


def test_a_milestone_event_is_followed_up_with_the_package_tracker_query(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp
) -> None:
    bodies = [_milestone(), _milestone(), _milestone(f"businessProduct/{BP}/carrier/usps/tracker/9400-2")]
    assert invoke(handler_module, processor, sqs_event(*bodies)) == {"batchItemFailures": []}

    items = stored(tables)
    first = items[bodies[0]["detail"]["eventId"]]
    assert first["installation_id"] == "inst-1" and first["installation_from"] == "businessProduct"
    assert {name: first[name] for name in TRACKER} == {
        "carrier_code": "ups",
        "tracking_number": "1Z-1",
        "tracker_milestone": "OUT_FOR_DELIVERY",
        "tracker_milestone_at": "2026-11-28T06:55:00Z",
    }
    assert first["enriched"] and "order_id" not in first
    # A tracker the API does not know (packageTracker: null): its ids from the resource, no milestone.
    unknown = items[bodies[2]["detail"]["eventId"]]
    assert (unknown["carrier_code"], unknown["tracking_number"]) == ("usps", "9400-2")
    assert "tracker_milestone" not in unknown and unknown["enriched"]
    # Once per tracker per batch, with the documented input.
    calls = [call for call in bwp.graphql_requests if "packageTracker(" in call["query"]]
    assert sorted(
        call["variables"]["packageTrackerInput"]["packageTrackerIdentifier"]["carrierCode"] for call in calls
    ) == [
        "ups",
        "usps",
    ]
    assert set(TRACKER) <= set(ATTRIBUTES)


def test_other_events_send_no_package_tracker_query(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp
) -> None:
    assert invoke(handler_module, processor, sqs_event(envelope("ORDER_CONFIRMED"))) == {"batchItemFailures": []}
    assert bwp.queries("packageTracker(") == 0
    assert not set(TRACKER) & set(next(iter(stored(tables).values())))


def test_a_tracker_the_api_refuses_is_stored_unenriched(
    handler_module: Any, processor: Any, tables: dict[str, Any], bwp: FakeBwp
) -> None:
    """The query needs the "View Package Tracking Milestone Changes" scope (tracking-queries-packagetracker):
    without it the API denies it, a permanent refusal, so the event is kept without the API's facts."""
    body = _milestone()
    original = bwp.graphql

    def deny_tracker(request: Any) -> Any:
        if b"packageTracker(" in request.content:
            return error_response("AccessDeniedError", "no tracking scope")
        return original(request)

    bwp.graphql = deny_tracker  # type: ignore[method-assign]
    assert invoke(handler_module, processor, sqs_event(body)) == {"batchItemFailures": []}
    (item,) = stored(tables).values()
    assert not item["enriched"] and "AccessDeniedError" in item["unenriched_reason"]
    assert (item["carrier_code"], item["tracking_number"]) == ("ups", "1Z-1") and "tracker_milestone" not in item
