"""The authorization and token endpoints (RFC 6749 + PKCE, RFC 7636) and the verification
token, against the sandbox in process."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest

from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import URLS, Flow, installation_of, new_flow
from tests.sandbox.helpers import pkce_pair

STORE = "{ buyWithPrimeStore { siteId } }"


@pytest.fixture
def flow(sandbox_app: SandboxHandle) -> Flow:
    return new_flow(sandbox_app)


# --- authorize ------------------------------------------------------------------------------


def test_authorize_redirects_to_the_install_url_with_code_state_and_a_verification_token_last(flow: Flow) -> None:
    code, _, location = flow.code()
    assert location.startswith(URLS["install_url"] + "?code=")
    parts = urlsplit(location)
    names = [pair.split("=")[0] for pair in parts.query.split("&")]
    assert names == ["code", "state", "verification-token"]
    assert parse_qs(parts.query)["state"] == ["state-123"]
    assert len(code) >= 40


def test_the_verification_token_verifies_with_only_the_public_key_and_hashes_the_exact_url(flow: Flow) -> None:
    _, _, location = flow.code()
    public_key = flow.sandbox.settings.public_key  # what the app is configured with
    assert public_key.startswith("-----BEGIN PUBLIC KEY-----")
    assert public_key == flow.sandbox.settings.sandbox_public_key_file.read_text()
    token = parse_qs(urlsplit(location).query)["verification-token"][0]
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    claims = jwt.decode(token, public_key, algorithms=["ES256"], options={"require": ["exp", "iat"]})
    assert set(claims) == {"installationId", "requestHash", "iat", "exp"}
    assert claims["exp"] - claims["iat"] == 300
    cut = location[: location.index("verification-token=") - 1]
    assert claims["requestHash"] == hashlib.sha256(cut.encode()).hexdigest()
    assert claims["installationId"].startswith("inst-")
    # A tampered URL no longer matches, and another key does not verify the token.
    assert claims["requestHash"] != hashlib.sha256(cut.replace("state-123", "state-124").encode()).hexdigest()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["ES256"])


def test_the_verification_token_lifetime_is_configurable(flow: Flow) -> None:
    flow.sandbox.client.update_config(verification_token_ttl=42)
    _, _, location = flow.code()
    token = parse_qs(urlsplit(location).query)["verification-token"][0]
    claims = jwt.decode(token, flow.sandbox.settings.public_key, algorithms=["ES256"])
    assert claims["exp"] - claims["iat"] == 42


def test_a_second_authorization_of_the_same_merchant_keeps_the_installation(flow: Flow) -> None:
    _, _, first = flow.code()
    _, _, second = flow.code()
    assert installation_of(first) == installation_of(second)
    other_merchant = flow.sandbox.client.merchants()[1]["merchantId"]
    flow.sign_in(other_merchant)
    _, _, third = flow.code()
    assert installation_of(third) != installation_of(first)


def test_unknown_parameters_are_ignored(flow: Flow) -> None:
    flow.code(scope="profile", prompt="none")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"client_id": None}, "client_id is missing"),
        ({"client_id": "amzn1.application-oa2-client.unknown"}, "not the client id of a registered app"),
        ({"redirect_uri": None}, "redirect_uri is missing"),
        ({"redirect_uri": URLS["install_url"] + "/"}, "does not exactly match"),
        ({"redirect_uri": URLS["install_url"].replace("app.test", "APP.test")}, "does not exactly match"),
        ({"redirect_uri": "http://evil.test/install"}, "does not exactly match"),
    ],
)
def test_a_bad_client_or_redirect_uri_is_an_error_page_not_a_redirect(flow: Flow, change: dict, reason: str) -> None:
    _, challenge = pkce_pair()
    response = flow.authorize(flow.authorize_params(challenge, **change))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert reason in response.text


def test_a_repeated_client_id_is_an_error_page(flow: Flow) -> None:
    _, challenge = pkce_pair()
    params = [*flow.authorize_params(challenge).items(), ("client_id", flow.registration.client_id)]
    response = flow.authorize(params)
    assert response.status_code == 400
    assert "repeated" in response.text


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"response_type": None}, "invalid_request", "response_type is missing"),
        ({"response_type": "token"}, "unsupported_response_type", "only response_type=code"),
        ({"state": None}, "invalid_request", "state is missing"),
        ({"code_challenge": None}, "invalid_request", "code_challenge is missing"),
        ({"code_challenge_method": None}, "invalid_request", "must be S256"),
        ({"code_challenge_method": "plain"}, "invalid_request", "must be S256"),
        ({"code_challenge": "too-short"}, "invalid_request", "base64url"),
    ],
)
def test_other_bad_requests_redirect_back_with_an_rfc6749_error(
    flow: Flow, change: dict, error: str, description: str
) -> None:
    _, challenge = pkce_pair()
    response = flow.authorize(flow.authorize_params(challenge, **change))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(URLS["install_url"] + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == [error]
    assert description in query["error_description"][0]
    assert "code" not in query
    assert query.get("state") == (None if change.get("state", "x") is None else ["state-123"])


def test_a_repeated_parameter_redirects_with_invalid_request(flow: Flow) -> None:
    _, challenge = pkce_pair()
    params = [*flow.authorize_params(challenge).items(), ("code_challenge", challenge)]
    query = parse_qs(urlsplit(flow.authorize(params).headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert "code_challenge is repeated" in query["error_description"][0]


def test_authorize_without_a_signed_in_merchant_asks_to_sign_in(sandbox_app: SandboxHandle) -> None:
    flow = new_flow(sandbox_app, sign_in=False)
    _, challenge = pkce_pair()
    response = flow.authorize(flow.authorize_params(challenge))
    assert response.status_code == 401
    assert "Sign in" in response.text


def test_a_merchant_installing_another_app_is_denied(sandbox_app: SandboxHandle) -> None:
    first, second = new_flow(sandbox_app), new_flow(sandbox_app, sign_in=False)
    first.sign_in()  # the console session is for the first app
    _, challenge = pkce_pair()
    response = second.authorize(second.authorize_params(challenge))
    assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == ["access_denied"]


# --- token: authorization_code ----------------------------------------------------------------


def test_the_code_exchange_issues_a_bearer_token_pair(flow: Flow) -> None:
    code, verifier, location = flow.code()
    response = flow.exchange(code, verifier)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    installation = flow.sandbox.client.installation(installation_of(location))
    assert installation["status"] == "installed"


def test_client_credentials_may_come_as_http_basic(flow: Flow) -> None:
    code, verifier, _ = flow.code()
    secret = flow.registration.client_secret.get_secret_value()
    basic = base64.b64encode(f"{flow.registration.client_id}:{secret}".encode()).decode()
    response = flow.http.post(
        "/token",
        content=urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": URLS["install_url"],
                "code_verifier": verifier,
            }
        ),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text


def test_credentials_in_both_header_and_body_are_refused(flow: Flow) -> None:
    code, verifier, _ = flow.code()
    secret = flow.registration.client_secret.get_secret_value()
    basic = base64.b64encode(f"{flow.registration.client_id}:{secret}".encode()).decode()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": URLS["install_url"],
        "code_verifier": verifier,
        "client_secret": secret,
    }
    response = flow.http.post("/token", data=form, headers={"Authorization": f"Basic {basic}"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("change", "status", "error", "description"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client", "wrong client secret"),
        ({"client_id": "amzn1.application-oa2-client.nope"}, 401, "invalid_client", "unknown client"),
        ({"client_secret": None}, 401, "invalid_client", "client authentication is missing"),
        ({"grant_type": None}, 400, "invalid_request", "grant_type is missing"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", "authorization_code or refresh_token"),
        ({"code": None}, 400, "invalid_request", "code is missing"),
        ({"redirect_uri": None}, 400, "invalid_request", "redirect_uri is missing"),
        ({"code_verifier": None}, 400, "invalid_request", "code_verifier is missing"),
        ({"code_verifier": "short"}, 400, "invalid_request", "43-128 characters"),
        ({"code_verifier": "a" * 64}, 400, "invalid_grant", "does not match the code_challenge"),
        ({"redirect_uri": URLS["install_url"] + "?x=1"}, 400, "invalid_grant", "redirect_uri differs"),
        ({"code": "not-a-code"}, 400, "invalid_grant", "unknown authorization code"),
    ],
)
def test_token_errors(flow: Flow, change: dict, status: int, error: str, description: str) -> None:
    code, verifier, _ = flow.code()
    response = flow.exchange(code, verifier, **change)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert description in body["error_description"]
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")
    # A failed attempt does not burn the code for the rightful client.
    if error != "invalid_client" or change.get("client_secret") != "wrong":
        return
    assert flow.exchange(code, verifier).status_code == 200


def test_a_code_issued_to_another_client_is_invalid_grant(sandbox_app: SandboxHandle) -> None:
    first = new_flow(sandbox_app)
    code, verifier, _ = first.code()
    second = Flow(sandbox_app, sandbox_app.client.register_app(**URLS))
    response = second.exchange(code, verifier)
    assert response.json()["error"] == "invalid_grant"
    assert "another client" in response.json()["error_description"]


def test_the_token_endpoint_wants_a_form_body(flow: Flow) -> None:
    response = flow.http.post("/token", json={"grant_type": "authorization_code"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert "x-www-form-urlencoded" in response.json()["error_description"]


def test_a_repeated_token_parameter_is_invalid_request(flow: Flow) -> None:
    code, verifier, _ = flow.code()
    secret = flow.registration.client_secret.get_secret_value()
    body = urlencode(
        [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code", code),
            ("redirect_uri", URLS["install_url"]),
            ("code_verifier", verifier),
            ("client_id", flow.registration.client_id),
            ("client_secret", secret),
        ]
    )
    response = flow.http.post("/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.json() == {"error": "invalid_request", "error_description": "parameter code is repeated"}


def test_an_expired_code_is_invalid_grant(flow: Flow) -> None:
    code, verifier, _ = flow.code()
    flow.sandbox.app.state.sandbox.db.run("UPDATE codes SET expires_at = 0")
    response = flow.exchange(code, verifier)
    assert response.json() == {"error": "invalid_grant", "error_description": "the authorization code expired"}


def test_a_replayed_code_fails_and_revokes_what_it_issued(flow: Flow) -> None:
    code, verifier, location = flow.code()
    tokens = flow.exchange(code, verifier).json()
    installation = installation_of(location)
    assert flow.graphql(STORE, token=tokens["access_token"], installation_id=installation).status_code == 200
    replay = flow.exchange(code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert "already used" in replay.json()["error_description"]
    revoked = flow.graphql(STORE, token=tokens["access_token"], installation_id=installation)
    assert revoked.status_code == 401
    assert revoked.json()["errors"][0]["message"] == "the access token was revoked"
    assert flow.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


# --- token: refresh_token ----------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token(flow: Flow) -> None:
    first = flow.tokens()
    response = flow.refresh(first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    used = flow.refresh(first["refresh_token"])
    assert used.status_code == 400
    assert used.json()["error"] == "invalid_grant"
    assert "already used" in used.json()["error_description"]
    assert flow.refresh(second["refresh_token"]).status_code == 200
    ok = flow.graphql(STORE, token=second["access_token"], installation_id=first["installation_id"])
    assert ok.json()["data"]["buyWithPrimeStore"]["siteId"].startswith("site-")


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"refresh_token": None}, "invalid_request", "refresh_token is missing"),
        ({"refresh_token": "unknown"}, "invalid_grant", "unknown refresh token"),
    ],
)
def test_refresh_errors(flow: Flow, change: dict, error: str, description: str) -> None:
    tokens = flow.tokens()
    response = flow.refresh(tokens["refresh_token"], **change)
    assert response.json() == {"error": error, "error_description": description}


def test_a_refresh_token_of_another_client_is_invalid_grant(sandbox_app: SandboxHandle) -> None:
    tokens = new_flow(sandbox_app).tokens()
    other = Flow(sandbox_app, sandbox_app.client.register_app(**URLS))
    response = other.refresh(tokens["refresh_token"])
    assert response.json()["error"] == "invalid_grant"


def test_an_expired_access_token_is_refused_and_a_refresh_recovers(flow: Flow) -> None:
    tokens = flow.tokens()
    installation = tokens["installation_id"]
    assert flow.sandbox.client.expire_access_tokens(installation) == 1
    expired = flow.graphql(STORE, token=tokens["access_token"], installation_id=installation)
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert expired.json()["errors"][0]["message"] == "the access token expired"
    assert expired.json()["errors"][0]["extensions"]["classification"]["type"] == "AccessDeniedError"
    fresh = flow.refresh(tokens["refresh_token"]).json()
    assert flow.graphql(STORE, token=fresh["access_token"], installation_id=installation).status_code == 200


def test_the_access_token_lifetime_is_configurable(flow: Flow) -> None:
    flow.sandbox.client.update_config(access_token_ttl=5)
    assert flow.tokens()["expires_in"] == 5
    with pytest.raises(Exception, match="cannot change"):
        flow.sandbox.client.update_config(merchants=9)
