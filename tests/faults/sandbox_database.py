"""What the sandbox's token endpoint did, read from its database (an SQLite file it keeps under
its state folder): every refresh spends one refresh token and issues the next."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bwp_workshop.sandbox.database import digest
from bwp_workshop.settings import Settings


@dataclass(frozen=True)
class RefreshTokens:
    issued: int
    spent: int
    #: The hash of the one refresh token neither spent nor revoked (None if not exactly one).
    live_hash: str | None

    @property
    def refreshes(self) -> int:
        """Successful refresh grants (each spent exactly one refresh token)."""
        return self.spent


def refresh_tokens(settings: Settings, installation_id: str) -> RefreshTokens:
    path = settings.sandbox_dir / "sandbox.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute(
            "SELECT token_hash, used, revoked FROM tokens WHERE installation_id = ? AND kind = 'refresh'",
            (installation_id,),
        ).fetchall()
    live = [row[0] for row in rows if not row[1] and not row[2]]
    return RefreshTokens(
        issued=len(rows), spent=sum(1 for row in rows if row[1]), live_hash=live[0] if len(live) == 1 else None
    )


def token_hash(token: str) -> str:
    """The sandbox's stored form of a token."""
    return digest(token)
