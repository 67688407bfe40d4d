"""What a request of the app works with, made once per app by :func:`build_services`: the
token pairs and the spent states (both in the token table), the sealed cookies of pending installs,
the business product map, the token endpoint, the GraphQL client and the SSM client that reads
the app's event destinations (an install subscribes the merchant to them), and the app's URLs
and installed-cookie key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request

from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.core.graphql import GraphQLClient
from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.core.tokens import TokenEndpoint
from bwp_workshop.core.webhook_auth import webhook_secret

from .config import AppConfig
from .pending_installs import PendingCookies, SpentStates, pending_cookie_key


def state_cookie_key(client_secret: str) -> bytes:
    """The key of the installed page's cookie HMAC, derived from the client secret."""
    return hashlib.sha256(b"bwp-oauth-state-cookie\0" + client_secret.encode()).digest()


@dataclass(frozen=True)
class Services:
    config: AppConfig
    tokens: TokenTable
    #: Pending installs, sealed in the state cookie (``/launch`` writes nothing server-side).
    pending: PendingCookies = field(repr=False)
    #: States used for an install (written at ``/install`` only).
    spent: SpentStates
    endpoint: TokenEndpoint
    #: None without a business product table.
    business_products: BusinessProductMap | None
    #: The HTTP client the app made itself (closed when the app stops); None when one was given.
    own_http: httpx.Client | None = field(repr=False)
    #: The installed page's cookie is an HMAC under a key only the app's instances share.
    cookie_key: bytes = field(repr=False)
    #: Buy with Prime's GraphQL API (None without ``BWP_GRAPHQL_URL``: no subscriptions made).
    graphql: GraphQLClient | None = None
    #: A boto3 SSM client that reads the event destinations (None without their parameter).
    ssm: Any = field(default=None, repr=False)
    #: EventBridge client of the webhook (None without ``webhook_event_bus``).
    events: Any = field(default=None, repr=False)

    @property
    def webhook_secret(self) -> str:
        """The webhook's secret (derived from the client secret); empty without one."""
        return webhook_secret(self.client_secret) if self.client_secret else ""

    @property
    def client_secret(self) -> str:
        return self.config.client_secret.get_secret_value()

    @property
    def secure_cookie(self) -> bool:
        return self.config.app_base_url.startswith("https://")

    def cookie_value(self, state: str) -> str:
        return hmac.new(self.cookie_key, state.encode(), hashlib.sha256).hexdigest()

    def external_url(self, request: Request) -> str:
        """The URL as Buy with Prime sent it (what it signed), not as this container sees it."""
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        path: str = raw_path.decode("latin-1").split("?", 1)[0]
        query: str = request.scope.get("query_string", b"").decode("latin-1")
        if self.config.request_url_from == "forwarded":
            origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
        else:
            origin = self.config.app_base_url
        return origin + path + (f"?{query}" if query else "")

    def redirect_uri(self, request: Request) -> str:
        if self.config.app_base_url:
            return f"{self.config.app_base_url}/install"
        return f"{request.url.scheme}://{request.headers.get('host', '')}/install"


def _dynamodb_table(name: str) -> Any:
    import boto3
    from botocore.exceptions import NoRegionError

    try:
        return boto3.resource("dynamodb").Table(name)
    except NoRegionError:
        raise RuntimeError("AWS_REGION is not set: set it to the token table's region") from None


def _ssm_client() -> Any:
    import boto3
    from botocore.exceptions import NoRegionError

    try:
        return boto3.client("ssm")
    except NoRegionError:
        raise RuntimeError("AWS_REGION is not set: set it to the region of the app's parameters") from None


def build_services(
    config: AppConfig,
    *,
    table: Any = None,
    http: httpx.Client | None = None,
    business_product_table: Any = None,
    ssm: Any = None,
    events: Any = None,
) -> Services:
    """The services for ``config``. ``table`` (the token table), ``business_product_table``
    (boto3 DynamoDB Tables), ``ssm`` (a boto3 SSM client) and ``http`` (the client for the
    token endpoint and the GraphQL API) default to real ones; tests pass their own."""
    if table is None:
        table = _dynamodb_table(config.token_table_name)
    if events is None and config.webhook_event_bus:
        import boto3

        events = boto3.client("events")
    if business_product_table is None and config.business_product_table:
        business_product_table = _dynamodb_table(config.business_product_table)
    own_http = None if http else httpx.Client(timeout=config.token_timeout_seconds, trust_env=False)
    client = http or own_http
    business_products = BusinessProductMap(business_product_table) if business_product_table is not None else None
    if ssm is None and config.event_destination_parameter:
        ssm = _ssm_client()
    graphql = (
        GraphQLClient(config.graphql_url, api_version=config.api_version, http=client, attempts=3, max_wait=1.0)
        if config.graphql_url
        else None
    )
    client_secret = config.client_secret.get_secret_value()
    return Services(
        config=config,
        tokens=TokenTable(table),
        pending=PendingCookies(pending_cookie_key(client_secret), ttl_seconds=config.state_ttl_seconds),
        spent=SpentStates(table),
        endpoint=TokenEndpoint(
            config.token_url,
            config.client_id,
            client_secret,
            http=client,
            attempts=config.token_attempts,
            max_wait=1.0,
        ),
        business_products=business_products,
        own_http=own_http,
        cookie_key=state_cookie_key(client_secret),
        graphql=graphql,
        ssm=ssm,
        events=events,
    )
