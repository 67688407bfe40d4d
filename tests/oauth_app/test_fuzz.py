"""Property-based fuzzing of the app over its own OpenAPI schema (schemathesis strategies run
by hypothesis): whatever a client sends to any endpoint, schema-conforming or not, the answer
is never a 5xx, and every refusal carries a reason. Bounded and deterministic (a fixed number
of examples per operation and mode, derandomized) so it stays fast and repeatable."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK
from oauth_app.app import create_app

from .conftest import BASE_URL, ScriptedTokenEndpoint, all_items, config

EXAMPLES = 30


def test_no_input_makes_the_app_fail(table: Any) -> None:
    endpoint = ScriptedTokenEndpoint()
    app = create_app(config(), table=table, http=endpoint.client())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "GET /launch",
        "GET /install",
        "GET /settings",
        "POST /uninstall",
        "GET /health",
    }
    seen: list[int] = []
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=EXAMPLES,
                    derandomize=True,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                def check(case: Any) -> None:
                    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
                    kwargs.pop("follow_redirects", None)
                    kwargs.pop("allow_redirects", None)
                    if not kwargs.get("cookies"):
                        kwargs.pop("cookies", None)  # the schema declares none
                    if isinstance(kwargs.get("data"), bytes | str):
                        kwargs["content"] = kwargs.pop("data")
                    response = client.request(**kwargs, follow_redirects=False)
                    seen.append(response.status_code)
                    assert response.status_code < 500, (kwargs, response.status_code, response.text[:300])
                    if response.status_code >= 400:
                        body = response.json()
                        assert body["error"] and body["reason"], body

                try:
                    check()
                except Unsatisfiable:
                    # no input can break the schema of an operation without parameters
                    assert mode is GenerationMode.NEGATIVE
    assert len(seen) >= len(operations) * 2
    assert endpoint.requests == []  # nothing forged got as far as a code exchange
    assert not [item for item in all_items(table) if not item[TOKEN_PK].startswith(OAUTH_STATE_PREFIX)]
