"""A person installs the app with a browser: the sandbox console page as a process, the real
app as a process (the image's command line), the token table on the local AWS. Every step
follows a link or a form of the page, with redirects followed as a browser does."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK
from bwp_workshop.settings import Settings
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle
from bwp_workshop.testing.tables import create_token_table

from .conftest import all_items
from .serving import Dockerfile, app_environment, serving, stage_image_tree


def links(page: str) -> list[str]:
    return [html.unescape(value) for value in re.findall(r'href="([^"]+)"', page)]


def forms(page: str) -> list[str]:
    return [html.unescape(value) for value in re.findall(r'<form[^>]*method="post" action="([^"]+)"', page)]


@pytest.fixture
def app(local_settings: Settings, sandbox_server: SandboxHandle, tmp_path: Path) -> Iterator[Any]:
    """The real app on a free port, registered with the sandbox."""
    table = create_token_table(local_settings)
    dockerfile = Dockerfile.parse()
    tree = stage_image_tree(dockerfile, tmp_path / "app")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    registration = sandbox_server.client.register_app(
        f"{url}/launch", f"{url}/install", f"{url}/settings", f"{url}/uninstall"
    )
    sandbox = sandbox_server.settings
    argv = dockerfile.local_cmd(port, host="127.0.0.1")
    env = app_environment(
        local_settings,
        table="tokens",
        base_url=url,
        public_key=sandbox.public_key,
        authorize_url=sandbox.authorize_url,
        token_url=sandbox.token_url,
        client_id=registration.client_id,
        client_secret=registration.client_secret.get_secret_value(),
    )
    with serving(argv, env, cwd=tree, health_url=f"{url}/health", log=tmp_path / "app.log"):
        yield registration, table, url


def test_a_person_installs_opens_settings_and_uninstalls_from_the_console(
    app: Any, sandbox_server: SandboxHandle
) -> None:
    registration, table, app_url = app
    with httpx.Client(base_url=sandbox_server.url, follow_redirects=True, trust_env=False, timeout=30) as browser:
        console = browser.get("/")
        assert console.status_code == 200 and registration.app_id in console.text
        signed_in = browser.get("/console", params={"merchant_id": "merchant-02"})
        install = next(link for link in links(signed_in.text) if registration.app_id in link)

        consent = browser.get(install)  # Install asks first: the app and what it may read
        assert consent.status_code == 200 and "asks to be installed for" in consent.text
        assert sandbox_server.client.installations(merchant_id="merchant-02") == []
        allow = next(link for link in links(consent.text) if link.startswith("/_sandbox/console/install"))

        installed = browser.get(allow)
        assert installed.status_code == 200, installed.text
        assert "is installed" in installed.text
        went = [str(response.url).split("?")[0] for response in installed.history]
        assert went == [
            f"{sandbox_server.url}/_sandbox/console/install",
            f"{app_url}/launch",
            f"{sandbox_server.url}/marketplace/authorize",
            f"{app_url}/install",
        ]
        assert installed.history[-1].status_code == 303
        assert str(installed.url) == f"{app_url}/installed"  # the address bar: no code, state or token

        [installation] = sandbox_server.client.installations(merchant_id="merchant-02")
        iid = installation["installation_id"]
        assert installation["status"] == "installed"
        assert iid in installed.text
        stored = TokenTable(table).latest(iid)
        assert stored is not None and stored.refresh_token

        to_console, to_settings = links(installed.text)
        assert to_console == f"{sandbox_server.url}/" and to_settings == f"{sandbox_server.url}/#{iid}"
        back = browser.get(to_console)  # the merchant who installed, signed in
        assert back.headers["cache-control"] == "no-store"
        assert '<option value="merchant-02" selected>' in back.text
        assert f'<tr id="{iid}">' in back.text and 'class="status-installed"' in back.text
        back = back.text
        settings_action, uninstall_action = forms(back)
        assert settings_action == f"/console/installations/{iid}/settings"

        opened = browser.post(settings_action)
        assert opened.status_code == 200, opened.text
        assert (
            "Settings opened" in opened.text and "Installed since" in opened.text and "<iframe sandbox" in opened.text
        )
        assert "/console?merchant_id=merchant-02" in links(opened.text)

        removed = browser.post(uninstall_action)
        assert removed.status_code == 200, removed.text
        assert f"POST <code>{app_url}/uninstall</code>: HTTP 200" in removed.text
        assert TokenTable(table).latest(iid) is None
        # nothing of the installation is left; the spent state stays until its ttl
        assert [item[TOKEN_PK] for item in all_items(table) if not item[TOKEN_PK].startswith(OAUTH_STATE_PREFIX)] == []

        after = browser.get("/console", params={"merchant_id": "merchant-02"}).text
        assert 'class="status-uninstalled"' in after and forms(after) == []
        again = browser.post(uninstall_action)
        assert again.status_code == 409 and "already uninstalled" in again.text
    assert sandbox_server.client.installations(merchant_id="merchant-01") == []


def test_settings_the_app_refuses_say_its_status_once(app: Any, sandbox_server: SandboxHandle) -> None:
    """After a local restart the app's token table has lost an installation the console still
    lists: the console's Settings shows the app's refusal, its HTTP status said once."""
    registration, table, app_url = app
    outcome = sandbox_server.client.install("merchant-02", app_id=registration.app_id)
    assert outcome.ok, outcome
    for item in all_items(table):  # what a restarted local AWS keeps of the token table
        table.delete_item(Key={key["AttributeName"]: item[key["AttributeName"]] for key in table.key_schema})
    with httpx.Client(base_url=sandbox_server.url, trust_env=False, timeout=30) as browser:
        refused = browser.post(f"/console/installations/{outcome.installation_id}/settings")
    assert refused.status_code == 502
    assert f"GET <code>{app_url}/settings</code>: HTTP 404</p>" in refused.text, refused.text
    assert "HTTP 404 HTTP 404" not in refused.text and "not_installed" in refused.text
