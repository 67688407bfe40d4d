"""The settings and uninstall URLs in process (TestClient) against a token table on the local
AWS: the verified installation shown, every token item deleted (and again, harmlessly), bad
tokens and bodies refused; nothing secret logged."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bwp_workshop.names import TOKEN_PK
from oauth_app.app import create_app

from .checks import BAD_TOKENS, FailingTable, assert_nothing_secret_logged, token_items
from .conftest import BASE_URL, AppLogs, config, install_url, launch, sign

pytestmark = pytest.mark.usefixtures("table")


# --- settings ----------------------------------------------------------------------------------
def _install(client: TestClient, installation_id: str = "inst-1") -> None:
    params = launch(client)
    url = install_url({"code": "c", "state": params["state"]})
    assert client.get(f"{url}&verification-token={sign(url, installation_id=installation_id)}").status_code == 200


def test_settings_shows_the_installation(client: TestClient, app_logs: AppLogs, caplog: Any, capsys: Any) -> None:
    _install(client, "inst-7")
    url = f"{BASE_URL}/settings?merchant=m1"
    response = client.get(f"{url}&verification-token={sign(url, installation_id='inst-7')}")
    assert response.status_code == 200, response.text
    for text in ("inst-7", "Installed since", "Last token refresh", time.strftime("%Y-%m-%d", time.gmtime())):
        assert text in response.text
    assert "access-token" not in response.text
    assert response.headers["x-frame-options"] == "DENY"

    other = f"{BASE_URL}/settings"
    response = client.get(other, headers={"verification-token": sign(other, installation_id="never-installed")})
    assert (response.status_code, response.json()["error"]) == (404, "not_installed")
    for make, status, code, _ in (BAD_TOKENS["missing"], BAD_TOKENS["expired"], BAD_TOKENS["wrong key"]):
        token = make(url)
        response = client.get(url if token is None else f"{url}&verification-token={token}")
        assert (response.status_code, response.json()["error"]) == (status, code)
        assert_nothing_secret_logged(
            app_logs, caplog, capsys, *([token] if token else []), logged=[f"GET /settings refused {status} {code}"]
        )


# --- uninstall ---------------------------------------------------------------------------------
def test_uninstall_deletes_every_token_item_and_repeating_it_is_harmless(
    client: TestClient, table: Any, app_logs: AppLogs, caplog: Any, capsys: Any
) -> None:
    _install(client, "inst-9")
    _install(client, "inst-9")
    _install(client, "inst-keep")
    assert len(token_items(table)) == 3
    url = f"{BASE_URL}/uninstall"
    body = b'{"installationId":"inst-9","reason":"merchant removed the app"}'
    headers = {"content-type": "application/json"}

    tampered = client.post(
        url,
        content=body.replace(b"merchant", b"MERCHANT"),
        headers={**headers, "verification-token": sign(url, body, installation_id="inst-9")},
    )
    assert (tampered.status_code, tampered.json()["error"]) == (403, "request_hash_mismatch")
    no_body_hash = client.post(
        url, content=body, headers={**headers, "verification-token": sign(url, None, installation_id="inst-9")}
    )
    assert (no_body_hash.status_code, no_body_hash.json()["error"]) == (403, "request_hash_mismatch")
    assert len(token_items(table)) == 3

    for deleted in (2, 0):
        response = client.post(
            url, content=body, headers={**headers, "verification-token": sign(url, body, installation_id="inst-9")}
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "installation_id": "inst-9",
            "uninstalled": True,
            "deleted_items": deleted,
            "deleted_subscriptions": 0,  # this app has no GraphQL URL: it subscribes no one
        }
    assert [item[TOKEN_PK] for item in token_items(table)] == ["inst-keep"]

    query_url = f"{BASE_URL}/uninstall?b=2&a=1"
    swapped = sign(f"{BASE_URL}/uninstall?a=1&b=2", installation_id="inst-keep")
    response = client.post(f"{query_url}&verification-token={swapped}")
    assert (response.status_code, response.json()["error"]) == (403, "request_hash_mismatch")
    response = client.post(url, content=b"x" * (64 * 1024 + 1), headers={"verification-token": "x"})
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")
    chunked = client.post(url, content=iter([b"x" * 40000, b"x" * 40000]), headers={"verification-token": "x"})
    assert (chunked.status_code, chunked.json()["error"]) == (413, "body_too_large")
    assert [item[TOKEN_PK] for item in token_items(table)] == ["inst-keep"]
    assert_nothing_secret_logged(
        app_logs,
        caplog,
        capsys,
        swapped,
        logged=[
            "POST /uninstall refused 403 request_hash_mismatch",
            "uninstalled inst-9 (2 token items deleted)",
            "uninstalled inst-9 (0 token items deleted)",
            "POST /uninstall refused 413 body_too_large",
        ],
    )


def test_uninstall_failure_in_the_table_is_a_503(table: Any, client: TestClient) -> None:
    _install(client, "inst-3")
    app = create_app(config(), table=FailingTable(table, {"query"}))
    with TestClient(app, base_url=BASE_URL) as test_client:
        url = f"{BASE_URL}/uninstall"
        response = test_client.post(url, headers={"verification-token": sign(url, installation_id="inst-3")})
    assert (response.status_code, response.json()["error"]) == (503, "table_unavailable")
    assert len(token_items(table)) == 1
