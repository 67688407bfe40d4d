"""The Buy with Prime GraphQL API from a notebook or the CLI, as an installation: the access
token comes from the token table (refreshed first when it is about to expire, the same way
the event Lambda does), the calls go through the shared GraphQL client (retries with backoff,
errors classified).
The queries are the shared client's (one owner with the event Lambda); the event subscriptions
are in :mod:`bwp_workshop.steps.subscriptions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import aws
from ..core.graphql import GraphQLClient
from ..core.token_table import StoredToken, TokenTable
from ..core.tokens import TokenEndpoint
from ..errors import ConfigurationError
from ..names import INFRA_STACK, OUT_TOKEN_TABLE
from ..outputs import stack_output
from ..settings import Settings


def installation(settings: Settings, installation_id: str | None) -> str:
    """``installation_id``, else the settings' (BWP_INSTALLATION_ID); an error that says how to get one."""
    installation_id = installation_id or settings.installation_id
    if not installation_id:
        raise ConfigurationError(
            "No installation to call the API as.",
            hint="Install the app as a merchant first (notebook 04); it sets BWP_INSTALLATION_ID in .env.",
        )
    return installation_id


def access_token(settings: Settings, installation_id: str | None = None) -> StoredToken:
    """The installation's token from the token table, refreshed when it expires within a minute."""
    installation_id = installation(settings, installation_id)
    client_id, client_secret = settings.require_client_credentials()
    table = aws.resource("dynamodb", settings).Table(stack_output(settings, INFRA_STACK, OUT_TOKEN_TABLE))
    return TokenTable(table).valid_token(installation_id, TokenEndpoint(settings.token_url, client_id, client_secret))


def refresh_token(settings: Settings, installation_id: str | None = None) -> StoredToken:
    """Refresh the installation's token now, whatever its expiry (as the Lambda does when one
    is about to expire); the new pair is stored as the installation's newest item."""
    installation_id = installation(settings, installation_id)
    client_id, client_secret = settings.require_client_credentials()
    table = aws.resource("dynamodb", settings).Table(stack_output(settings, INFRA_STACK, OUT_TOKEN_TABLE))
    endpoint = TokenEndpoint(settings.token_url, client_id, client_secret)
    return TokenTable(table).valid_token(installation_id, endpoint, margin_seconds=float("inf"))


def _client(settings: Settings, installation_id: str | None) -> tuple[GraphQLClient, str, str]:
    """The GraphQL client, the installation id and its valid access token."""
    installation_id = installation(settings, installation_id)
    token = access_token(settings, installation_id)
    return GraphQLClient(settings.graphql_url, api_version=settings.api_version), installation_id, token.access_token


Run = Callable[[str, dict[str, Any] | None], dict[str, Any]]


def session(settings: Settings, installation_id: str | None = None) -> Run:
    """``run(document, variables)`` for several GraphQL documents as the installation: the token
    is looked up (and refreshed if need be) once, and one client makes every call."""
    client, installation_id, token = _client(settings, installation_id)

    def run(document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        operation = "mutation" if document.lstrip().startswith("mutation") else "query"
        return client.execute(
            document, variables, access_token=token, installation_id=installation_id, operation=operation
        )

    return run


def execute(
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    settings: Settings,
    installation_id: str | None = None,
) -> dict[str, Any]:
    """Run one GraphQL document as the installation; its ``data``."""
    return session(settings, installation_id)(document, variables)


def store(settings: Settings, installation_id: str | None = None) -> dict[str, Any]:
    """The installation's Buy with Prime store: site id and widget id."""
    client, installation_id, token = _client(settings, installation_id)
    return client.store(access_token=token, installation_id=installation_id)


def order(order_id: str, settings: Settings, installation_id: str | None = None) -> dict[str, Any]:
    """One order with its products, packages, returns and refunds."""
    client, installation_id, token = _client(settings, installation_id)
    return client.order(order_id, access_token=token, installation_id=installation_id, details=True)
