"""The app's subscriptions never fail an install or an uninstall (``oauth_app.tenancy``): with
no event destination registered yet the install subscribes nothing and says so; a registration
that is not one, or an API that answers nonsense, is logged with its reason (never a token or the
secret) while the token pair is stored and the install ends on its page; an uninstall whose
subscriptions cannot be listed still deletes the installation's tokens. The success paths run
against the sandbox in ``tests/e2e/test_tenants.py`` and ``tests/stacks/test_deployed_environment.py``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwp_workshop import aws, names
from bwp_workshop.core import event_subscriptions
from bwp_workshop.core.graphql import GraphQLError
from bwp_workshop.settings import Settings
from oauth_app.app import create_app

from .checks import assert_nothing_secret_logged, token_items
from .conftest import AppLogs, ScriptedTokenEndpoint, config, install_url, launch, sign

GRAPHQL_URL = "https://bwp.example.test/graphql"
BASIC = {"authConfig": {"basicAuthConfig": {"username": "app", "password": "a-webhook-password"}}}


def _install(client: TestClient, installation_id: str) -> None:
    params = launch(client)
    url = install_url({"code": "auth-code-1", "state": params["state"]})
    answer = client.get(
        f"{url}&verification-token={sign(url, installation_id=installation_id)}", follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert client.get(answer.headers["location"]).status_code == 200


@pytest.mark.parametrize(
    ("registration", "logged"),
    [
        (None, "events of inst-7 not subscribed: no event destination is registered yet"),
        ("not json", "events of inst-7 not subscribed (JSONDecodeError"),
        (
            event_subscriptions.Registration(
                ("ORDER_CONFIRMED",), (event_subscriptions.eventbridge_destination("123456789012", "app", "us-east-1"),)
            ).to_json(),
            # The scripted endpoint answers every request with a token pair: not a GraphQL answer.
            "events of inst-7 not subscribed (GraphQLError: query: the API answered without data)",
        ),
        (
            # A webhook registered with its credentials inline: refused (the registration holds no secret).
            json.dumps(
                {
                    "eventTypes": ["ORDER_CONFIRMED"],
                    "destinations": [{"webhook": {"url": "https://app.example.test/webhooks/events", **BASIC}}],
                }
            ),
            "events of inst-7 not subscribed (ValueError: a registered webhook destination carries no auth",
        ),
        (
            json.dumps({"eventTypes": [], "destinations": [{"eventBridge": {}}], "webhookAuth": {"kind": "carrier"}}),
            "events of inst-7 not subscribed (ValueError: webhookAuth is not an auth kind",
        ),
    ],
    ids=["none-yet", "not-a-registration", "api-answers-nonsense", "webhook-with-a-secret", "unknown-auth-kind"],
)
def test_an_install_whose_subscriptions_fail_is_still_an_install(
    aws_in_process: Settings,
    table: Any,
    token_endpoint: ScriptedTokenEndpoint,
    app_logs: AppLogs,
    caplog: Any,
    capsys: Any,
    registration: str | None,
    logged: str,
) -> None:
    ssm = aws.client("ssm", aws_in_process)
    if registration is not None:
        ssm.put_parameter(Name=names.EVENT_DESTINATION_PARAMETER, Value=registration, Type="String", Overwrite=True)
    app = create_app(
        config(graphql_url=GRAPHQL_URL, event_destination_parameter=names.EVENT_DESTINATION_PARAMETER),
        table=table,
        http=token_endpoint.client(),
        ssm=ssm,
    )
    with TestClient(app, base_url="https://app.example.test") as client:
        _install(client, "inst-7")
        assert [item["installation_id"] for item in token_items(table)] == ["inst-7"]

        # The uninstall lists the subscriptions first; that fails the same way, and the tokens go anyway.
        url = "https://app.example.test/uninstall"
        body = b'{"installationId":"inst-7","eventType":"UNINSTALL"}'
        answer = client.post(
            url,
            content=body,
            headers={
                "content-type": "application/json",
                "verification-token": sign(url, body, installation_id="inst-7"),
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["deleted_subscriptions"] == 0 and token_items(table) == []
    assert_nothing_secret_logged(
        app_logs, caplog, capsys, "access-token-1-secretvalue", "refresh-token-1-secretvalue", logged=[logged]
    )
    if registration is not None and registration.startswith("{"):
        assert "subscriptions of inst-7 not deleted (GraphQLError" in app_logs.text


def test_a_webhook_registration_names_its_auth_and_keeps_no_secret() -> None:
    """What 05 registers when it chose the webhook, as the app reads it back at an install."""
    auth = {"kind": "oauth", "authEndpoint": "https://app.example.test/webhooks/token"}
    destination = event_subscriptions.webhook_destination("https://app.example.test/webhooks/events")
    registration = event_subscriptions.Registration(("ORDER_CONFIRMED",), (destination,), auth)
    assert event_subscriptions.Registration.from_json(registration.to_json()) == registration
    assert destination == {"webhook": {"url": "https://app.example.test/webhooks/events", "method": "POST"}}
    assert event_subscriptions.with_auth_profile(destination, "p-1")["webhook"]["authProfileId"] == "p-1"
    with pytest.raises(ValueError, match="needs the registration's webhookAuth and the app's client credentials"):
        event_subscriptions.subscribe(lambda document, variables=None: _no_subscriptions(), registration)


def _no_subscriptions() -> dict[str, Any]:
    """``eventSubscriptions`` of an installation with none: AccessDeniedError (events-queries-eventsubscriptions)."""
    raise GraphQLError("query: AccessDeniedError", transient=False, error_type="AccessDeniedError")
