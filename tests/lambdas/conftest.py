"""Fixtures for the event Lambda: the handler module loaded from ``lambdas/event_handler``,
its tables, secret and queues on moto in process (``lambda_settings``), and a Buy with Prime
double (token endpoint and GraphQL API) served through ``httpx.MockTransport``."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from bwp_workshop import aws
from bwp_workshop.core import credentials
from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.core.tokens import TokenSet
from bwp_workshop.local.lambda_host import load_handler_module
from bwp_workshop.names import CLIENT_SECRET_NAME, WEBHOOK_EVENT_SOURCE
from bwp_workshop.settings import Settings
from bwp_workshop.testing.tables import create_business_product_table, create_data_table, create_token_table

from .doubles import BP, CLIENT_ID, CLIENT_SECRET, SOURCE, FakeBwp, create_event_queues


@pytest.fixture(scope="session")
def handler_module() -> ModuleType:
    return load_handler_module()


@pytest.fixture
def bwp() -> FakeBwp:
    return FakeBwp()


@pytest.fixture
def lambda_settings(local_in_process: Settings) -> Settings:
    """The AWS the fixtures here build on: the local target's, on moto in process
    (``local_in_process``). A module whose tests start a process that must reach the same AWS
    overrides it with the session's moto server (``local_settings``), which puts those tests
    in the server tier."""
    return local_in_process


@pytest.fixture
def tables(lambda_settings: Settings) -> dict[str, Any]:
    """Data table, token table (with a fresh token for inst-1), business product table
    (``bp-0001`` belongs to inst-1) and the client secret."""
    create_data_table(lambda_settings, "data")
    create_token_table(lambda_settings, "tokens")
    business_products = BusinessProductMap(create_business_product_table(lambda_settings, "business-products"))
    business_products.put(BP, "inst-1")
    aws.client("secretsmanager", lambda_settings).create_secret(
        Name=CLIENT_SECRET_NAME, SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    )
    credentials.clear_cache()
    resource = aws.resource("dynamodb", lambda_settings)
    tokens = TokenTable(resource.Table("tokens"))
    tokens.put("inst-1", TokenSet(access_token="at-0", refresh_token="rt-0", expires_in=900))
    return {
        "data": resource.Table("data"),
        "tokens": tokens,
        "resource": resource,
        "business_products": business_products,
    }


@pytest.fixture
def make_processor(
    handler_module: ModuleType, tables: dict[str, Any], bwp: FakeBwp, lambda_settings: Settings
) -> Iterator[Callable[[], Any]]:
    clients: list[httpx.Client] = []

    def make() -> Any:
        config = handler_module.Config(
            data_table="data",
            token_table="tokens",
            client_secret_name=CLIENT_SECRET_NAME,
            token_url="http://bwp.test/token",
            graphql_url="http://bwp.test/graphql",
            event_source=SOURCE,
            api_version="2024-11-01",
            business_product_table="business-products",
            webhook_event_source=WEBHOOK_EVENT_SOURCE,
        )
        http = httpx.Client(transport=httpx.MockTransport(bwp))
        clients.append(http)
        processor = handler_module.EventProcessor(
            config, dynamodb=tables["resource"], secrets=aws.client("secretsmanager", lambda_settings), http=http
        )
        processor.graphql._sleep = lambda _seconds: None  # retries without waiting
        return processor

    yield make
    for http in clients:
        http.close()


@pytest.fixture
def processor(make_processor: Callable[[], Any]) -> Any:
    return make_processor()


@pytest.fixture
def handler_logs(handler_module: ModuleType) -> Iterator[io.StringIO]:
    """What the handler logs, formatted as in CloudWatch (JSON lines)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(handler_module.logger.registered_formatter)
    handler_module.logger.addHandler(handler)
    yield stream
    handler_module.logger.removeHandler(handler)


@pytest.fixture
def event_queues(lambda_settings: Settings, tables: dict[str, Any]) -> dict[str, str]:
    """The queue and dead-letter queue as EventStack makes them (redrive after 2 receives),
    recorded with the tables as stack outputs."""
    return create_event_queues(lambda_settings, max_receive_count=2)
