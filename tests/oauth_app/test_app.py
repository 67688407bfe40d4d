"""The OAuth handler in process (TestClient) against a token table on the local AWS and a
scripted token endpoint: every endpoint, and every bad input refused with a reason, nothing
stored and nothing secret logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx
import jwt
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from botocore.exceptions import ClientError, EndpointConnectionError
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bwp_workshop.core.verification import BWP_PUBLIC_KEY_PEM, request_hash
from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK, TOKEN_TTL_ATTRIBUTE
from oauth_app.app import STATE_COOKIE, create_app
from oauth_app.config import AppConfig

from .conftest import (
    AUTHORIZE_URL,
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_KEY,
    PUBLIC_PEM,
    ScriptedTokenEndpoint,
    all_items,
    config,
    install_url,
    launch,
    sign,
)

pytestmark = pytest.mark.usefixtures("table")


@pytest.fixture
def client(table: Any, token_endpoint: ScriptedTokenEndpoint) -> Any:
    app = create_app(config(), table=table, http=token_endpoint.client())
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


def token_items(table: Any) -> list[dict[str, Any]]:
    return [item for item in all_items(table) if not item[TOKEN_PK].startswith(OAUTH_STATE_PREFIX)]


def state_items(table: Any) -> list[dict[str, Any]]:
    return [item for item in all_items(table) if item[TOKEN_PK].startswith(OAUTH_STATE_PREFIX)]


def assert_nothing_secret_logged(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], *values: str
) -> None:
    out = capsys.readouterr()
    # The test's own HTTP client logs the URLs it calls; everything else is the app's.
    own = [r for r in caplog.records if r.name == "httpx" and BASE_URL in r.getMessage()]
    text = "\n".join(r.getMessage() for r in caplog.records if r not in own) + out.out + out.err
    assert "oauth_app" in {r.name for r in caplog.records} or not caplog.records
    for value in (CLIENT_SECRET, "access-token-", "refresh-token-", *values):
        assert value not in text, f"{value[:12]}... was logged"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(url: str) -> str:
    """Algorithm confusion: an HS256 token keyed with the (public) verification key."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(
        json.dumps(
            {"installationId": "inst-1", "requestHash": request_hash(url), "exp": int(time.time()) + 300}
        ).encode()
    )
    signature = hmac.new(PUBLIC_PEM.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def none_token(url: str) -> str:
    return jwt.encode(
        {"installationId": "inst-1", "requestHash": request_hash(url), "exp": int(time.time()) + 300},
        key=None,
        algorithm="none",
    )


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
def test_launch_redirects_with_state_and_s256_challenge_kept_in_the_table(client: TestClient, table: Any) -> None:
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
    (item,) = state_items(table)
    assert item[TOKEN_PK] == OAUTH_STATE_PREFIX + params["state"]
    assert params["code_challenge"] == create_s256_code_challenge(item["code_verifier"])
    assert 43 <= len(item["code_verifier"]) <= 128
    assert 0 < int(item[TOKEN_TTL_ATTRIBUTE]) - time.time() <= 600
    assert token_items(table) == []
    cookie = response.headers["set-cookie"]
    assert STATE_COOKIE in cookie and "HttpOnly" in cookie and "Secure" in cookie and "Path=/install" in cookie
    again = launch(client)
    assert again["state"] != params["state"] and again["code_challenge"] != params["code_challenge"]


# --- install: the good path ---------------------------------------------------------------
def test_install_stores_the_token_pair_and_shows_no_token(
    client: TestClient, table: Any, token_endpoint: ScriptedTokenEndpoint, caplog: Any, capsys: Any
) -> None:
    params = launch(client)
    (pending,) = state_items(table)
    query = {"code": "auth-code-123456", "state": params["state"]}
    url = install_url(query)
    token = sign(url, installation_id="inst-42")
    started = time.time()
    response = client.get(f"{url}&verification-token={token}")
    assert response.status_code == 200, response.text
    assert "is installed" in response.text and "inst-42" in response.text
    assert "access-token" not in response.text and "refresh-token" not in response.text
    assert response.headers["content-security-policy"]
    (form,) = token_endpoint.requests
    assert form == {
        "grant_type": "authorization_code",
        "code": "auth-code-123456",
        "redirect_uri": f"{BASE_URL}/install",
        "code_verifier": pending["code_verifier"],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    (item,) = token_items(table)
    assert item[TOKEN_PK] == "inst-42"
    assert item["access_token"] == "access-token-1-secretvalue"
    assert item["refresh_token"] == "refresh-token-1-secretvalue"
    assert started + 899 <= int(item["expires_at"]) <= time.time() + 901
    assert started * 1000 - 1 <= int(item["updated_at"]) <= time.time() * 1000 + 1
    assert state_items(table) == []  # consumed
    assert_nothing_secret_logged(caplog, capsys, "auth-code-123456", pending["code_verifier"], token, params["state"])


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


# --- install: every bad input ----------------------------------------------------------------
def _tampered(url: str) -> str:
    head, payload, signature = sign(url).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["installationId"] = "someone-else"
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


BAD_TOKENS = {
    "missing": (lambda url: None, 401, "missing_token", "has no verification-token"),
    "garbled": (lambda url: "not.a.jwt!", 403, "malformed_token", "is not a JWT"),
    "expired": (lambda url: sign(url, expires_in=-120), 403, "expired_token", "has expired"),
    "wrong signature": (_tampered, 403, "bad_signature", "signature does not match"),
    "wrong key": (lambda url: sign(url, key=OTHER_KEY), 403, "bad_signature", "signature does not match"),
    "HS256": (hs256_token, 403, "wrong_algorithm", "only ES256 is accepted"),
    "none": (none_token, 403, "wrong_algorithm", "only ES256 is accepted"),
    "hash of another URL": (
        lambda url: sign(url.replace(BASE_URL, "http://10.0.1.7:8080")),
        403,
        "request_hash_mismatch",
        "APP_BASE_URL",
    ),
    "hash of another query order": (
        lambda url: _swap_query(url),
        403,
        "request_hash_mismatch",
        "query order",
    ),
    "no requestHash": (
        lambda url: jwt.encode({"installationId": "i", "exp": int(time.time()) + 60}, _key(), algorithm="ES256"),
        403,
        "missing_claim",
        "no requestHash claim",
    ),
    "reserved installation id": (
        lambda url: sign(url, installation_id=OAUTH_STATE_PREFIX + "x"),
        400,
        "invalid_installation_id",
        "unusable installationId",
    ),
}


def _key() -> Any:
    from .conftest import SIGNING_KEY

    return SIGNING_KEY


def _swap_query(url: str) -> str:
    base, query = url.split("?", 1)
    first, second = query.split("&")
    return sign(f"{base}?{second}&{first}")


# Each of BAD_TOKENS refused at /install: the named table of tests/faults/test_oauth_bad_requests.py.


def test_install_refuses_missing_malformed_unknown_and_replayed_state(
    client: TestClient, table: Any, token_endpoint: ScriptedTokenEndpoint, caplog: Any, capsys: Any
) -> None:
    cases = [
        ({"code": "c"}, 400, "missing_state", "has no state"),
        ({"code": "c", "state": "short"}, 400, "invalid_state", "not one this app issued"),
        ({"code": "c", "state": "A" * 48}, 400, "unknown_state", "unknown, expired or already used"),
        ({"state": "A" * 48}, 400, "missing_code", "no authorization code"),
        ({"error": "access_denied", "state": "A" * 48}, 400, "authorization_refused", "did not authorize"),
    ]
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
    response = client.get(f"{replay}&verification-token={sign(replay)}")
    assert (response.status_code, response.json()["error"]) == (400, "unknown_state")
    assert len(token_endpoint.requests) == 1
    assert len(token_items(table)) == 1
    assert_nothing_secret_logged(caplog, capsys, "first-code", "second-code", params["state"])


def test_install_refuses_a_state_started_in_another_browser(client: TestClient, table: Any) -> None:
    mine = launch(client)
    url = install_url({"code": "c", "state": mine["state"]})
    client.cookies.set(STATE_COOKIE, "0" * 64, domain="app.example.test", path="/install")
    response = client.get(f"{url}&verification-token={sign(url)}")
    assert (response.status_code, response.json()["error"]) == (400, "state_mismatch")
    assert token_items(table) == [] and len(state_items(table)) == 1


def test_an_expired_state_is_refused(table: Any, token_endpoint: ScriptedTokenEndpoint) -> None:
    app = create_app(config(state_ttl_seconds=30), table=table, http=token_endpoint.client())
    with TestClient(app, base_url=BASE_URL) as test_client:
        params = launch(test_client)
        (item,) = state_items(table)
        table.update_item(
            Key={TOKEN_PK: item[TOKEN_PK], "updated_at": 0},
            UpdateExpression="SET #ttl = :past",
            ExpressionAttributeNames={"#ttl": TOKEN_TTL_ATTRIBUTE},
            ExpressionAttributeValues={":past": int(time.time()) - 1},
        )
        url = install_url({"code": "c", "state": params["state"]})
        response = test_client.get(f"{url}&verification-token={sign(url)}")
    assert (response.status_code, response.json()["error"]) == (400, "unknown_state")
    assert token_items(table) == [] and token_endpoint.requests == []


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
    case: str, client: TestClient, table: Any, token_endpoint: ScriptedTokenEndpoint, caplog: Any, capsys: Any
) -> None:
    script, reason, attempts = TOKEN_ENDPOINT_FAILURES[case]
    token_endpoint.script = script
    params = launch(client)
    (pending,) = state_items(table)
    url = install_url({"code": "the-code", "state": params["state"]})
    response = client.get(f"{url}&verification-token={sign(url)}")
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "token_endpoint_failed"
    assert reason in response.json()["reason"]
    assert "the-code" not in response.text
    assert len(token_endpoint.requests) == attempts  # transient errors are retried, refusals are not
    assert token_items(table) == []
    assert_nothing_secret_logged(caplog, capsys, "the-code", pending["code_verifier"])


class FailingTable:
    """The real table, except that the named operations fail as DynamoDB does when throttled
    (for token items only, when ``tokens_only``)."""

    def __init__(self, table: Any, operations: set[str], tokens_only: bool = False, unreachable: bool = False) -> None:
        self._unreachable = unreachable
        self._table = table
        self._operations = operations
        self._tokens_only = tokens_only

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._table, name)
        if name not in self._operations:
            return real

        def failing(**kwargs: Any) -> Any:
            key = kwargs.get("Item") or kwargs.get("Key") or {}
            if self._tokens_only and str(key.get(TOKEN_PK, "")).startswith(OAUTH_STATE_PREFIX):
                return real(**kwargs)
            if self._unreachable:
                raise EndpointConnectionError(endpoint_url="http://localhost:1/")
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, name
            )

        return failing


