"""What the sandbox's parts share: one state folder (the SQLite database and the signing key),
the sandbox's settings as they stand (runtime changes win over the environment), its
faults, and the lookups of apps, merchants and installations.

The parts built on it: the partner console (``console.py``), the OAuth authorization server
(``oauth_server.py``), the GraphQL API (``graphql_api.py``) and the event source
(``event_source.py``, with ``subscriptions.py``); ``server.py`` wires them into one FastAPI app.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from ..settings import Settings
from .config import FaultSpec, SandboxSettings
from .database import SandboxDatabase
from .faults import Faults
from .merchants import DATA_SHAPE, new_order, seed_merchants
from .order_lifecycles import LIFECYCLES, walk
from .token_signing import SigningKey

#: Runtime settings the admin API may change (kept in the database, winning over the environment).
RUNTIME_CONFIG = ("access_token_ttl", "refresh_token_ttl", "code_ttl", "verification_token_ttl",
                  "verification_token_in", "event_shapes", "event_context_keys", "order_waits")  # fmt: skip


class NotFound(Exception):
    """No app, merchant or installation by that id."""


class Sandbox:
    """One sandbox over one state folder: its database, signing key, settings and faults."""

    def __init__(self, settings: Settings, config: SandboxSettings) -> None:
        self.settings = settings
        self.db = SandboxDatabase(settings.sandbox_dir)
        self.key = SigningKey(settings.sandbox_dir, settings.sandbox_public_key_file)
        stored = self.db.get_json("config", {})
        self.config = config.model_copy(update={k: v for k, v in stored.items() if k in RUNTIME_CONFIG})
        self.faults = Faults(dict(config.faults))
        self.faults.set({name: FaultSpec(**spec) for name, spec in self.db.get_json("faults", {}).items()})
        if self.db.get_json("data_shape") != DATA_SHAPE:  # new, or kept in an older shape
            self._seed(max(config.merchants, len(self.db.merchants())))

    def close(self) -> None:
        self.db.close()

    # --- configuration at run time ----------------------------------------------------------
    def update_config(self, changes: dict[str, Any]) -> SandboxSettings:
        unknown = set(changes) - set(RUNTIME_CONFIG)
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))}; changeable: {', '.join(RUNTIME_CONFIG)}")
        merged = {**self.config.model_dump(include=set(RUNTIME_CONFIG)), **changes}
        self.config = SandboxSettings.model_validate({**self.config.model_dump(), **merged})
        self.db.put_json("config", {**self.db.get_json("config", {}), **changes})
        return self.config

    def set_faults(self, specs: dict[str, FaultSpec], *, replace: bool = False) -> dict[str, FaultSpec]:
        if replace:
            self.faults.clear()
        self.faults.set(specs)
        current = {name: spec.model_dump() for name, spec in self.faults.specs().items() if spec.active}
        self.db.put_json("faults", current)
        return self.faults.specs()

    # --- merchants, apps, installations -------------------------------------------------------
    def _seed(self, count: int) -> None:
        """``count`` merchants (the same ids every time) and their order history, in the
        current data shape; installations and subscriptions are kept."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM orders")
            for merchant in seed_merchants(count):
                conn.execute(
                    "INSERT OR REPLACE INTO merchants(merchant_id, data) VALUES (?, ?)",
                    (merchant["merchantId"], compact_json(merchant)),
                )
        for merchant in self.db.merchants():  # an order history: three delivered orders each
            rng = random.Random(f"history-{merchant['merchantId']}")
            for days_ago in (9, 5, 2):
                when = time.time() - days_ago * 86400
                order = new_order(merchant, rng, when=when)
                steps = range(len(LIFECYCLES["delivered"]))
                walk(order, "delivered", rng, [when + hours * 3600 for hours in steps], merchant["businessProductId"])
                self.db.save_order(merchant["merchantId"], order)
        self.db.put_json("data_shape", DATA_SHAPE)

    def apps(self) -> list[dict[str, Any]]:
        rows = self.db.all("SELECT * FROM apps ORDER BY created_at")
        return [_public(row) for row in rows]

    def app(self, app_id: str) -> dict[str, Any]:
        """An app by its app id or its client id."""
        row = self.db.one("SELECT * FROM apps WHERE app_id = ? OR client_id = ?", app_id, app_id)
        if row is None:
            raise NotFound(f"no app {app_id!r}; register one first")
        return _public(row)

    def merchant(self, merchant_id: str | None) -> dict[str, Any]:
        """A merchant by id (None: the first one)."""
        if merchant_id is None:
            return self.db.merchants()[0]
        merchant = self.db.merchant(merchant_id)
        if merchant is None:
            known = ", ".join(m["merchantId"] for m in self.db.merchants())
            raise NotFound(f"no merchant {merchant_id!r}; the sandbox has {known}")
        return merchant

    def installation(self, installation_id: str) -> dict[str, Any]:
        row = self.db.one("SELECT * FROM installations WHERE installation_id = ?", installation_id)
        if row is None:
            raise NotFound(f"no installation {installation_id!r}")
        return dict(row)

    def installations(self, app_id: str | None = None, merchant_id: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.all(
            "SELECT * FROM installations WHERE (? IS NULL OR app_id = ?) AND (? IS NULL OR merchant_id = ?) "
            "ORDER BY created_at",
            app_id,
            app_id,
            merchant_id,
            merchant_id,
        )
        return [dict(row) for row in rows]

    def forget_installations(self, reason: str) -> list[str]:
        """The apps lost every installation's tokens (the local AWS restarted, and their token
        tables with it): each installation not yet uninstalled is marked uninstalled, with
        ``reason`` shown beside it in the console, and its tokens are revoked. The merchant
        installs again from the console. The ids marked."""
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT installation_id FROM installations WHERE status != 'uninstalled'").fetchall()
            ids = [str(row["installation_id"]) for row in rows]
            for installation_id in ids:
                conn.execute(
                    "UPDATE installations SET status = 'uninstalled', note = ?, updated_at = ? "
                    "WHERE installation_id = ?",
                    (reason, time.time(), installation_id),
                )
                conn.execute("UPDATE tokens SET revoked = 1 WHERE installation_id = ?", (installation_id,))
        return ids


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _public(row: Any) -> dict[str, Any]:
    """An app row without its secret hash."""
    app = dict(row)
    app.pop("secret_hash", None)
    return app
