"""Notebook 05's subscribe step against the sandbox, in the documented forms: a fresh
installation has no subscriptions (Buy with Prime answers AccessDeniedError with null data,
events-queries-eventsubscriptions), subscribing records the subscriptions' business product
(their ``targetId``) for the installation, subscribing again changes nothing, and unsubscribing
deletes each one by its id."""

from __future__ import annotations

from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.steps import subscriptions
from bwp_workshop.testing.sandbox import SandboxHandle
from tests.e2e.installed import installation

TYPES = ("ORDER_CONFIRMED", "REFUND_REQUESTED")


def test_the_subscribe_step_lists_subscribes_records_and_unsubscribes(local_sandbox: SandboxHandle) -> None:
    with installation(local_sandbox) as found:
        suffix, installed, products = found.suffix, found.installed, found.products
        settings = found.settings.model_copy(update={"event_source_name": f"supadupa-{suffix}"})

        assert subscriptions.subscriptions(settings) == []  # none yet: AccessDenied, not a failure
        made = subscriptions.subscribe_events(TYPES, settings=settings)
        assert sorted(s["event_type"] for s in made) == sorted(TYPES)
        merchant = local_sandbox.client.merchants()[0]
        assert {s["target_id"] for s in made} == {merchant["businessProductId"]}
        assert all(s["destination"].endswith(f"aws.partner/buywithprime/supadupa-{suffix}") for s in made)
        assert {s["kind"] for s in made} == {"eventBridge"}
        assert BusinessProductMap(products).installation_of(merchant["businessProductId"]) == installed.installation_id

        again = subscriptions.subscribe_events(TYPES, settings=settings)
        assert sorted(s["subscription_id"] for s in again) == sorted(s["subscription_id"] for s in made)

        assert subscriptions.unsubscribe_events(settings) == 2
        assert subscriptions.subscriptions(settings) == []