def test_dynamodb_failures_are_503_and_store_nothing(
    table: Any, token_endpoint: ScriptedTokenEndpoint, caplog: Any, capsys: Any
) -> None:
    broken = create_app(config(), table=FailingTable(table, {"put_item"}), http=token_endpoint.client())
    with TestClient(broken, base_url=BASE_URL) as test_client:
        response = test_client.get("/launch", follow_redirects=False)
    assert (response.status_code, response.json()["error"]) == (503, "token_table_unavailable")
    assert "ProvisionedThroughputExceededException" in response.json()["reason"]
    assert all_items(table) == []

    # the state is checked, the code exchanged, then storing the tokens fails
    store_fails = create_app(
        config(), table=FailingTable(table, {"put_item"}, tokens_only=True), http=token_endpoint.client()
    )
    with TestClient(store_fails, base_url=BASE_URL) as test_client:
        params = launch(test_client)
        url = install_url({"code": "the-code", "state": params["state"]})
        response = test_client.get(f"{url}&verification-token={sign(url)}")
    assert (response.status_code, response.json()["error"]) == (503, "token_table_unavailable")
    assert "nothing was stored" in response.json()["reason"]
    assert token_items(table) == []

    consume_fails = create_app(config(), table=FailingTable(table, {"delete_item"}), http=token_endpoint.client())
    with TestClient(consume_fails, base_url=BASE_URL) as test_client:
        params = launch(test_client)
        url = install_url({"code": "the-code", "state": params["state"]})
        response = test_client.get(f"{url}&verification-token={sign(url)}")
    assert (response.status_code, response.json()["error"]) == (503, "token_table_unavailable")
    assert token_items(table) == []
    assert len(token_endpoint.requests) == 1  # only the store_fails exchange
    assert_nothing_secret_logged(caplog, capsys, "the-code")


