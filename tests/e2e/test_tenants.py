"""Every installed merchant is a tenant, on a person's path: the real OAuth app (the image's
command line, the environment the workshop gives it) and a served sandbox whose events reach the
local AWS. A merchant installed before notebook 05 is subscribed by 05's step; a merchant a
person installs later in a browser, through the console's links and forms, is subscribed by the
app itself (its subscriptions' business product recorded as its own); ``sandbox emit
--installation <it>`` publishes to its subscriptions, 06's send for every merchant stores its
events, 07's analytics show it; its uninstall in the console deletes its subscriptions; 99's
step deletes the rest and the registration."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from bwp_workshop import aws, environments, names
from bwp_workshop.cli import main
from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.outputs import load_outputs, write_outputs
from bwp_workshop.settings import Settings
from bwp_workshop.steps import analytics, subscriptions, tenants
from bwp_workshop.testing.environment import clean_environ
from bwp_workshop.testing.pipeline_harness import Pipeline, event_stack_resources, running
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle
from bwp_workshop.testing.tables import create_business_product_table, create_data_table, create_token_table
from tests.oauth_app.serving import Dockerfile, serving, stage_image_tree
from tests.oauth_app.test_console_install import forms, links

TYPES = len(names.SUBSCRIBED_EVENT_TYPES)


def browser_install(sandbox: SandboxHandle, app_id: str, merchant_id: str) -> str:
    """A person signs in to the console as ``merchant_id``, clicks Install, then Allow; the
    installation id the console lists."""
    with httpx.Client(base_url=sandbox.url, follow_redirects=True, trust_env=False, timeout=30) as browser:
        signed_in = browser.get("/console", params={"merchant_id": merchant_id})
        consent = browser.get(next(link for link in links(signed_in.text) if app_id in link))
        allow = next(link for link in links(consent.text) if link.startswith("/_sandbox/console/install"))
        installed = browser.get(allow)
        assert installed.status_code == 200, installed.text
    [installation] = [i for i in sandbox.client.installations(merchant_id=merchant_id) if i["status"] == "installed"]
    return str(installation["installation_id"])


def test_a_merchant_installed_in_a_browser_is_a_tenant_until_it_uninstalls(
    local_sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, base, suffix = local_sandbox, local_sandbox.settings, secrets.token_hex(4)
    token_table, products, data_table = f"tokens-{suffix}", f"business-products-{suffix}", f"data-{suffix}"
    create_token_table(base, token_table)
    products_table = create_business_product_table(base, products)
    create_data_table(base, data_table)
    write_outputs(
        base, {names.INFRA_STACK: {names.OUT_TOKEN_TABLE: token_table, names.OUT_BUSINESS_PRODUCT_TABLE: products}}
    )

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    registration = sandbox.client.register_app(f"{url}/launch", f"{url}/install", f"{url}/settings", f"{url}/uninstall")
    settings: Settings = base.model_copy(
        update={
            "client_id": registration.client_id,
            "client_secret": registration.client_secret,
            "event_source_name": f"supadupa-{suffix}",
        }
    )
    # The app's environment as the workshop makes it (the stack's task definition, the local runtime).
    env = aws.subprocess_environment(settings, base=clean_environ())
    env.update(
        environments.app_environment(
            settings,
            token_table=token_table,
            business_product_table=products,
            app_base_url=url,
            public_key=base.public_key,
        )
    )
    env[names.ENV_CLIENT_ID] = registration.client_id
    env[names.ENV_CLIENT_SECRET] = registration.client_secret.get_secret_value()
    aws.client("secretsmanager", settings).create_secret(  # what the event handler refreshes tokens with
        Name=names.CLIENT_SECRET_NAME,
        SecretString=f'{{"{names.CLIENT_SECRET_ID_KEY}": "{registration.client_id}", '
        f'"{names.CLIENT_SECRET_SECRET_KEY}": "{registration.client_secret.get_secret_value()}"}}',
    )
    dockerfile = Dockerfile.parse()
    tree = stage_image_tree(dockerfile, tmp_path / "app")
    log = tmp_path / "app.log"
    with serving(dockerfile.local_cmd(port, host="127.0.0.1"), env, cwd=tree, health_url=f"{url}/health", log=log):
        # 04 before 05: the app has no destination to subscribe the merchant to yet.
        first = sandbox.client.install("merchant-01", app_id=registration.app_id)
        assert first.ok and first.installation_id, first
        assert sandbox.client.subscriptions(first.installation_id) == []
        settings = settings.model_copy(update={"installation_id": first.installation_id})

        # 05: the destination registered, every installation so far subscribed; the partner bus, EventStack.
        rows = tenants.subscribe_every_installation(settings)
        assert [(row["installation_id"], row["subscriptions"], row["problem"]) for row in rows] == [
            (first.installation_id, TYPES, "")
        ]
        source = subscriptions.source_name(settings)
        aws.client("events", settings).create_event_bus(Name=source, EventSourceName=source)
        event = event_stack_resources(settings, source, data_table, suffix)
        write_outputs(settings, {**load_outputs(settings), names.EVENT_STACK: event})

        # A person installs the app for a second merchant in the browser: the app subscribes it.
        second = browser_install(sandbox, registration.app_id, "merchant-02")
        made = sandbox.client.subscriptions(second)
        assert len(made) == TYPES and all(s["sourceName"] == source for s in made)
        merchant = {m["merchantId"]: m for m in sandbox.client.merchants()}["merchant-02"]
        assert BusinessProductMap(products_table).installation_of(merchant["businessProductId"]) == second
        assert {row["installation_id"] for row in tenants.subscribe_every_installation(settings)} == {
            first.installation_id,
            second,
        }
        assert len(sandbox.client.subscriptions(second)) == TYPES  # 05 again changes nothing

        # `bwp-workshop sandbox emit --installation <it>` publishes to its subscriptions.
        monkeypatch.setenv("BWP_STATE_DIR", str(settings.bwp_dir))
        monkeypatch.setenv("BWP_LOCAL_SANDBOX_PORT", str(settings.local_sandbox_port))
        monkeypatch.setenv("BWP_LOCAL_MOTO_PORT", str(settings.local_moto_port))
        emitted = CliRunner().invoke(
            main, ["sandbox", "emit", "--installation", second, "--orders", "2", "--seed", "4"]
        )
        assert emitted.exit_code == 0, emitted.output
        assert re.search(
            rf"merchant merchant-02: 2 orders, [1-9]\d* events published .* to {TYPES} subscriptions; 0 undelivered",
            emitted.output,
        ), emitted.output

        # 06 for every merchant but its own: the events reach the data table; 07 shows the merchant.
        pipeline = Pipeline(
            settings, first.installation_id, source, event[names.OUT_QUEUE_URL], event[names.OUT_DLQ_URL], data_table
        )
        with running(pipeline):
            [sent] = tenants.send_for_every_installation(2, settings=settings)
        assert sent["installation_id"] == second and sent["stored"] == sent["events sent"] > 0, sent
        frame = analytics.load_records(settings)
        assert second in set(frame["installation_id"])
        assert second in analytics.events_by_type(frame).columns
        per_merchant = {row["installation_id"]: row for row in tenants.merchants(frame, settings)}
        assert per_merchant[second]["site_id"] == merchant["siteId"] and per_merchant[second]["records"] > 0
        assert per_merchant[second]["orders"] >= 2 and per_merchant[first.installation_id]["installed"]

        # The merchant uninstalls in the console: the app deletes its subscriptions.
        with httpx.Client(base_url=sandbox.url, follow_redirects=True, trust_env=False, timeout=30) as browser:
            page = browser.get("/console", params={"merchant_id": "merchant-02"}).text
            uninstall = next(action for action in forms(page) if action.endswith(f"{second}/uninstall"))
            removed = browser.post(uninstall)
            assert removed.status_code == 200 and ": HTTP 200" in removed.text, removed.text
        assert sandbox.client.subscriptions(second) == []
        assert BusinessProductMap(products_table).installation_of(merchant["businessProductId"]) is None
        assert len(sandbox.client.subscriptions(first.installation_id)) == TYPES
        [none] = tenants.send_for_every_installation(1, settings=settings)  # 06 says what a second merchant needs
        assert none["events sent"] == 0 and "sandbox console" in none["what to do"]

        # 99: every installation's subscriptions, then the registration.
        assert tenants.unsubscribe_every_installation(settings) == {
            "subscriptions deleted": TYPES,
            "installations that refused": 0,
        }
        assert sandbox.client.subscriptions() == [] and tenants.registered(settings) is None
    text = log.read_text()
    assert f"subscribed {second} to {TYPES} event types" in text
    assert f"deleted {TYPES} event subscriptions of {second}" in text
    assert registration.client_secret.get_secret_value() not in text
