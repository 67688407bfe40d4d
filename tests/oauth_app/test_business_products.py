"""The OAuth app keeps the business product table: install records the store's
``businessProductId`` for the installation (read from ``buyWithPrimeStore`` with the new
access token), uninstall removes it; when the API does not answer, the install stores nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK
from bwp_workshop.settings import Settings
from oauth_app.app import create_app
from tests.conftest import create_business_product_table

from .conftest import BASE_URL, ScriptedTokenEndpoint, all_items, config, install_url, launch, sign

GRAPHQL_URL = "https://bwp.example.test/graphql"


class Api:
    """The token endpoint (scripted) and a GraphQL API that answers ``buyWithPrimeStore``."""

    def __init__(self, token_endpoint: ScriptedTokenEndpoint) -> None:
        self.token_endpoint = token_endpoint
        self.stores: dict[str, str] = {}  # installation -> business product
        self.calls: list[dict[str, Any]] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/graphql":
            return self.token_endpoint.handler(request)
        self.calls.append({"headers": dict(request.headers), **json.loads(request.content)})
        if self.down:
            return httpx.Response(503)
        installation = request.headers["x-omni-installationid"]
        store = {"siteId": "site-1", "widgetId": "w-1", "businessProductId": self.stores.get(installation)}
        return httpx.Response(200, json={"data": {"buyWithPrimeStore": store}})


@pytest.fixture
def products(local_settings: Settings) -> Any:
    return create_business_product_table(local_settings)


@pytest.fixture
def api(token_endpoint: ScriptedTokenEndpoint) -> Api:
    return Api(token_endpoint)


@pytest.fixture
def client(table: Any, products: Any, api: Api) -> Any:
    http = httpx.Client(transport=httpx.MockTransport(api))
    app = create_app(
        config(graphql_url=GRAPHQL_URL, api_version="2024-11-01", business_product_table="business-products"),
        table=table,
        http=http,
        business_product_table=products,
    )
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client
    http.close()


def install(client: TestClient, installation_id: str) -> Any:
    params = launch(client)
    url = install_url({"code": "c", "state": params["state"]})
    return client.get(f"{url}&verification-token={sign(url, installation_id=installation_id)}")


def uninstall(client: TestClient, installation_id: str) -> Any:
    url = f"{BASE_URL}/uninstall"
    body = json.dumps({"installationId": installation_id}).encode()
    token = sign(url, body, installation_id=installation_id)
    return client.post(url, content=body, headers={"content-type": "application/json", "verification-token": token})


def test_install_records_the_business_product_and_uninstall_removes_it(
    client: TestClient, api: Api, products: Any
) -> None:
    api.stores = {"inst-1": "bp-1", "inst-2": "bp-2"}
    assert install(client, "inst-1").status_code == 200
    assert install(client, "inst-2").status_code == 200
    table = BusinessProductMap(products)
    assert (table.installation_of("bp-1"), table.installation_of("bp-2")) == ("inst-1", "inst-2")
    assert (table.of_installation("inst-1"), table.of_installation("inst-3")) == (["bp-1"], [])
    # Asked with the new installation's own token.
    assert api.calls[0]["headers"]["authorization"] == "Bearer access-token-1-secretvalue"
    assert "businessProductId" in api.calls[0]["query"]

    assert uninstall(client, "inst-1").status_code == 200
    assert (table.installation_of("bp-1"), table.installation_of("bp-2")) == (None, "inst-2")
    assert uninstall(client, "inst-1").status_code == 200  # repeating it is harmless


def test_a_reinstall_takes_the_business_product_and_the_old_uninstall_leaves_it(
    client: TestClient, api: Api, products: Any
) -> None:
    api.stores = {"inst-old": "bp-1", "inst-new": "bp-1"}
    assert install(client, "inst-old").status_code == 200
    assert install(client, "inst-new").status_code == 200
    assert uninstall(client, "inst-old").status_code == 200
    assert BusinessProductMap(products).installation_of("bp-1") == "inst-new"


def test_when_the_api_does_not_answer_the_install_stores_nothing(
    client: TestClient, api: Api, table: Any, products: Any
) -> None:
    api.stores = {"inst-1": "bp-1"}
    api.down = True
    response = install(client, "inst-1")
    assert (response.status_code, response.json()["error"]) == (502, "store_unavailable")
    assert "start the install again" in response.json()["reason"]
    assert not [item for item in all_items(table) if not item[TOKEN_PK].startswith(OAUTH_STATE_PREFIX)]
    assert not products.scan()["Items"]
