"""The sandbox console as HTML pages for a person (in process): the page lists the apps and
merchants, every value is escaped, the root leads to it, and the authorize endpoint's "sign in"
page points a person to it. The full install through the page is in
``tests/oauth_app/test_console_install.py``."""

from __future__ import annotations

import html
import re

import httpx

from bwp_workshop.sandbox.config import CONSOLE_INSTALL_PATH
from bwp_workshop.sandbox.console import install_link
from tests.conftest import SandboxHandle


def _http(sandbox: SandboxHandle) -> httpx.Client:
    return sandbox.client._http  # the in-process TestClient


def hrefs(page: str) -> list[str]:
    return [html.unescape(value) for value in re.findall(r'href="([^"]+)"', page)]


def test_the_console_lists_apps_and_merchants_and_links_install(sandbox_app: SandboxHandle) -> None:
    app = sandbox_app.client.register_app(
        "http://a.test/launch", "http://a.test/install", "http://a.test/s", "http://a.test/u"
    )
    root = _http(sandbox_app).get("/", follow_redirects=True)
    assert root.status_code == 200 and root.url.path == "/console"
    assert root.headers["content-type"].startswith("text/html")
    page = root.text
    for merchant in sandbox_app.client.merchants():
        assert html.escape(merchant["name"]) in page and merchant["merchantId"] in page
    assert app.app_id in page and app.client_id in page and "http://a.test/launch" in page
    assert "<script" not in page
    first = sandbox_app.client.merchants()[0]["merchantId"]
    assert install_link(app.app_id, first) in hrefs(page)
    assert "None yet." in page  # no installations

    chosen = _http(sandbox_app).get("/console", params={"merchant_id": "merchant-02"}).text
    assert "Signed in as" in chosen and install_link(app.app_id, "merchant-02") in hrefs(chosen)
    assert '<option value="merchant-02" selected>' in chosen
    unknown = _http(sandbox_app).get("/console", params={"merchant_id": "<b>nobody</b>"}).text
    assert "No merchant &lt;b&gt;nobody&lt;/b&gt; here" in unknown and "<b>nobody" not in unknown


def test_the_console_without_apps_says_how_to_register_one(sandbox_app: SandboxHandle) -> None:
    page = _http(sandbox_app).get("/console").text
    assert "No app is registered yet" in page and "bwp-workshop sandbox register --write-env" in page
    assert CONSOLE_INSTALL_PATH not in page


def test_every_value_on_the_page_is_escaped(sandbox_app: SandboxHandle) -> None:
    evil = 'http://a.test/launch?x="><script>alert(1)</script>'
    sandbox_app.client.register_app(evil, "http://a.test/install", "http://a.test/s", "http://a.test/u")
    page = _http(sandbox_app).get("/console").text
    assert "<script>" not in page
    assert html.escape(evil) in page


def test_actions_on_unknown_installations_are_clear(sandbox_app: SandboxHandle) -> None:
    answer = _http(sandbox_app).post("/console/installations/inst-<x>/uninstall")
    assert answer.status_code == 404
    assert "no installation &#x27;inst-&lt;x&gt;&#x27;" in answer.text


def test_the_sign_in_page_points_to_the_console(sandbox_app: SandboxHandle) -> None:
    app = sandbox_app.client.register_app(
        "http://a.test/launch", "http://a.test/install", "http://a.test/s", "http://a.test/u"
    )
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": "http://a.test/install",
        "state": "s" * 20,
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
    }
    answer = _http(sandbox_app).get("/marketplace/authorize", params=query)
    assert answer.status_code == 401
    assert "No merchant is signed in" in answer.text
    assert f"{sandbox_app.url}/console" in hrefs(answer.text)
