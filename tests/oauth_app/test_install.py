"""The install URL (the OAuth redirect URI) in process (TestClient) against a token table on
the local AWS and a scripted token endpoint: the good path, every bad input refused with a
reason, a failing token endpoint or table; nothing stored and nothing secret logged."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK, TOKEN_SK, TOKEN_TTL_ATTRIBUTE
from oauth_app.api.routes.oauth import INSTALLED_COOKIE, STATE_COOKIE
from oauth_app.app import create_app
from oauth_app.pending_installs import PendingCookies, PendingInstall, SpentStates, pending_cookie_key

from .checks import FailingTable, assert_nothing_secret_logged, state_items, token_items
from .conftest import (
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    AppLogs,
    ScriptedTokenEndpoint,
    all_items,
    config,
    install_url,
    launch,
    pending_of,
    sign,
    state_cookie,
)

pytestmark = pytest.mark.usefixtures("table")


# --- install: the good path ---------------------------------------------------------------
def test_install_stores_the_token_pair_and_shows_no_token(
    client: TestClient,
    table: Any,
    token_endpoint: ScriptedTokenEndpoint,
    app_logs: AppLogs,
    caplog: Any,
    capsys: Any,
) -> None:
    params = launch(client)
    pending = pending_of(client)
    assert all_items(table) == []  # nothing written until Buy with Prime calls back
    query = {"code": "auth-code-123456", "state": params["state"]}
    url = install_url(query)
    token = sign(url, installation_id="inst-42")
    started = time.time()
    answer = client.get(f"{url}&verification-token={token}", follow_redirects=False)
    # 303 to a clean URL: the address bar keeps no code, state or token, and a reload sends none
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/installed"
    response = client.get(answer.headers["location"])
    assert response.status_code == 200, response.text
    assert "is installed" in response.text and "inst-42" in response.text
    assert "access-token" not in response.text and "refresh-token" not in response.text
    assert response.headers["content-security-policy"] and response.headers["cache-control"] == "no-store"
    # back to the console (the origin of the authorize endpoint) and to the installation's row
    # there, where the settings open
    assert re.findall(r'href="([^"]+)"', response.text) == [
        "https://bwp.example.test/",
        "https://bwp.example.test/#inst-42",
    ]
    (form,) = token_endpoint.requests
    assert form == {
        "grant_type": "authorization_code",
        "code": "auth-code-123456",
        "redirect_uri": f"{BASE_URL}/install",
        "code_verifier": pending.code_verifier,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    (item,) = token_items(table)
    assert item[TOKEN_PK] == "inst-42"
    assert item["access_token"] == "access-token-1-secretvalue"
    assert item["refresh_token"] == "refresh-token-1-secretvalue"
    assert started + 899 <= int(item["expires_at"]) <= time.time() + 901
    assert started * 1000 - 1 <= int(item["updated_at"]) <= time.time() * 1000 + 1
    (spent,) = state_items(table)  # the state, spent: its key and expiry, no verifier
    expected = {TOKEN_PK: OAUTH_STATE_PREFIX + params["state"], TOKEN_SK: 0, TOKEN_TTL_ATTRIBUTE: pending.expires_at}
    assert spent == expected
    assert_nothing_secret_logged(
        app_logs,
        caplog,
        capsys,
        "auth-code-123456",
        pending.code_verifier,
        token,
        params["state"],
        logged=["installed inst-42 (token valid until", "GET /install 303", "GET /installed 200"],
    )


def test_the_installed_page_shows_only_what_this_browser_installed(client: TestClient, table: Any) -> None:
    nothing = client.get("/installed", headers={"accept": "text/html"})
    assert nothing.status_code == 404 and "install it from the Buy with Prime console" in nothing.text
    client.cookies.set(INSTALLED_COOKIE, "inst-forged.0123abcd", path="/installed")
    forged = client.get("/installed")
    assert forged.status_code == 404 and "inst-forged" not in forged.text
    client.cookies.clear()
    params = launch(client)
    url = install_url({"state": params["state"], "code": "c0de-page"})
    client.get(f"{url}&verification-token={sign(url, installation_id='inst-7')}")
    again = client.get("/installed")  # a reload of the end page shows it again, with nothing sent twice
    assert again.status_code == 200 and "inst-7" in again.text
    assert len(token_items(table)) == 1


def test_install_accepts_the_token_as_a_header(client: TestClient, table: Any) -> None:
    params = launch(client)
    url = install_url({"state": params["state"], "code": "c0de-header"})
    response = client.get(url, headers={"verification-token": sign(url)})
    assert response.status_code == 200, response.text
    assert len(token_items(table)) == 1


def test_forwarded_mode_hashes_the_url_the_proxy_was_asked_for(table: Any, token_endpoint: Any) -> None:
    app = create_app(config(app_base_url="", request_url_from="forwarded"), table=table, http=token_endpoint.client())
    with TestClient(app, base_url="https://shop-app.example.test") as test_client:
        params = launch(test_client)
        assert params["redirect_uri"] == "https://shop-app.example.test/install"
        url = f"https://shop-app.example.test/install?code=c1&state={params['state']}"
        assert test_client.get(f"{url}&verification-token={sign(url)}").status_code == 200
    assert len(token_items(table)) == 1


# Each of BAD_TOKENS refused at /install: the named table of tests/faults/test_oauth_bad_requests.py.


def test_install_refuses_missing_malformed_unknown_and_replayed_state(
    client: TestClient,
    table: Any,
    token_endpoint: ScriptedTokenEndpoint,
    app_logs: AppLogs,
    caplog: Any,
    capsys: Any,
) -> None:
    cases = [
        ({"code": "c"}, 400, "missing_state", "has no state"),
        ({"code": "c", "state": "short"}, 400, "invalid_state", "not one this app issued"),
        ({"code": "c", "state": "A" * 48}, 400, "unknown_state", "unknown, expired or already used"),
        ({"state": "A" * 48}, 400, "missing_code", "no authorization code"),
        ({"error": "access_denied", "state": "A" * 48}, 400, "authorization_refused", "did not authorize"),
    ]
    # A browser carrying the cookie of the state it names, a state already spent by an install.
    client.cookies.set(STATE_COOKIE, state_cookie("A" * 48), domain="app.example.test", path="/install")
    assert SpentStates(table).spend(PendingInstall("A" * 48, "v" * 64, int(time.time()) + 600))
    for query, status, code, reason in cases:
        url = install_url(query)
        response = client.get(f"{url}&verification-token={sign(url)}")
        assert (response.status_code, response.json()["error"]) == (status, code), query
        assert reason in response.json()["reason"]
    assert token_endpoint.requests == []
    # replayed: the first use installs, the same state again is refused and stores nothing more
    params = launch(client)
    url = install_url({"code": "first-code", "state": params["state"]})
    assert client.get(f"{url}&verification-token={sign(url)}").status_code == 200
    replay = install_url({"code": "second-code", "state": params["state"]})
    response = client.get(f"{replay}&verification-token={sign(replay)}")  # the install removed the cookie
    assert (response.status_code, response.json()["error"]) == (400, "state_not_bound")
    client.cookies.set(STATE_COOKIE, state_cookie(params["state"]), domain="app.example.test", path="/install")
    response = client.get(f"{replay}&verification-token={sign(replay)}")  # a browser that kept it
    assert (response.status_code, response.json()["error"]) == (400, "unknown_state")
    assert len(token_endpoint.requests) == 1
    assert len(token_items(table)) == 1
    assert_nothing_secret_logged(
        app_logs,
        caplog,
        capsys,
        "first-code",
        "second-code",
        params["state"],
        logged=[f"GET /install refused {status} {code}" for _, status, code, _ in cases]
        + ["installed inst-1", "GET /install refused 400 state_not_bound"],
    )


def test_install_refuses_a_browser_without_the_state_cookie(
    client: TestClient, table: Any, token_endpoint: ScriptedTokenEndpoint
) -> None:
    """The review's L5: another browser (no cookie) opening a captured install URL cannot
    complete that install; the browser that started it still can."""
    started = launch(client)
    url = install_url({"code": "c", "state": started["state"]})
    cookies = dict(client.cookies)
    client.cookies.clear()
    response = client.get(f"{url}&verification-token={sign(url)}")
    assert (response.status_code, response.json()["error"]) == (400, "state_not_bound")
    assert "this browser did not start the install" in response.json()["reason"]
    assert token_endpoint.requests == [] and all_items(table) == []
    for name, value in cookies.items():
        client.cookies.set(name, value, domain="app.example.test", path="/install")
    assert client.get(f"{url}&verification-token={sign(url)}").status_code == 200  # the state was not spent


def test_install_refuses_a_state_started_in_another_browser(client: TestClient, table: Any) -> None:
    mine = launch(client)
    url = install_url({"code": "c", "state": mine["state"]})
    sealed = dict(client.cookies)[STATE_COOKIE]
    others = {
        "garbage": "0" * 64,
        "another browser's state": state_cookie("B" * 48),
        "altered": sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB"),
        "sealed under another secret": PendingCookies(pending_cookie_key("another-secret"), ttl_seconds=600).seal(
            pending_of(client)
        ),
        "too long": "A" * 4000,
    }
    for case, value in others.items():
        client.cookies.set(STATE_COOKIE, value, domain="app.example.test", path="/install")
        response = client.get(f"{url}&verification-token={sign(url)}")
        assert (response.status_code, response.json()["error"]) == (400, "state_mismatch"), case
    assert all_items(table) == []


def test_an_expired_state_is_refused(client: TestClient, table: Any, token_endpoint: ScriptedTokenEndpoint) -> None:
    state = "E" * 48
    client.cookies.set(STATE_COOKIE, state_cookie(state, expires_in=-1), domain="app.example.test", path="/install")
    url = install_url({"code": "c", "state": state})
    response = client.get(f"{url}&verification-token={sign(url)}")
    assert (response.status_code, response.json()["error"]) == (400, "unknown_state")
    assert all_items(table) == [] and token_endpoint.requests == []


def _answer(status: int, body: Any) -> Any:
    def step(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers={"content-type": "application/json"})
        return httpx.Response(status, json=body)

    return step


def _timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


TOKEN_ENDPOINT_FAILURES = {
    "4xx invalid_grant": (
        [_answer(400, {"error": "invalid_grant", "error_description": "code the-code is used"})],
        "invalid_grant",
        1,
    ),
    "5xx": ([_answer(503, {"error": "unavailable"})], "HTTP 503", 2),
    "timeout": ([_timeout], "did not answer in time", 2),
    "invalid JSON": ([_answer(200, b"{not json")], "not JSON", 1),
    "no refresh token": ([_answer(200, {"access_token": "access-token-x"})], "without a refresh_token", 1),
}


@pytest.mark.parametrize("case", list(TOKEN_ENDPOINT_FAILURES))
def test_a_failing_token_endpoint_is_a_502_and_stores_nothing(
    case: str,
    client: TestClient,
    table: Any,
    token_endpoint: ScriptedTokenEndpoint,
    app_logs: AppLogs,
    caplog: Any,
    capsys: Any,
) -> None:
    script, reason, attempts = TOKEN_ENDPOINT_FAILURES[case]
    token_endpoint.script = script
    params = launch(client)
    pending = pending_of(client)
    url = install_url({"code": "the-code", "state": params["state"]})
    response = client.get(f"{url}&verification-token={sign(url)}")
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "token_endpoint_failed"
    assert reason in response.json()["reason"]
    assert "the-code" not in response.text
    assert len(token_endpoint.requests) == attempts  # transient errors are retried, refusals are not
    assert token_items(table) == []
    assert_nothing_secret_logged(
        app_logs, caplog, capsys, "the-code", pending.code_verifier, logged=["GET /install refused 502"]
    )


def test_dynamodb_failures_are_503_and_store_nothing(
    table: Any, token_endpoint: ScriptedTokenEndpoint, app_logs: AppLogs, caplog: Any, capsys: Any
) -> None:
    # spending the state fails: nothing exchanged, nothing stored
    spend_fails = create_app(config(), table=FailingTable(table, {"put_item"}), http=token_endpoint.client())
    with TestClient(spend_fails, base_url=BASE_URL) as test_client:
        params = launch(test_client)
        url = install_url({"code": "the-code", "state": params["state"]})
        response = test_client.get(f"{url}&verification-token={sign(url)}")
    assert (response.status_code, response.json()["error"]) == (503, "table_unavailable")
    assert "ProvisionedThroughputExceededException" in response.json()["reason"]
    assert all_items(table) == [] and token_endpoint.requests == []

    # the state is checked and spent, the code exchanged, then storing the tokens fails
    store_fails = create_app(
        config(), table=FailingTable(table, {"put_item"}, tokens_only=True), http=token_endpoint.client()
    )
    with TestClient(store_fails, base_url=BASE_URL) as test_client:
        params = launch(test_client)
        url = install_url({"code": "the-code", "state": params["state"]})
        response = test_client.get(f"{url}&verification-token={sign(url)}")
    assert (response.status_code, response.json()["error"]) == (503, "table_unavailable")
    assert "nothing was stored" in response.json()["reason"]
    assert token_items(table) == []
    assert len(token_endpoint.requests) == 1  # only the store_fails exchange
    assert_nothing_secret_logged(
        app_logs,
        caplog,
        capsys,
        "the-code",
        logged=["GET /install refused 503 table_unavailable"],
    )
