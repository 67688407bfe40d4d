"""End to end over real HTTP: the Buy with Prime sandbox as a process, the app as two
processes (the image's command line) behind a round-robin load balancer, the token table on
the local AWS. A merchant installs (``/launch`` and ``/install`` answered by different
processes), opens the settings and uninstalls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.core.tokens import TokenEndpoint
from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK, TOKEN_SK, TOKEN_TTL_ATTRIBUTE
from bwp_workshop.settings import Settings
from bwp_workshop.testing.ports import free_port
from bwp_workshop.testing.sandbox import SandboxHandle
from bwp_workshop.testing.tables import create_token_table

from .conftest import all_items
from .proxy import RoundRobin, round_robin
from .serving import Dockerfile, app_environment, serving, stage_image_tree


class Deployment:
    """Two app processes behind the proxy, registered with the sandbox."""

    def __init__(self, proxy: RoundRobin, table: Any, registration: Any, logs: list[Path]) -> None:
        self.proxy = proxy
        self.table = table
        self.registration = registration
        self.logs = logs

    def log_text(self) -> str:
        return "".join(path.read_text() for path in self.logs)


@pytest.fixture
def deployment(local_settings: Settings, sandbox_server: SandboxHandle, tmp_path: Path) -> Iterator[Deployment]:
    table = create_token_table(local_settings)
    dockerfile = Dockerfile.parse()
    tree = stage_image_tree(dockerfile, tmp_path / "app")
    ports = [free_port(), free_port()]
    with ExitStack() as stack:
        proxy = stack.enter_context(round_robin([f"http://127.0.0.1:{port}" for port in ports]))
        registration = sandbox_server.client.register_app(
            launch_url=f"{proxy.url}/launch",
            install_url=f"{proxy.url}/install",
            settings_url=f"{proxy.url}/settings",
            uninstall_url=f"{proxy.url}/uninstall",
        )
        sandbox = sandbox_server.settings
        logs = []
        for index, port in enumerate(ports):
            argv = dockerfile.local_cmd(port, host="127.0.0.1")
            env = app_environment(
                local_settings,
                table="tokens",
                base_url=proxy.url,
                public_key=sandbox.public_key,
                authorize_url=sandbox.authorize_url,
                token_url=sandbox.token_url,
                client_id=registration.client_id,
                client_secret=registration.client_secret.get_secret_value(),
                FORWARDED_ALLOW_IPS="127.0.0.1",
            )
            log = tmp_path / f"app-{index}.log"
            logs.append(log)
            stack.enter_context(serving(argv, env, cwd=tree, health_url=f"http://127.0.0.1:{port}/health", log=log))
        yield Deployment(proxy, table, registration, logs)


def test_install_settings_uninstall_across_two_app_processes(
    deployment: Deployment, sandbox_server: SandboxHandle
) -> None:
    outcome = sandbox_server.client.install(app_id=deployment.registration.app_id)
    assert outcome.ok, outcome
    iid = outcome.installation_id
    assert iid and "is installed" in outcome.page

    served = dict(deployment.proxy.served)
    assert served["/launch"] != served["/install"]  # the pending install crossed processes in the sealed cookie

    tokens = TokenTable(deployment.table)
    stored = tokens.latest(iid)
    assert stored is not None and stored.access_token and stored.refresh_token
    assert stored.expires_at > stored.updated_at / 1000
    # /launch wrote nothing; the install spent its state (key and expiry only, no verifier)
    spent = [i for i in all_items(deployment.table) if i[TOKEN_PK].startswith(OAUTH_STATE_PREFIX)]
    assert len(spent) == 1 and set(spent[0]) == {TOKEN_PK, TOKEN_SK, TOKEN_TTL_ATTRIBUTE}
    # the pair is valid: the access token is accepted by the API, the refresh token refreshes
    graphql = httpx.post(
        sandbox_server.settings.graphql_url,
        json={"query": "query { buyWithPrimeStore { siteId widgetId } }"},
        headers={"Authorization": f"Bearer {stored.access_token}", "X-Omni-InstallationId": iid},
        trust_env=False,
    )
    assert graphql.status_code == 200 and not graphql.json().get("errors"), graphql.text
    endpoint = TokenEndpoint(
        sandbox_server.settings.token_url,
        deployment.registration.client_id,
        deployment.registration.client_secret.get_secret_value(),
    )
    assert endpoint.refresh(stored.refresh_token).access_token

    opened = sandbox_server.client.open_settings(iid)
    assert opened.ok, opened
    assert "Installed since" in opened.text and iid in opened.text
    sandbox_server.client.update_config(verification_token_in="header")
    opened = sandbox_server.client.open_settings(iid)
    assert opened.ok, opened  # the token as a header works the same

    removed = sandbox_server.client.uninstall(iid)
    assert removed.ok, removed
    assert tokens.latest(iid) is None
    # only the spent state is left, until its ttl
    assert all_items(deployment.table) == spent

    logs = deployment.log_text()
    assert "GET /launch 302" in logs and "GET /install 303" in logs and "POST /uninstall 200" in logs
    for secret in (stored.access_token, stored.refresh_token, deployment.registration.client_secret.get_secret_value()):
        assert secret not in logs
    assert "code=" not in logs and "verification-token=" not in logs
