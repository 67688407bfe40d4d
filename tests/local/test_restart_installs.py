"""A local restart ends the installations the app had: the local AWS keeps nothing, so the app's
token table is gone, and the sandbox's console must not go on saying "installed" with a
Settings button the app answers with 404. ``local down`` then ``local up`` (the real runtime:
moto and the sandbox as processes) marks every installation uninstalled in the console, saying
why; a merchant installed in a browser is shown so, without Settings or Uninstall, and installs
again. An ``up`` with nothing restarted marks nothing."""

from __future__ import annotations

import html
from pathlib import Path

import httpx

from bwp_workshop.local import reconciliation
from bwp_workshop.local.runtime import SANDBOX_SERVICE, LocalRuntime
from bwp_workshop.sandbox.client import SandboxClient
from bwp_workshop.settings import Settings
from bwp_workshop.targets import choose_target
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.reference_app import serve_reference_app
from bwp_workshop.testing.sandbox import SandboxHandle
from tests.e2e.test_tenants import browser_install
from tests.oauth_app.test_console_install import forms


def test_a_restart_marks_the_browser_install_uninstalled_in_the_console(tmp_path: Path) -> None:
    options = {
        "project_dir": tmp_path,
        "local_moto_port": free_port(),
        "local_sandbox_port": free_port(),
        "local_ready_timeout": 60,
    }
    runtime = LocalRuntime(Settings(**options))  # type: ignore[arg-type]
    try:
        first = runtime.up()
        assert not [change for change in first if change.name == SANDBOX_SERVICE and "marked" in change.action]
        settings = Settings(**options)  # type: ignore[arg-type]
        with (
            SandboxClient(settings) as client,
            serve_reference_app(settings.sandbox_url, choose_target(settings).public_key()) as app,
        ):
            sandbox = SandboxHandle(settings=settings, url=settings.sandbox_url, client=client)
            registration = client.register_app(**app.urls)
            app.client_id = registration.client_id
            app.client_secret = registration.client_secret.get_secret_value()
            iid = browser_install(sandbox, registration.app_id, "merchant-02")
            with httpx.Client(base_url=sandbox.url, trust_env=False, timeout=30) as browser:
                before = browser.get("/console", params={"merchant_id": "merchant-02"}).text
                assert 'class="status-installed"' in before and f"/console/installations/{iid}/settings" in forms(
                    before
                )

                runtime.down()  # `bwp-workshop local down`, then `local up`: the local AWS starts empty
                changes = runtime.up()
                [said] = [
                    str(change) for change in changes if change.name == SANDBOX_SERVICE and "marked" in change.action
                ]
                assert "1 installation marked uninstalled" in said and "install the others again" in said

                after = browser.get("/console", params={"merchant_id": "merchant-02"})
            assert after.headers["cache-control"] == "no-store"
            row = after.text[after.text.index(f'<tr id="{iid}">') :].split("</tr>", 1)[0]
            assert 'class="status-uninstalled"' in row and html.escape(reconciliation.FORGOTTEN_INSTALL) in row
            assert forms(after.text) == []  # no Settings button the app would answer with 404
            assert client.installation(iid)["status"] == "uninstalled"

            again = runtime.up()  # nothing restarted: nothing marked
            assert not [change for change in again if change.name == SANDBOX_SERVICE and "marked" in change.action]
            reinstalled = browser_install(sandbox, registration.app_id, "merchant-02")
            assert reinstalled != iid and client.installation(reinstalled)["status"] == "installed"
    finally:
        runtime.down()
