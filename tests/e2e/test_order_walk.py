"""Notebook 06's order walk on the local target: one order driven with the documented mutations
(fulfilment started, the package shipped, cancelled by the carrier, the refund answered), each
step's events stored by the pipeline, in the order the pages give them."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bwp_workshop.errors import WorkshopError
from bwp_workshop.steps import orders as order_walk
from bwp_workshop.testing.pipeline_harness import provision, running
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app


def test_one_order_driven_through_its_life_stores_each_steps_events(local_sandbox: SandboxHandle) -> None:
    with installed_app(local_sandbox) as installed:
        pipeline = provision(installed)
        settings = pipeline.settings.model_copy(
            update={
                "installation_id": installed.installation_id,
                "client_id": installed.client_id,
                "client_secret": SecretStr(installed.client_secret),
            }
        )
        with running(pipeline):
            order_id = order_walk.place_order(settings)
            assert [
                r["event_type"] for r in order_walk.wait_for_order_events(order_id, ["ORDER_CONFIRMED"], settings)
            ] == ["ORDER_CONFIRMED"]
            started = order_walk.start_fulfilment(order_id, settings)
            assert started["execution state"] == "STARTED" and started["packages"].endswith(" PENDING")
            shipped = order_walk.move_package(order_id, "IN_TRANSIT", settings)
            assert shipped["packages"].endswith(" IN_TRANSIT")
            # The ship cell run twice: one line saying what to do, and nothing changed.
            with pytest.raises(WorkshopError, match="InvalidPackageDeliveryDetailStateTransition") as again:
                order_walk.move_package(order_id, "IN_TRANSIT", settings)
            assert "run the cell that places the order" in str(again.value.hint)
            cancelled = order_walk.move_package(order_id, "CANCELLED", settings, reason="UNDELIVERABLE")
            assert cancelled["packages"].endswith(" CANCELLED") and " PENDING " in cancelled["refunds"]
            refunded = order_walk.refund_in_full(order_id, settings)
            assert " SUCCESS " in refunded["refunds"]
            stored = order_walk.wait_for_order_events(order_id, ["REFUND_COMPLETED"], settings)
    types = [record["event_type"] for record in stored]
    # The cancellation's two events are published together (the same moment): either may come first.
    assert types[:2] == ["ORDER_CONFIRMED", "PACKAGE_DELIVERY_IN_TRANSIT"] and types[-1] == "REFUND_COMPLETED"
    assert sorted(types[2:4]) == ["PACKAGE_DELIVERY_CANCELLED", "REFUND_REQUESTED"]
    assert all(record["enriched"] for record in stored)
