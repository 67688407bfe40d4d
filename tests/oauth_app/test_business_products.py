"""The OAuth app's part in the business product table: install writes nothing to it (an
installation's business product is recorded when it subscribes to events: a subscription's
``targetId`` names it, events-queries-eventsubscription), uninstall removes the installation's
business products, and a reinstall's record survives the old installation's uninstall."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bwp_workshop.core.business_products import BusinessProductMap
from bwp_workshop.settings import Settings
from bwp_workshop.testing.tables import create_business_product_table
from oauth_app.app import create_app

from .conftest import BASE_URL, ScriptedTokenEndpoint, config, install_url, launch, sign


class Api:
    """The token endpoint (scripted); any other call is recorded and refused."""

    def __init__(self, token_endpoint: ScriptedTokenEndpoint) -> None:
        self.token_endpoint = token_endpoint
        self.other_calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return self.token_endpoint.handler(request)
        self.other_calls.append(str(request.url))
        return httpx.Response(404)


@pytest.fixture
def products(aws_in_process: Settings) -> Any:
    return create_business_product_table(aws_in_process)


@pytest.fixture
def api(token_endpoint: ScriptedTokenEndpoint) -> Api:
    return Api(token_endpoint)


@pytest.fixture
def client(table: Any, products: Any, api: Api) -> Any:
    http = httpx.Client(transport=httpx.MockTransport(api))
    app = create_app(
        config(business_product_table="business-products"), table=table, http=http, business_product_table=products
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


def test_install_writes_no_business_product_and_calls_no_api(client: TestClient, api: Api, products: Any) -> None:
    assert install(client, "inst-1").status_code == 200
    assert products.scan()["Items"] == []
    assert api.other_calls == []


def test_uninstall_removes_the_installations_business_products(client: TestClient, products: Any) -> None:
    table = BusinessProductMap(products)
    table.put("bp-1", "inst-1")
    table.put("bp-2", "inst-2")
    assert (table.of_installation("inst-1"), table.of_installation("inst-3")) == (["bp-1"], [])
    assert install(client, "inst-1").status_code == 200
    assert uninstall(client, "inst-1").status_code == 200
    assert (table.installation_of("bp-1"), table.installation_of("bp-2")) == (None, "inst-2")
    assert uninstall(client, "inst-1").status_code == 200  # repeating it is harmless


def test_a_reinstall_keeps_the_business_product_when_the_old_installation_uninstalls(
    client: TestClient, products: Any
) -> None:
    table = BusinessProductMap(products)
    table.put("bp-1", "inst-old")
    table.put("bp-1", "inst-new")  # the new installation subscribed
    assert uninstall(client, "inst-old").status_code == 200
    assert table.installation_of("bp-1") == "inst-new"
