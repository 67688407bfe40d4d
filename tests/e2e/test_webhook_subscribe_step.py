"""Notebook 05's webhook destination against the sandbox: with EventBridge chosen (the default)
it subscribes nothing; with the webhook chosen it makes an auth profile with the app's webhook
credentials (events-mutations-createauthprofile) and one webhook subscription per type to the
app's /webhooks/events (create-and-delete-event-subscriptions), records their business product,
deletes the EventBridge subscriptions (one path per event), registers the webhook (without a
secret) for the merchants who install later, and a second run reuses both."""

from __future__ import annotations

import pytest

from bwp_workshop import names
from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.errors import ConfigurationError
from bwp_workshop.steps import subscriptions, tenants, webhook_subscriptions
from bwp_workshop.testing.sandbox import SandboxHandle
from tests.e2e.installed import installation


def test_the_webhook_destination_subscribes_with_an_auth_profile_once(local_sandbox: SandboxHandle) -> None:
    with installation(local_sandbox) as found:
        settings, installed, products = found.settings, found.installed, found.products

        assert webhook_subscriptions.subscribe_chosen_destination(settings) == []  # EventBridge: the default
        with pytest.raises(ConfigurationError, match="Unknown event destination"):
            webhook_subscriptions.subscribe_chosen_destination(settings, "carrier-pigeon")

        bridged = subscriptions.subscribe_events(settings=settings)
        assert len(bridged) == len(names.SUBSCRIBED_EVENT_TYPES)
        made = webhook_subscriptions.subscribe_chosen_destination(settings, "webhook")
        # The events moved: the EventBridge subscriptions made first are gone (one path per event).
        # A webhook subscription is read back without a destination (no page shows one).
        listed = subscriptions.subscriptions(settings)
        assert {(s["kind"], s["destination"]) for s in listed} == {("webhook", "")}
        assert sorted(s["event_type"] for s in made) == sorted(names.SUBSCRIBED_EVENT_TYPES)
        assert {s["kind"] for s in made} == {"webhook"}
        merchant = local_sandbox.client.merchants()[0]
        assert BusinessProductMap(products).installation_of(merchant["businessProductId"]) == installed.installation_id
        views = local_sandbox.client.subscriptions(installed.installation_id)
        assert {view["webhookUrl"] for view in views} == {f"{settings.local_app_url}{names.WEBHOOK_PATH}"}
        (profile,) = {view["authProfileId"] for view in views}
        assert profile == webhook_subscriptions.profile_alias(settings, "oauth")
        assert installed.client_secret not in profile
        # Merchants who install from now on are subscribed to the webhook: the registration names
        # it and its kind of auth profile, and holds no secret.
        registered = tenants.registered(settings)
        assert registered is not None and registered.webhook_auth == {
            "kind": "oauth",
            "authEndpoint": f"{settings.local_app_url}{names.WEBHOOK_TOKEN_PATH}",
        }
        assert registered.destinations == (
            {"webhook": {"url": f"{settings.local_app_url}{names.WEBHOOK_PATH}", "method": "POST"}},
        )
        assert installed.client_secret not in registered.to_json()

        again = webhook_subscriptions.subscribe_webhook(settings=settings)
        assert sorted(s["subscription_id"] for s in again) == sorted(s["subscription_id"] for s in made)
        assert len(subscriptions.subscriptions(settings)) == len(names.SUBSCRIBED_EVENT_TYPES)
