"""The sandbox console as HTML pages for a person (in process): the page lists the apps and
merchants, every value is escaped, the root leads to it, Install opens a consent page that
names the app and what it may read, no page is kept in the browser's cache, and the authorize
endpoint's "sign in" page points a person to it. The full install through the page is in
``tests/oauth_app/test_console_install.py``."""

from __future__ import annotations

import html
import re
import sqlite3
from typing import Any

import httpx

from bwp_workshop.sandbox.config import CONSOLE_COOKIE, CONSOLE_INSTALL_PATH
from bwp_workshop.sandbox.console_pages import APP_ACCESS, consent_link, install_link
from bwp_workshop.sandbox.database import SandboxDatabase
from bwp_workshop.testing.sandbox import SandboxHandle


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
    assert consent_link(app.app_id, first) in hrefs(page)
    assert "None yet." in page  # no installations

    chosen = _http(sandbox_app).get("/console", params={"merchant_id": "merchant-02"}).text
    assert "Signed in as" in chosen and consent_link(app.app_id, "merchant-02") in hrefs(chosen)
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


def test_install_asks_for_consent_naming_the_app_and_what_it_may_read(sandbox_app: SandboxHandle) -> None:
    app = sandbox_app.client.register_app(
        "http://a.test/launch", "http://a.test/install", "http://a.test/s", "http://a.test/u", name="Shop <Stats>"
    )
    http = _http(sandbox_app)
    console = http.get("/console", params={"merchant_id": "merchant-02"}).text
    assert "Shop &lt;Stats&gt;" in console  # the app by its name, escaped
    [install] = [link for link in hrefs(console) if app.app_id in link]
    assert install == consent_link(app.app_id, "merchant-02") and CONSOLE_INSTALL_PATH not in install

    consent = http.get(install)
    assert consent.status_code == 200 and consent.headers["cache-control"] == "no-store"
    page = consent.text
    merchant = next(m for m in sandbox_app.client.merchants() if m["merchantId"] == "merchant-02")
    assert "<title>Install Shop &lt;Stats&gt;?</title>" in page
    assert f"asks to be installed for <strong>{html.escape(merchant['name'])}</strong>" in page
    for line in APP_ACCESS:
        assert html.escape(line[1:]) in page
    allow, cancel = [link for link in hrefs(page) if link.startswith("/")]
    assert allow == install_link(app.app_id, "merchant-02")  # the install, as before
    assert cancel == "/console?merchant_id=merchant-02"
    assert "<script" not in page

    unknown = http.get("/console/consent", params={"app_id": "app-nope", "merchant_id": "merchant-02"})
    assert unknown.status_code == 404 and "no app" in unknown.text


def test_an_app_without_a_name_is_shown_by_its_id(sandbox_app: SandboxHandle) -> None:
    app = sandbox_app.client.register_app("http://a.test/l", "http://a.test/i", "http://a.test/s", "http://a.test/u")
    consent = _http(sandbox_app).get(consent_link(app.app_id, "merchant-01")).text
    assert f"<title>Install {app.app_id}?</title>" in consent


def test_the_pages_that_change_are_never_cached(sandbox_app: SandboxHandle) -> None:
    """Back after an install must show the page as it is now, not "None yet." from the cache."""
    app = sandbox_app.client.register_app(
        "http://a.test/launch", "http://a.test/install", "http://a.test/s", "http://a.test/u"
    )
    http = _http(sandbox_app)
    pages = [
        http.get("/console"),
        http.get("/console", params={"merchant_id": "merchant-02"}),
        http.get(consent_link(app.app_id, "merchant-02")),
        http.post("/console/installations/inst-none/settings"),
    ]
    for page in pages:
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store", page.url


def test_the_console_comes_back_to_the_merchant_who_started_an_install(sandbox_app: SandboxHandle) -> None:
    app = sandbox_app.client.register_app(
        "http://a.test/launch", "http://a.test/install", "http://a.test/s", "http://a.test/u"
    )
    http = _http(sandbox_app)
    started = http.get(install_link(app.app_id, "merchant-02"), follow_redirects=False)
    assert started.status_code == 302 and started.headers["location"] == "http://a.test/launch"
    assert CONSOLE_COOKIE in http.cookies
    back = http.get("/console").text  # what an app's "back to the console" link opens
    assert '<option value="merchant-02" selected>' in back
    http.cookies.clear()
    assert '<option value="merchant-01" selected>' in http.get("/console").text


def test_a_state_folder_from_before_app_names_still_opens(tmp_path: Any) -> None:
    folder = tmp_path / "sandbox"
    folder.mkdir()
    old = sqlite3.connect(folder / "sandbox.sqlite3")
    old.execute(
        "CREATE TABLE apps (app_id TEXT PRIMARY KEY, client_id TEXT UNIQUE NOT NULL, secret_hash TEXT NOT NULL, "
        "launch_url TEXT NOT NULL, install_url TEXT NOT NULL, settings_url TEXT NOT NULL, "
        "uninstall_url TEXT NOT NULL, created_at REAL NOT NULL)"
    )
    old.execute("INSERT INTO apps VALUES ('app-1', 'c', 'h', 'l', 'i', 's', 'u', 0)")
    old.commit()
    old.close()
    db = SandboxDatabase(folder)
    try:
        [row] = db.all("SELECT app_id, name FROM apps")
        assert dict(row) == {"app_id": "app-1", "name": ""}
    finally:
        db.close()
