"""The workshop's "install the app as a merchant" step (notebook 04): the install, scripted
through the sandbox on the local target or by a person in a browser, and what the token table
says about the app's installations: one row per installation with its newest token pair,
tokens masked.

Pending installs (the OAuth app's state items, keys starting with ``oauth-state#``) are not
installations and are left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .. import aws, names
from ..envfile import set_env_values
from ..errors import WorkshopError
from ..names import INFRA_STACK, OAUTH_STATE_PREFIX, OUT_TOKEN_TABLE, TOKEN_PK, TOKEN_SK
from ..outputs import stack_output
from ..settings import Settings
from ..targets import choose_target
from .registration import app_base_url


def mask(secret: str, shown: int = 4) -> str:
    """The first ``shown`` characters and an ellipsis: enough to tell tokens apart, never
    enough to use one."""
    return f"{secret[:shown]}…" if secret else ""


def _when(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def installations(settings: Settings, *, table_name: str | None = None) -> list[dict[str, Any]]:
    """One dict per installation in the token table (default: InfraStack's), newest token
    first per installation, sorted by installation id:

    ``installation_id``, ``access_token`` and ``refresh_token`` (masked), ``token_type``,
    ``expires_at``, ``updated_at``, ``installed_at`` (timezone-aware UTC datetimes),
    ``expired`` (bool), ``token_items`` (how many token items the installation has)."""
    table = aws.resource("dynamodb", settings).Table(table_name or stack_output(settings, INFRA_STACK, OUT_TOKEN_TABLE))
    newest: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    scan: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**scan)
        for item in page.get("Items", []):
            iid = str(item[TOKEN_PK])
            if iid.startswith(OAUTH_STATE_PREFIX):
                continue
            counts[iid] = counts.get(iid, 0) + 1
            if iid not in newest or int(item[TOKEN_SK]) > int(newest[iid][TOKEN_SK]):
                newest[iid] = item
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    now = datetime.now(UTC)
    rows = []
    for iid in sorted(newest):
        item = newest[iid]
        updated_at = int(item[TOKEN_SK]) / 1000
        expires_at = _when(int(item["expires_at"]))
        rows.append(
            {
                "installation_id": iid,
                "access_token": mask(str(item.get("access_token", ""))),
                "refresh_token": mask(str(item.get("refresh_token", ""))),
                "token_type": str(item.get("token_type", "Bearer")),
                "expires_at": expires_at,
                "expired": expires_at <= now,
                "updated_at": _when(updated_at),
                "installed_at": _when(int(item.get("installed_at", updated_at))),
                "token_items": counts[iid],
            }
        )
    return rows


def install_app(settings: Settings, merchant_id: str | None = None) -> dict[str, Any]:
    """A merchant installs the app. On local the sandbox drives the browser flow and the new
    installation id goes into ``.env`` (BWP_INSTALLATION_ID); on aws, the link to open."""
    client = choose_target(settings).sandbox()
    if client is None:
        return {
            "what to do": "In the Buy with Prime console, open your app's page in the marketplace and "
            "install it for your test merchant; then set BWP_INSTALLATION_ID in .env to the installation "
            "id the token table shows.",
            "launch URL": f"{app_base_url(settings)}/launch",
        }
    stack_output(settings, names.ECS_STACK, names.OUT_SERVICE_NAME)  # the app runs: says what to deploy if not
    with client as sandbox:
        outcome = sandbox.install(merchant_id)
    if not outcome.ok or not outcome.installation_id:
        raise WorkshopError(
            f"The install did not complete: {outcome.error or outcome.status_code}.",
            hint="See the local app's log (`bwp-workshop local logs oauth-app`); is the app running "
            "with the credentials the sandbox issued (notebook 03)?",
        )
    set_env_values({"BWP_INSTALLATION_ID": outcome.installation_id}, settings)
    return {
        "installation id": outcome.installation_id,
        "status": outcome.status_code,
        "went through": [url.split("?")[0] for url in outcome.redirects],
    }


def console_install_url(settings: Settings) -> str:
    """The page a person opens in a browser to install the app as a merchant: on local the
    sandbox's console (pick a merchant, click Install); on aws the Buy with Prime console
    (the host of the authorize endpoint), where the app's marketplace page has Install."""
    return choose_target(settings).install_console_url()


def browser_install(settings: Settings) -> dict[str, str]:
    """How a person installs the app with a browser, beside the scripted :func:`install_app`:
    the page to open and what to click there."""
    url = console_install_url(settings)
    steps = choose_target(settings).browser_install_steps()
    return {"open in a browser": url, "what to do": steps}
