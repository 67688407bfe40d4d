"""Notebook 05's subscribe step against the sandbox, in the documented forms: a fresh
installation has no subscriptions (Buy with Prime answers AccessDeniedError with null data,
events-queries-eventsubscriptions), subscribing records the subscriptions' business product
(their ``targetId``) for the installation, subscribing again changes nothing, and unsubscribing
deletes each one by its id."""

from __future__ import annotations

import json
import secrets

from pydantic import SecretStr

from bwp_workshop import names
from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.core.token_store import TokenStore
from bwp_workshop.core.tokens import TokenSet
from bwp_workshop.outputs import outputs_file
from bwp_workshop.steps import subscriptions
from bwp_workshop.testing.sandbox import SandboxHandle, installed_app
from bwp_workshop.testing.tables import create_business_product_table, create_token_table

TYPES = ("ORDER_CONFIRMED", "REFUND_REQUESTED")


def test_the_subscribe_step_lists_subscribes_records_and_unsubscribes(local_sandbox: SandboxHandle) -> None:
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
                "event_source_name": f"supadupa-{suffix}",
            }
        )

        assert subscriptions.subscriptions(settings) == []  # none yet: AccessDenied, not a failure
        made = subscriptions.subscribe_events(TYPES, settings=settings)
        assert sorted(s["event_type"] for s in made) == sorted(TYPES)
        merchant = local_sandbox.client.merchants()[0]
        assert {s["target_id"] for s in made} == {merchant["businessProductId"]}
        assert all(s["destination"].endswith(f"aws.partner/buywithprime/supadupa-{suffix}") for s in made)
        assert BusinessProductMap(products).installation_of(merchant["businessProductId"]) == installed.installation_id

        again = subscriptions.subscribe_events(TYPES, settings=settings)
        assert sorted(s["subscription_id"] for s in again) == sorted(s["subscription_id"] for s in made)

        assert subscriptions.unsubscribe_events(settings) == 2
        assert subscriptions.subscriptions(settings) == []
