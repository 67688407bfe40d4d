"""Calling the in-process sandbox's GraphQL API as an installed app, for the sandbox and app tests:
the ``Api`` caller, an error's classification, and the subscription mutation."""

from __future__ import annotations

from typing import Any

from tests.sandbox.flow import Flow


class Api:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.tokens = flow.tokens()
        self.installation_id = self.tokens["installation_id"]

    def __call__(self, query: Any, variables: dict[str, Any] | None = None, **headers: Any) -> dict[str, Any]:
        response = self.post(query, variables, **headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def post(self, query: Any, variables: dict[str, Any] | None = None, **headers: Any) -> Any:
        token = headers.get("token", self.tokens["access_token"])
        installation_id = headers.get("installation_id", self.installation_id)
        return self.flow.graphql(query, variables, token=token, installation_id=installation_id)


def classification(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["classification"]["type"])


SUBSCRIBE = (
    "mutation($input: CreateEventSubscriptionInput!) { createEventSubscription(input: $input) { subscriptionId } }"
)
