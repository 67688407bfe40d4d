"""A merchant who installs the app after notebook 05 chose the webhook gets the webhook too
(``BWP_EVENT_DESTINATION=webhook``): 05's step registers the webhook and its kind of auth profile
(no secret), and the OAuth app, at the install, makes the merchant's own auth profile from its
client credentials (events-mutations-createauthprofile) and subscribes the merchant to the webhook
with it (create-and-delete-event-subscriptions); the merchant's business product is recorded,
its uninstall deletes its subscriptions and its profile (events-mutations-deleteauthprofile),
and notebook 99's step deletes the others' webhook subscriptions and profiles."""

from __future__ import annotations

import secrets
import sqlite3

import pytest

from bwp_workshop import aws, names
from bwp_workshop.core import webhook_auth
from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.outputs import write_outputs
from bwp_workshop.settings import Settings
from bwp_workshop.steps import subscriptions, tenants, webhook_subscriptions
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle
from bwp_workshop.testing.tables import create_business_product_table, create_token_table
from oauth_app.app import create_app
from oauth_app.config import AppConfig
from tests.oauth_app.serving import in_thread

pytestmark = pytest.mark.server  # the app listens on a port


def auth_profiles(settings: Settings, installation_id: str) -> set[str]:
    """The installation's auth profiles in the served sandbox's database (read only: no page
    documents a query of them)."""
    path = settings.sandbox_dir / "sandbox.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute("SELECT auth_profile_id FROM auth_profiles WHERE installation_id = ?", (installation_id,))
        return {row[0] for row in rows}


def test_a_merchant_installed_after_05_chose_the_webhook_is_subscribed_to_the_webhook(
    local_sandbox: SandboxHandle,
) -> None:
    sandbox, base, suffix = local_sandbox, local_sandbox.settings, secrets.token_hex(4)
    tokens = create_token_table(base, f"tokens-{suffix}")
    products = create_business_product_table(base, f"business-products-{suffix}")
    write_outputs(
        base, {names.INFRA_STACK: {names.OUT_TOKEN_TABLE: tokens.name, names.OUT_BUSINESS_PRODUCT_TABLE: products.name}}
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    registration = sandbox.client.register_app(f"{url}/launch", f"{url}/install", f"{url}/settings", f"{url}/uninstall")
    client_id, client_secret = registration.client_id, registration.client_secret.get_secret_value()
    config = AppConfig(
        token_table_name=tokens.name,
        app_base_url=url,
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=base.authorize_url,
        token_url=base.token_url,
        public_key=base.public_key,
        graphql_url=base.graphql_url,
        api_version=base.api_version,
        business_product_table=products.name,
        event_destination_parameter=names.EVENT_DESTINATION_PARAMETER,
    )
    app = create_app(config, table=tokens, business_product_table=products, ssm=aws.client("ssm", base))
    with in_thread(app, port):
        first = sandbox.client.install("merchant-01", app_id=registration.app_id)
        assert first.ok and first.installation_id, first
        settings: Settings = base.model_copy(
            update={
                "installation_id": first.installation_id,
                "client_id": client_id,
                "client_secret": registration.client_secret,
                "local_app_port": port,
                "event_source_name": f"supadupa-{suffix}",
            }
        )
        # 05 with the webhook chosen: this merchant's events to the webhook, the webhook registered.
        subscriptions.subscribe_events(settings=settings)
        assert webhook_subscriptions.subscribe_chosen_destination(settings, "webhook")
        stored = aws.client("ssm", base).get_parameter(Name=names.EVENT_DESTINATION_PARAMETER)["Parameter"]["Value"]
        assert client_secret not in stored and webhook_auth.webhook_secret(client_secret) not in stored

        second = sandbox.client.install("merchant-02", app_id=registration.app_id)
        assert second.ok and second.installation_id, second
        views = sandbox.client.subscriptions(second.installation_id)
        assert sorted(view["eventType"] for view in views) == sorted(names.SUBSCRIBED_EVENT_TYPES)
        assert {view["webhookUrl"] for view in views} == {f"{url}{names.WEBHOOK_PATH}"}
        # Its own profile, made by the app with the app's credentials (an alias: no secret in it).
        assert {view["authProfileId"] for view in views} == {
            webhook_auth.profile_alias(client_id, "oauth", second.installation_id)
        }
        assert webhook_auth.profile_alias(client_id, "oauth", first.installation_id) != views[0]["authProfileId"]
        merchant = {m["merchantId"]: m for m in sandbox.client.merchants()}["merchant-02"]
        assert BusinessProductMap(products).installation_of(merchant["businessProductId"]) == second.installation_id

        assert auth_profiles(base, second.installation_id) == {views[0]["authProfileId"]}

        removed = sandbox.client.uninstall(second.installation_id)
        assert removed.ok, removed
        assert sandbox.client.subscriptions(second.installation_id) == []
        assert auth_profiles(base, second.installation_id) == set()

        # 99: the first merchant's webhook subscriptions and profile, then the registration.
        assert auth_profiles(base, first.installation_id) == {
            webhook_auth.profile_alias(client_id, "oauth", first.installation_id)
        }
        assert tenants.unsubscribe_every_installation(settings) == {
            "subscriptions deleted": len(names.SUBSCRIBED_EVENT_TYPES),
            "installations that refused": 0,
        }
        assert sandbox.client.subscriptions() == [] and auth_profiles(base, first.installation_id) == set()
        assert tenants.registered(settings) is None
