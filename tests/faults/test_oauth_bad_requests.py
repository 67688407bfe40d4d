"""The OAuth app refuses bad requests: one named table of them (verification token, request
hash, state, code, headers, bodies, methods), each answered 4xx with an error code and a
reason, with nothing stored, nothing deleted, no code exchanged and the pending install not
spent. The app runs in process against a token table on the local AWS and a scripted token
endpoint (the fixtures of tests/oauth_app). The verification-token cases are those of
``tests/oauth_app/test_app.py`` (``BAD_TOKENS``); the schemathesis fuzz over the app's
OpenAPI schema (no input answered 5xx) is ``tests/oauth_app/test_fuzz.py``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK
from oauth_app.api.deps import MAX_BODY
from oauth_app.api.routes.oauth import MAX_CODE, STATE_COOKIE
from oauth_app.app import create_app
from tests.oauth_app.checks import BAD_TOKENS, assert_nothing_secret_logged, state_items, token_items
from tests.oauth_app.conftest import (
    BASE_URL,
    OTHER_KEY,
    AppLogs,
    ScriptedTokenEndpoint,
    app_logs,  # noqa: F401  (fixture)
    config,
    install_url,
    launch,
    sign,
    state_cookie,
    table,  # noqa: F401  (fixture)
    token_endpoint,  # noqa: F401  (fixture)
)

UNINSTALL = f"{BASE_URL}/uninstall"
BODY = b'{"installationId":"inst-keep","reason":"merchant removed the app"}'
JSON = {"content-type": "application/json"}


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: Any = None
    cookies: dict[str, str] = field(default_factory=dict)


def _install(state: str, **query: str) -> str:
    return install_url({"code": "the-code", "state": state, **query})


def _signed_install(state: str, params: dict[str, str]) -> Request:
    url = install_url(params)
    return Request("GET", f"{url}&verification-token={sign(url)}")


def _token_case(name: str) -> tuple[Callable[[str], Request], int, str, str]:
    make, status, code, reason = BAD_TOKENS[name]

    def build(state: str) -> Request:
        url = _install(state)
        token = make(url)
        return Request("GET", url if token is None else f"{url}&verification-token={token}")

    return build, status, code, reason


#: name -> (request for a pending install's state, expected status, error code[, words of the reason])
CASES: dict[str, tuple[Any, ...]] = {
    # --- verification token and request hash (install) ---
    **{f"token: {name}": _token_case(name) for name in BAD_TOKENS},
    "token: garbled in the header": (
        lambda state: Request("GET", _install(state), headers={"verification-token": "a.b"}),
        403,
        "malformed_token",
    ),
    # --- state ---
    "state: missing": (lambda state: _signed_install(state, {"code": "c"}), 400, "missing_state"),
    "state: not one the app issues": (
        lambda state: _signed_install(state, {"code": "c", "state": "short"}),
        400,
        "invalid_state",
    ),
    "state: expired": (
        lambda state: Request(
            **{
                **_signed_install(state, {"code": "c", "state": "A" * len(state)}).__dict__,
                "cookies": {STATE_COOKIE: state_cookie("A" * len(state), expires_in=-1)},
            },
        ),
        400,
        "unknown_state",
    ),
    "state: opened in a browser without the state cookie": (
        lambda state: _signed_install(state, {"code": "c", "state": state}),
        400,
        "state_not_bound",
    ),
    "state: started in another browser": (
        lambda state: Request(
            **{**_signed_install(state, {"code": "c", "state": state}).__dict__, "cookies": {STATE_COOKIE: "0" * 64}},
        ),
        400,
        "state_mismatch",
    ),
    "state: authorization refused": (
        lambda state: _signed_install(state, {"error": "access_denied", "state": state}),
        400,
        "authorization_refused",
    ),
    # --- code ---
    "code: missing": (lambda state: _signed_install(state, {"state": state}), 400, "missing_code"),
    "code: too long": (
        lambda state: _signed_install(state, {"code": "c" * (MAX_CODE + 1), "state": state}),
        400,
        "invalid_code",
    ),
    # --- headers (settings and uninstall) ---
    "settings: no token": (lambda state: Request("GET", f"{BASE_URL}/settings"), 401, "missing_token"),
    "settings: token signed by another key": (
        lambda state: Request(
            "GET", f"{BASE_URL}/settings", headers={"verification-token": sign(f"{BASE_URL}/settings", key=OTHER_KEY)}
        ),
        403,
        "bad_signature",
    ),
    "settings: token for another URL": (
        lambda state: Request(
            "GET", f"{BASE_URL}/settings", headers={"verification-token": sign(f"{BASE_URL}/settings?x=1")}
        ),
        403,
        "request_hash_mismatch",
    ),
    # --- bodies (uninstall) ---
    "uninstall: body changed after signing": (
        lambda state: Request(
            "POST",
            UNINSTALL,
            headers={**JSON, "verification-token": sign(UNINSTALL, BODY, installation_id="inst-keep")},
            content=BODY.replace(b"merchant", b"MERCHANT"),
        ),
        403,
        "request_hash_mismatch",
    ),
    "uninstall: body not in the hash": (
        lambda state: Request(
            "POST",
            UNINSTALL,
            headers={**JSON, "verification-token": sign(UNINSTALL, None, installation_id="inst-keep")},
            content=BODY,
        ),
        403,
        "request_hash_mismatch",
    ),
    "uninstall: body too large": (
        lambda state: Request("POST", UNINSTALL, headers={"verification-token": "x"}, content=b"x" * (MAX_BODY + 1)),
        413,
        "body_too_large",
    ),
    "uninstall: chunked body too large": (
        lambda state: Request(
            "POST", UNINSTALL, headers={"verification-token": "x"}, content=iter([b"x" * MAX_BODY, b"x" * 1024])
        ),
        413,
        "body_too_large",
    ),
    "uninstall: no token": (lambda state: Request("POST", UNINSTALL, headers=JSON, content=BODY), 401, "missing_token"),
    # --- methods and paths ---
    "method: POST /launch": (lambda state: Request("POST", f"{BASE_URL}/launch"), 405, "method_not_allowed"),
    "method: DELETE /install": (lambda state: Request("DELETE", _install(state)), 405, "method_not_allowed"),
    "method: GET /uninstall": (lambda state: Request("GET", UNINSTALL), 405, "method_not_allowed"),
    "method: PUT /settings": (lambda state: Request("PUT", f"{BASE_URL}/settings"), 405, "method_not_allowed"),
    "path: unknown": (lambda state: Request("GET", f"{BASE_URL}/admin"), 404, "not_found"),
}


def test_the_table_has_at_least_25_named_cases_of_every_kind() -> None:
    kinds = {name.split(":")[0] for name in CASES}
    assert len(CASES) >= 25
    assert {"token", "state", "code", "settings", "uninstall", "method"} <= kinds


@pytest.fixture
def client(table: Any, token_endpoint: ScriptedTokenEndpoint) -> Any:  # noqa: F811
    app = create_app(config(), table=table, http=token_endpoint.client())
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_request_is_refused_with_a_reason_and_changes_nothing(
    case: str,
    client: TestClient,
    table: Any,  # noqa: F811
    token_endpoint: ScriptedTokenEndpoint,  # noqa: F811
    app_logs: AppLogs,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    # An installed merchant (nothing of it may change) and a pending install (not to be spent).
    params = launch(client)
    url = install_url({"code": "first-code", "state": params["state"]})
    assert client.get(f"{url}&verification-token={sign(url, installation_id='inst-keep')}").status_code == 200
    client.cookies.clear()
    pending = launch(client)
    client.cookies.clear()
    items, exchanges = token_items(table), len(token_endpoint.requests)

    build, status, code, *reason = CASES[case]
    request = build(pending["state"])
    for name, value in request.cookies.items():
        client.cookies.set(name, value, domain="app.example.test", path="/install")
    response = client.request(
        request.method, request.url, headers=request.headers, content=request.content, follow_redirects=False
    )

    assert 400 <= response.status_code < 500
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert len(response.json()["reason"]) > 10
    assert not reason or reason[0] in response.json()["reason"]
    assert token_items(table) == items  # nothing stored, nothing deleted
    assert len(token_endpoint.requests) == exchanges  # no code exchanged
    # only the finished install spent its state; the pending one is not spent
    assert [item[TOKEN_PK] for item in state_items(table)] == [OAUTH_STATE_PREFIX + params["state"]]
    secrets = ("the-code", "first-code", pending["state"])
    assert not [value for value in secrets if value in response.text], "the answer repeats a secret"
    path = urlsplit(request.url).path
    rejection = f"{request.method} {path} refused {status} {code}"
    assert_nothing_secret_logged(app_logs, caplog, capsys, *secrets, logged=[rejection])
