"""What the token table says about the app's installations, for the notebooks: one row per
installation with its newest token pair, tokens masked.

    import pandas as pd
    from bwp_workshop.installations import installations
    pd.DataFrame(installations(settings))

Pending installs (the OAuth app's state items, keys starting with ``oauth-state#``) are not
installations and are left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from . import aws
from .names import INFRA_STACK, OAUTH_STATE_PREFIX, OUT_TOKEN_TABLE, TOKEN_PK, TOKEN_SK
from .outputs import stack_output
from .settings import Settings, get_settings


def mask(secret: str, shown: int = 4) -> str:
    """The first ``shown`` characters and an ellipsis: enough to tell tokens apart, never
    enough to use one."""
    return f"{secret[:shown]}…" if secret else ""


def _when(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def installations(settings: Settings | None = None, *, table_name: str | None = None) -> list[dict[str, Any]]:
    """One dict per installation in the token table (default: InfraStack's), newest token
    first per installation, sorted by installation id:

    ``installation_id``, ``access_token`` and ``refresh_token`` (masked), ``token_type``,
    ``expires_at``, ``updated_at``, ``installed_at`` (timezone-aware UTC datetimes),
    ``expired`` (bool), ``token_items`` (how many token items the installation has)."""
    settings = settings or get_settings()
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
