"""What a request of the app works with, made once per app by :func:`build_services`: the
token store and pending installs (the token table), the business product map and the GraphQL
client that fills it, the token endpoint, and the app's URLs and state-cookie key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request

from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.core.token_store import TokenStore
from bwp_workshop.core.tokens import TokenEndpoint
from bwp_workshop.core.webhook_auth import webhook_secret

from .config import AppConfig
from .state import PendingInstalls


def state_cookie_key(client_secret: str) -> bytes:
    """The key of the state cookie's HMAC (the cookie binds a pending install to the browser
    that started it), derived from the client secret."""
    return hashlib.sha256(b"bwp-oauth-state-cookie\0" + client_secret.encode()).digest()


@dataclass(frozen=True)
class Services:
    config: AppConfig
    store: TokenStore
    pending: PendingInstalls
    endpoint: TokenEndpoint
    #: None without a business product table.
    business_products: BusinessProductMap | None
    #: The HTTP client the app made itself (closed when the app stops); None when one was given.
    own_http: httpx.Client | None = field(repr=False)
    #: The state cookie is an HMAC of the state under a key only the app's instances share.
    cookie_key: bytes = field(repr=False)
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


def build_services(
    config: AppConfig,
    *,
    table: Any = None,
    http: httpx.Client | None = None,
    business_product_table: Any = None,
    events: Any = None,
) -> Services:
    """The services for ``config``. ``table`` (the token table), ``business_product_table``
    (boto3 DynamoDB Tables) and ``http`` (the client for the token endpoint) default to real
    ones; tests pass their own."""
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
    client_secret = config.client_secret.get_secret_value()
    return Services(
        config=config,
        store=TokenStore(table),
        pending=PendingInstalls(table, ttl_seconds=config.state_ttl_seconds),
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
        events=events,
    )
