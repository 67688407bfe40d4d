"""The OAuth handler in process (TestClient) against a token table on the local AWS: the plain
pages, the launch URL, refusals common to every route (no client credentials, an unreachable
table, HTML error pages) and the configuration. The install URL is test_install.py, the
settings and uninstall URLs test_settings_uninstall.py."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bwp_workshop import names
from bwp_workshop.core.verification import BWP_PUBLIC_KEY_PEM
from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK
from oauth_app.api.routes.oauth import STATE_COOKIE
from oauth_app.app import create_app
from oauth_app.config import AppConfig

from .checks import FailingTable, state_items, token_items
from .conftest import (
    AUTHORIZE_URL,
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    PUBLIC_PEM,
    ScriptedTokenEndpoint,
    all_items,
    config,
    install_url,
    launch,
    pending_of,
    sign,
)

pytestmark = pytest.mark.usefixtures("table")


# --- plain pages -----------------------------------------------------------------------
def test_landing_health_and_security_headers(client: TestClient) -> None:
    landing = client.get("/")
    assert landing.status_code == 200
    assert "Install the app from the Buy with Prime console" in landing.text
    for header in (
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "strict-transport-security",
    ):
        assert header in landing.headers
    assert "frame-ancestors 'none'" in landing.headers["content-security-policy"]
    assert client.get("/health").json() == {"status": "ok"}
    supervisor = client.get("/_bwp/health").json()
    assert supervisor["service"] == "oauth-app" and isinstance(supervisor["pid"], int)
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")


# --- launch ------------------------------------------------------------------------------
def test_launch_redirects_with_state_and_s256_challenge_kept_in_the_sealed_cookie(
    client: TestClient, table: Any
) -> None:
    response = client.get("/launch", follow_redirects=False)
    assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    assert str(location).startswith(AUTHORIZE_URL + "?")
    params = dict(location.params)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == f"{BASE_URL}/install"
    assert params["code_challenge_method"] == "S256"
    assert "scope" not in params
    pending = pending_of(client)
    assert pending.state == params["state"]
    assert params["code_challenge"] == create_s256_code_challenge(pending.code_verifier)
    assert 43 <= len(pending.code_verifier) <= 128
    assert 0 < pending.expires_at - time.time() <= 600
    cookie = response.headers["set-cookie"]
    assert STATE_COOKIE in cookie and "HttpOnly" in cookie and "Secure" in cookie and "Path=/install" in cookie
    # sealed: neither the state nor the verifier can be read from the cookie
    value = client.cookies[STATE_COOKIE]
    assert pending.state not in value and pending.code_verifier not in value
    assert all_items(table) == []
    again = launch(client)
    assert again["state"] != params["state"] and again["code_challenge"] != params["code_challenge"]


def test_launch_writes_nothing_to_the_token_table(client: TestClient, table: Any) -> None:
    """The review's L3: 200 unauthenticated /launch requests used to put 200 items into the
    table that holds the refresh tokens; now they write nothing (and the last one still installs)."""
    states = {launch(client)["state"] for _ in range(200)}
    assert len(states) == 200
    assert all_items(table) == []
    last = pending_of(client)
    url = install_url({"code": "the-code", "state": last.state})
    assert client.get(f"{url}&verification-token={sign(url)}").status_code == 200
    assert len(token_items(table)) == 1 and [i[TOKEN_PK] for i in state_items(table)] == [
        OAUTH_STATE_PREFIX + last.state
    ]


def test_launch_needs_no_table_at_all(token_endpoint: ScriptedTokenEndpoint, table: Any) -> None:
    """Whatever the table does, /launch answers: it calls none of its operations."""
    failing = FailingTable(table, {"put_item", "delete_item", "query", "get_item", "update_item"}, unreachable=True)
    app = create_app(config(), table=failing, http=token_endpoint.client())
    with TestClient(app, base_url=BASE_URL) as test_client:
        assert test_client.get("/launch", follow_redirects=False).status_code == 302


@pytest.mark.parametrize("operation", ["put_item", "delete_item", "query"])
def test_an_unreachable_table_is_a_503_at_every_step(
    operation: str, table: Any, token_endpoint: ScriptedTokenEndpoint
) -> None:
    app = create_app(config(), table=FailingTable(table, {operation}, unreachable=True), http=token_endpoint.client())
    with TestClient(app, base_url=BASE_URL) as test_client:
        if operation == "query":  # /settings reads the installation's token
            url = f"{BASE_URL}/settings"
            response = test_client.get(url, headers={"verification-token": sign(url)})
            assert (response.status_code, response.json()["error"]) == (503, "table_unavailable")
            return
        response = test_client.get("/launch", follow_redirects=False)
        assert response.status_code == 302  # /launch touches no table
        state = httpx.URL(response.headers["location"]).params["state"]
        url = install_url({"code": "the-code", "state": state})
        response = test_client.get(f"{url}&verification-token={sign(url)}")
    if operation == "delete_item":  # /install deletes nothing: the state is spent with a put
        assert response.status_code == 200, response.text
        return
    assert (response.status_code, response.json()["error"]) == (503, "table_unavailable")
    assert "EndpointConnectionError" in response.json()["reason"]
    assert token_items(table) == []


def test_without_client_credentials_launch_and_install_say_what_to_set(table: Any) -> None:
    app = create_app(config(client_id="", client_secret=""), table=table)
    with TestClient(app, base_url=BASE_URL) as test_client:
        for path in ("/launch", "/install?code=c&state=s"):
            response = test_client.get(path, follow_redirects=False)
            assert (response.status_code, response.json()["error"]) == (503, "not_configured")
            assert "BWP_CLIENT_ID" in response.json()["reason"]
    assert all_items(table) == []


def test_browsers_get_an_html_error_page(client: TestClient) -> None:
    response = client.get("/install?code=c", headers={"accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "has no state" in response.text and "missing_state" in response.text
    assert "content-security-policy" in response.headers


# --- configuration -----------------------------------------------------------------------------
def test_configuration_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(names.ENV_TOKEN_TABLE, "t")
    monkeypatch.setenv(names.ENV_AUTHORIZE_URL, AUTHORIZE_URL)
    monkeypatch.setenv(names.ENV_TOKEN_URL, "https://bwp.example.test/token")
    monkeypatch.setenv(names.ENV_PUBLIC_KEY, PUBLIC_PEM.replace("\n", "\\n"))
    monkeypatch.setenv(names.ENV_CLIENT_SECRET, CLIENT_SECRET)
    with pytest.raises(ValidationError) as missing:
        AppConfig()
    assert "APP_BASE_URL is not set" in str(missing.value)
    monkeypatch.setenv(names.ENV_APP_BASE_URL, "http://My-Alb-123.us-east-1.ELB.amazonaws.com/")
    loaded = AppConfig()
    assert loaded.app_base_url == "http://my-alb-123.us-east-1.elb.amazonaws.com"
    assert loaded.public_key == PUBLIC_PEM
    monkeypatch.setenv(names.ENV_APP_BASE_URL, "http://host/prefix")
    with pytest.raises(ValidationError) as with_path:
        AppConfig()
    assert "without path" in str(with_path.value)
    monkeypatch.delenv(names.ENV_PUBLIC_KEY)
    monkeypatch.setenv(names.ENV_APP_BASE_URL, "http://host")
    assert AppConfig().public_key == BWP_PUBLIC_KEY_PEM  # the stacks set a key only when it differs
    monkeypatch.setenv(names.ENV_PUBLIC_KEY, "not a key")
    with pytest.raises(ValidationError) as bad_key:
        AppConfig()
    assert "BWP_PUBLIC_KEY is not a PEM public key" in str(bad_key.value)
    assert CLIENT_SECRET not in str(bad_key.value)


def test_a_path_with_control_characters_cannot_forge_a_log_line(client: TestClient, app_logs: Any) -> None:
    """The review's L4: CR/LF (and other line breaks) in the decoded path are escaped in the
    access log, so the forged "installed" entry stays inside the one line of the request."""
    forged = "2026-12-07 17:45:00,000 INFO oauth_app installed inst-FORGED-by-attacker (token valid until 1796669999)"
    quoted = forged.replace(" ", "%20")
    for breaker, escaped in (("%0A", "\\n"), ("%0D%0A", "\\r\\n"), ("%E2%80%A8", "\\u2028"), ("%00", "\\x00")):
        app_logs.records.clear()
        assert client.get(f"/nothing{breaker}{quoted}").status_code == 404
        lines = app_logs.text.splitlines()
        assert not [line for line in lines if line.startswith("2026-12-07") or "\u2028" in line]
        access = [line for line in lines if line.startswith("INFO oauth_app GET /nothing")]
        assert access == [f"INFO oauth_app GET /nothing{escaped}{forged} 404 " + access[0].rsplit(" 404 ", 1)[1]]
