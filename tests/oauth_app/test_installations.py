"""The notebooks' view of the token table: newest token per installation, masked, spent
install states left out."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bwp_workshop.core.token_table import TokenTable
from bwp_workshop.core.tokens import TokenSet
from bwp_workshop.errors import ConfigurationError
from bwp_workshop.names import INFRA_STACK, OUT_TOKEN_TABLE
from bwp_workshop.settings import Settings
from bwp_workshop.steps.install import installations, mask
from bwp_workshop.testing.tables import create_token_table
from oauth_app.pending_installs import PendingInstall, SpentStates


def test_newest_token_per_installation_masked_without_spent_states(local_settings: Settings) -> None:
    table = create_token_table(local_settings, "tokens")
    outputs = local_settings.bwp_dir / "outputs.json"
    outputs.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_text(json.dumps({INFRA_STACK: {OUT_TOKEN_TABLE: "tokens"}}))
    tokens = TokenTable(table)
    tokens.put("inst-b", TokenSet("access-old-1", "refresh-old-1", expires_in=-10, obtained_at=time.time() - 100))
    tokens.put("inst-b", TokenSet("access-new-2", "refresh-new-2", expires_in=900))
    tokens.put("inst-a", TokenSet("AAAA-secret", "RRRR-secret", expires_in=-5, obtained_at=time.time() - 50))
    assert SpentStates(table).spend(
        PendingInstall(state="s" * 43, code_verifier="v" * 43, expires_at=int(time.time()) + 600)
    )

    rows: list[dict[str, Any]] = installations(local_settings)
    assert [row["installation_id"] for row in rows] == ["inst-a", "inst-b"]
    a, b = rows
    assert (b["access_token"], b["refresh_token"], b["token_items"], b["expired"]) == ("acce…", "refr…", 2, False)
    assert (a["access_token"], a["expired"]) == ("AAAA…", True)
    assert b["installed_at"] <= b["updated_at"] < b["expires_at"]
    assert b["expires_at"].tzinfo is not None
    assert "secret" not in repr(rows) and "new-2" not in repr(rows)


def test_without_infrastack_the_error_says_what_to_deploy(local_settings: Settings) -> None:
    with pytest.raises(ConfigurationError) as caught:
        installations(local_settings)
    assert "Deploy InfraStack first" in str(caught.value)


def test_mask() -> None:
    assert (mask("abcdefgh"), mask("ab"), mask("")) == ("abcd…", "ab…", "")