@pytest.mark.parametrize("operation", ["put_item", "delete_item", "query"])
def test_an_unreachable_table_is_a_503_at_every_step(
    operation: str, table: Any, token_endpoint: ScriptedTokenEndpoint
) -> None:
    app = create_app(config(), table=FailingTable(table, {operation}, unreachable=True), http=token_endpoint.client())
    with TestClient(app, base_url=BASE_URL) as test_client:
        if operation == "query":  # /settings reads the installation's token
            url = f"{BASE_URL}/settings"
            response = test_client.get(url, headers={"verification-token": sign(url)})
            assert (response.status_code, response.json()["error"]) == (503, "token_table_unavailable")
            return
        response = test_client.get("/launch", follow_redirects=False)
        if operation == "put_item":
            assert (response.status_code, response.json()["error"]) == (503, "token_table_unavailable")
            assert "EndpointConnectionError" in response.json()["reason"]
            return
        state = httpx.URL(response.headers["location"]).params["state"]
        url = install_url({"code": "the-code", "state": state})
        response = test_client.get(f"{url}&verification-token={sign(url)}")
    assert (response.status_code, response.json()["error"]) == (503, "token_table_unavailable")
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


# --- settings ----------------------------------------------------------------------------------
def _install(client: TestClient, installation_id: str = "inst-1") -> None:
    params = launch(client)
    url = install_url({"code": "c", "state": params["state"]})
    assert client.get(f"{url}&verification-token={sign(url, installation_id=installation_id)}").status_code == 200


