import json
from urllib.parse import parse_qs

import httpx
import pytest

from bwp_workshop.core.tokens import TokenEndpoint, TokenEndpointError, TokenSet

GOOD = {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 900, "token_type": "Bearer"}


def _endpoint(responses: list, seen: list | None = None) -> TokenEndpoint:
    answers = iter(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(parse_qs(request.content.decode()))
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return TokenEndpoint("https://bwp.test/token", "cid", "csecret", http=http, max_wait=0.01)


def test_exchange_sends_the_form_with_verifier_and_credentials_in_the_body() -> None:
    seen: list = []
    tokens = _endpoint([httpx.Response(200, json=GOOD)], seen).exchange_code(
        "the-code", redirect_uri="http://app/install", code_verifier="v" * 64
    )
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == ("at-1", "rt-1", 900)
    assert tokens.expires_at == int(tokens.obtained_at) + 900
    form = {k: v[0] for k, v in seen[0].items()}
    assert form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "http://app/install",
        "code_verifier": "v" * 64,
        "client_id": "cid",
        "client_secret": "csecret",
    }


def test_transient_failures_are_retried_then_succeed() -> None:
    endpoint = _endpoint(
        [httpx.ConnectError("down"), httpx.Response(503), httpx.Response(429), httpx.Response(200, json=GOOD)]
    )
    assert endpoint.refresh("rt-0").access_token == "at-1"
    assert endpoint.requests == 4


def test_transient_failures_give_up_after_the_attempts() -> None:
    endpoint = _endpoint([httpx.Response(500)] * 4)
    with pytest.raises(TokenEndpointError) as caught:
        endpoint.refresh("rt-0")
    assert caught.value.transient and caught.value.status == 500
    assert endpoint.requests == 4


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(400, json={"error": "invalid_grant", "error_description": "code used"}), "invalid_grant"),
        (httpx.Response(401, json={"error": "invalid_client"}), "invalid_client"),
        (httpx.Response(200, text="<html>"), "invalid_response"),
        (httpx.Response(200, json={"token_type": "Bearer"}), None),
    ],
)
def test_permanent_failures_are_not_retried(response: httpx.Response, error: str | None) -> None:
    endpoint = _endpoint([response, httpx.Response(200, json=GOOD)])
    with pytest.raises(TokenEndpointError) as caught:
        endpoint.exchange_code("secret-code", redirect_uri="r", code_verifier="secret-verifier")
    assert not caught.value.transient
    assert caught.value.error == error
    assert endpoint.requests == 1
    assert "secret-code" not in str(caught.value) and "csecret" not in str(caught.value)


def test_missing_expires_in_assumes_fifteen_minutes_and_repr_hides_tokens() -> None:
    tokens = TokenSet.from_response({"access_token": "at", "refresh_token": "rt"})
    assert tokens.expires_in == 900
    assert "at" not in repr(tokens).replace("obtained_at", "").replace("token_type", "")
    assert "csecret" not in repr(_endpoint([]))
    json.dumps(tokens.expires_at)
