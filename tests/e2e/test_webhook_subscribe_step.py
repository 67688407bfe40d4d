"""Notebook 05's webhook destination against the sandbox: with EventBridge chosen (the default)
it subscribes nothing; with the webhook chosen it makes an auth profile with the app's webhook
credentials (events-mutations-createauthprofile) and one webhook subscription per type to the
app's /webhooks/events (create-and-delete-event-subscriptions), records their business product,
deletes the EventBridge subscriptions (one path per event), and a second run reuses both."""

from __future__ import annotations

import json
import secrets

import pytest
from pydantic import SecretStr

from bwp_workshop import names
from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.core.token_store import TokenStore
from bwp_workshop.core.tokens import TokenSet
from bwp_workshop.errors import ConfigurationError
from bwp_workshop.outputs import outputs_file
from bwp_workshop.steps import subscriptions, webhook_subscriptions
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app
from bwp_workshop.testing.tables import create_business_product_table, create_token_table


def test_the_webhook_destination_subscribes_with_an_auth_profile_once(local_sandbox: SandboxHandle) -> None:
    base = local_sandbox.settings
    suffix = secrets.token_hex(4)
    with installed_app(local_sandbox) as installed:
        tokens = create_token_table(base, f"tokens-{suffix}")
        TokenStore(tokens).put(installed.installation_id, TokenSet.from_response(installed.tokens))
        products = create_business_product_table(base, f"business-products-{suffix}")
        path = outputs_file(base)
        path.parent.mkdir(parents=True, exist_ok=True)
        infra = {names.OUT_TOKEN_TABLE: tokens.name, names.OUT_BUSINESS_PRODUCT_TABLE: products.name}
        path.write_text(json.dumps({names.INFRA_STACK: infra}))
        settings = base.model_copy(
            update={
                "installation_id": installed.installation_id,
                "client_id": installed.client_id,
                "client_secret": SecretStr(installed.client_secret),
            }
        )

        assert webhook_subscriptions.subscribe_chosen_destination(settings) == []  # EventBridge: the default
        with pytest.raises(ConfigurationError, match="Unknown event destination"):
            webhook_subscriptions.subscribe_chosen_destination(settings, "carrier-pigeon")

        bridged = subscriptions.subscribe_events(settings=settings)
        assert len(bridged) == len(names.SUBSCRIBED_EVENT_TYPES)
        made = webhook_subscriptions.subscribe_chosen_destination(settings, "webhook")
        # The events moved: the EventBridge subscriptions made first are gone (one path per event).
        assert {s["destination"] for s in subscriptions.subscriptions(settings)} == {"WebhookData"}
        assert sorted(s["event_type"] for s in made) == sorted(names.SUBSCRIBED_EVENT_TYPES)
        assert {s["destination"] for s in made} == {"WebhookData"}
        merchant = local_sandbox.client.merchants()[0]
        assert BusinessProductMap(products).installation_of(merchant["businessProductId"]) == installed.installation_id
        views = local_sandbox.client.subscriptions(installed.installation_id)
        assert {view["webhookUrl"] for view in views} == {f"{settings.local_app_url}{names.WEBHOOK_PATH}"}
        (profile,) = {view["authProfileId"] for view in views}
        assert profile == webhook_subscriptions.profile_alias(settings, "oauth")
        assert installed.client_secret not in profile

        again = webhook_subscriptions.subscribe_webhook(settings=settings)
        assert sorted(s["subscription_id"] for s in again) == sorted(s["subscription_id"] for s in made)
        assert len(subscriptions.subscriptions(settings)) == len(names.SUBSCRIBED_EVENT_TYPES)