def test_settings_shows_the_installation(client: TestClient, caplog: Any, capsys: Any) -> None:
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
        assert_nothing_secret_logged(caplog, capsys, *([token] if token else []))


# --- uninstall ---------------------------------------------------------------------------------
def test_uninstall_deletes_every_token_item_and_repeating_it_is_harmless(
    client: TestClient, table: Any, caplog: Any, capsys: Any
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
        assert response.json() == {"installation_id": "inst-9", "uninstalled": True, "deleted_items": deleted}
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
    assert_nothing_secret_logged(caplog, capsys, swapped)


def test_uninstall_failure_in_the_table_is_a_503(table: Any, client: TestClient) -> None:
    _install(client, "inst-3")
    app = create_app(config(), table=FailingTable(table, {"query"}))
    with TestClient(app, base_url=BASE_URL) as test_client:
        url = f"{BASE_URL}/uninstall"
        response = test_client.post(url, headers={"verification-token": sign(url, installation_id="inst-3")})
    assert (response.status_code, response.json()["error"]) == (503, "token_table_unavailable")
    assert len(token_items(table)) == 1


# --- configuration -----------------------------------------------------------------------------
def test_configuration_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_TABLE_NAME", "t")
    monkeypatch.setenv("BWP_AUTHORIZE_URL", AUTHORIZE_URL)
    monkeypatch.setenv("BWP_TOKEN_URL", "https://bwp.example.test/token")
    monkeypatch.setenv("BWP_PUBLIC_KEY", PUBLIC_PEM.replace("\n", "\\n"))
    monkeypatch.setenv("BWP_CLIENT_SECRET", CLIENT_SECRET)
    with pytest.raises(ValidationError) as missing:
        AppConfig()
    assert "APP_BASE_URL is not set" in str(missing.value)
    monkeypatch.setenv("APP_BASE_URL", "http://My-Alb-123.us-east-1.ELB.amazonaws.com/")
    loaded = AppConfig()
    assert loaded.app_base_url == "http://my-alb-123.us-east-1.elb.amazonaws.com"
    assert loaded.public_key == PUBLIC_PEM
    monkeypatch.setenv("APP_BASE_URL", "http://host/prefix")
    with pytest.raises(ValidationError) as with_path:
        AppConfig()
    assert "without path" in str(with_path.value)
    monkeypatch.delenv("BWP_PUBLIC_KEY")
    monkeypatch.setenv("APP_BASE_URL", "http://host")
    assert AppConfig().public_key == BWP_PUBLIC_KEY_PEM  # the stacks set a key only when it differs
    monkeypatch.setenv("BWP_PUBLIC_KEY", "not a key")
    with pytest.raises(ValidationError) as bad_key:
        AppConfig()
    assert "BWP_PUBLIC_KEY is not a PEM public key" in str(bad_key.value)
    assert CLIENT_SECRET not in str(bad_key.value)
