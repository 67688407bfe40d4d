"""Fault injection: rates per endpoint, reproducible with a seed, off by default, kept in
the state, settable from the environment."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bwp_workshop.sandbox import create_app
from bwp_workshop.sandbox.config import FaultSpec, sandbox_settings
from bwp_workshop.sandbox.faults import Faults
from bwp_workshop.settings import Settings
from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import new_flow

STORE = "{ buyWithPrimeStore { siteId } }"


def _outcomes(faults: Faults, endpoint: str, n: int) -> list[str | None]:
    return [faults.decide(endpoint).fault for _ in range(n)]


def test_faults_are_off_by_default() -> None:
    assert sandbox_settings().faults == {}
    assert set(_outcomes(Faults(), "graphql", 100)) == {None}


def test_rates_are_honoured_and_a_seed_reproduces_the_draws() -> None:
    spec = FaultSpec(error_rate=0.1, throttle_rate=0.2, internal_error_rate=0.1, seed=42)
    first = _outcomes(Faults({"graphql": spec}), "graphql", 2000)
    assert first == _outcomes(Faults({"graphql": spec}), "graphql", 2000)
    counts = {kind: first.count(kind) for kind in ("error", "throttle", "internal", None)}
    # binomial counts of 2000 draws, within five standard deviations of the expected
    assert 135 <= counts["error"] <= 265
    assert 310 <= counts["throttle"] <= 490
    assert 135 <= counts["internal"] <= 265
    other = _outcomes(Faults({"graphql": spec.model_copy(update={"seed": 43})}), "graphql", 2000)
    assert other != first
    token_faults = _outcomes(Faults({"token": spec}), "token", 2000)
    assert "internal" not in token_faults  # GraphQL only


def test_unknown_endpoints_are_refused() -> None:
    with pytest.raises(ValueError, match="no endpoint login"):
        Faults({"login": FaultSpec(error_rate=1)})


def test_graphql_throttling_and_internal_errors_come_in_bwp_shape(sandbox_app: SandboxHandle) -> None:
    flow = new_flow(sandbox_app)
    tokens = flow.tokens()
    sandbox_app.client.set_faults(graphql={"throttle_rate": 1.0})
    throttled = flow.graphql(STORE, token=tokens["access_token"], installation_id=tokens["installation_id"])
    assert throttled.status_code == 200
    assert throttled.json()["errors"][0]["extensions"]["classification"] == {
        "type": "ThrottlingError",
        "errorType": "ThrottlingException",
        "errorCode": 429,
    }
    sandbox_app.client.set_faults(graphql={"internal_error_rate": 1.0}, replace=True)
    internal = flow.graphql(STORE, token=tokens["access_token"], installation_id=tokens["installation_id"])
    assert internal.json()["errors"][0]["extensions"]["classification"]["type"] == "InternalServerError"
    sandbox_app.client.set_faults(graphql={"error_rate": 1.0}, replace=True)
    failed = flow.graphql(STORE, token=tokens["access_token"], installation_id=tokens["installation_id"])
    assert failed.status_code == 503
    sandbox_app.client.set_faults(replace=True)
    assert flow.graphql(STORE, token=tokens["access_token"], installation_id=tokens["installation_id"]).is_success


def test_token_and_authorize_faults(sandbox_app: SandboxHandle) -> None:
    flow = new_flow(sandbox_app)
    code, verifier, _ = flow.code()
    sandbox_app.client.set_faults(token={"throttle_rate": 1.0})
    throttled = flow.exchange(code, verifier)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    assert throttled.json()["error"] == "slow_down"
    sandbox_app.client.set_faults(token={"error_rate": 1.0})
    assert flow.exchange(code, verifier).status_code == 503
    sandbox_app.client.set_faults(replace=True)
    assert flow.exchange(code, verifier).status_code == 200  # the faults consumed nothing
    sandbox_app.client.set_faults(authorize={"error_rate": 1.0})
    assert flow.authorize({"client_id": "x"}).status_code == 503


def test_added_latency(sandbox_app: SandboxHandle) -> None:
    flow = new_flow(sandbox_app)
    sandbox_app.client.set_faults(token={"latency_ms": 120})
    started = time.monotonic()
    response = flow.http.post("/token", data={"grant_type": "refresh_token"})
    assert time.monotonic() - started >= 0.12
    assert response.status_code == 401  # the request itself still runs


def test_settings_from_the_environment_and_dotenv_and_faults_persist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BWP_SANDBOX_FAULTS", '{"graphql": {"throttle_rate": 0.25, "seed": 9}}')
    monkeypatch.setenv("BWP_SANDBOX_ACCESS_TOKEN_TTL", "30")
    monkeypatch.setenv("BWP_SANDBOX_EVENT_SHAPES", '["legacy", "2024-01-01"]')
    (tmp_path / ".env").write_text("BWP_SANDBOX_CODE_TTL=7\nBWP_SANDBOX_ACCESS_TOKEN_TTL=31\n")
    settings = Settings(project_dir=tmp_path)
    with TestClient(create_app(settings)) as http:
        faults = http.get("/_sandbox/faults").json()
        assert faults["graphql"]["throttle_rate"] == 0.25
        config = http.get("/_sandbox/config").json()
        assert config["access_token_ttl"] == 30  # the environment wins over .env
        assert config["code_ttl"] == 7
        assert config["event_shapes"] == ["legacy", "2024-01-01"]
        http.put("/_sandbox/faults", json={"faults": {"token": {"latency_ms": 5}}})
    monkeypatch.delenv("BWP_SANDBOX_FAULTS")
    with TestClient(create_app(settings)) as http:  # a restart keeps what was set at run time
        assert http.get("/_sandbox/faults").json()["token"]["latency_ms"] == 5
        response = http.put("/_sandbox/faults", json={"faults": {"login": {"error_rate": 1}}})
        assert response.status_code == 422


def test_invalid_rates_are_refused(sandbox_app: SandboxHandle) -> None:
    response = sandbox_app.client._http.put("/_sandbox/faults", json={"faults": {"graphql": {"error_rate": 2}}})
    assert response.status_code == 422
