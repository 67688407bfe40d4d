"""The sandbox's database: one SQLite file under ``<state>/sandbox``.

SQLite (stdlib) keeps app registrations, merchants, installations, codes, tokens, event
subscriptions, orders and the event ledger across restarts, and is safe when a second
process (a test, the CLI) opens the same folder. Codes and tokens are stored as SHA-256
hashes only, so the file holds nothing that could be replayed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    app_id TEXT PRIMARY KEY, client_id TEXT UNIQUE NOT NULL, secret_hash TEXT NOT NULL,
    launch_url TEXT NOT NULL, install_url TEXT NOT NULL, settings_url TEXT NOT NULL,
    uninstall_url TEXT NOT NULL, created_at REAL NOT NULL, name TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS merchants (merchant_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS installations (
    installation_id TEXT PRIMARY KEY, app_id TEXT NOT NULL, merchant_id TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS console_sessions (
    session_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, app_id TEXT NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS codes (
    code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL, installation_id TEXT NOT NULL, expires_at REAL NOT NULL, used_at REAL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, client_id TEXT NOT NULL,
    installation_id TEXT NOT NULL, code_hash TEXT, expires_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0, used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tokens_by_code ON tokens(code_hash);
CREATE INDEX IF NOT EXISTS tokens_by_installation ON tokens(installation_id);
CREATE TABLE IF NOT EXISTS subscriptions (
    subscription_id TEXT PRIMARY KEY, installation_id TEXT NOT NULL, event_type TEXT NOT NULL,
    source_name TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_profiles (
    auth_profile_id TEXT PRIMARY KEY, installation_id TEXT NOT NULL, config TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, data TEXT NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_merchant ON orders(merchant_id);
CREATE TABLE IF NOT EXISTS ledger (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def digest(secret: str) -> str:
    """The stored form of a code, token or client secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


class SandboxDatabase:
    """Thread-safe access to the sandbox database (one connection, one lock per process;
    SQLite's own locking between processes)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "sandbox.sqlite3"
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(SCHEMA)
        columns = {row["name"] for row in self._connection.execute("PRAGMA table_info(apps)")}
        if "name" not in columns:  # a state folder from before apps had a name
            self._connection.execute("ALTER TABLE apps ADD COLUMN name TEXT NOT NULL DEFAULT ''")
        columns = {row["name"] for row in self._connection.execute("PRAGMA table_info(installations)")}
        if "note" not in columns:  # why an installation ended, when the merchant did not end it
            self._connection.execute("ALTER TABLE installations ADD COLUMN note TEXT NOT NULL DEFAULT ''")
        columns = {row["name"] for row in self._connection.execute("PRAGMA table_info(subscriptions)")}
        if "webhook" not in columns:  # a state folder from before webhook destinations
            self._connection.execute("ALTER TABLE subscriptions ADD COLUMN webhook TEXT")

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on success."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self._lock:
            return self._connection.execute(sql, args).fetchone()

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection.execute(sql, args).fetchall()

    def run(self, sql: str, *args: Any) -> int:
        with self._lock:
            return self._connection.execute(sql, args).rowcount

    # --- small JSON documents -------------------------------------------------------------
    def get_json(self, key: str, default: Any = None) -> Any:
        row = self.one("SELECT value FROM kv WHERE key = ?", key)
        return json.loads(row["value"]) if row else default

    def put_json(self, key: str, value: Any) -> None:
        self.run("INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)", key, json.dumps(value))

    # --- merchants and orders -------------------------------------------------------------
    def merchants(self) -> list[dict[str, Any]]:
        return [json.loads(row["data"]) for row in self.all("SELECT data FROM merchants ORDER BY merchant_id")]

    def merchant(self, merchant_id: str) -> dict[str, Any] | None:
        row = self.one("SELECT data FROM merchants WHERE merchant_id = ?", merchant_id)
        return json.loads(row["data"]) if row else None

    def order(self, merchant_id: str, order_id: str) -> dict[str, Any] | None:
        row = self.one("SELECT data FROM orders WHERE order_id = ? AND merchant_id = ?", order_id, merchant_id)
        return json.loads(row["data"]) if row else None

    def orders(self, merchant_id: str) -> list[dict[str, Any]]:
        """The merchant's orders, least recently changed first."""
        rows = self.all("SELECT data FROM orders WHERE merchant_id = ? ORDER BY updated_at", merchant_id)
        return [json.loads(row["data"]) for row in rows]

    def orders_by_alias(self, merchant_id: str, alias_type: str, alias_id: str) -> dict[str, Any] | None:
        for order in self.orders(merchant_id):
            if any(a["aliasType"] == alias_type and a["aliasId"] == alias_id for a in order.get("aliases", [])):
                return order
        return None

    def save_order(self, merchant_id: str, order: dict[str, Any]) -> None:
        self.run(
            "INSERT OR REPLACE INTO orders(order_id, merchant_id, data, updated_at) VALUES (?, ?, ?, ?)",
            order["id"],
            merchant_id,
            json.dumps(order),
            time.time(),
        )

    # --- ledger ---------------------------------------------------------------------------
    def append_ledger(self, entries: list[dict[str, Any]]) -> list[int]:
        """Append ``entries``; their sequence numbers, in order."""
        with self.transaction() as conn:
            cursors = [conn.execute("INSERT INTO ledger(data) VALUES (?)", (json.dumps(entry),)) for entry in entries]
            return [int(cursor.lastrowid or 0) for cursor in cursors]  # an INSERT always sets it

    def update_ledger(self, entries: dict[int, dict[str, Any]]) -> None:
        """Rewrite the entries with these sequence numbers."""
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE ledger SET data = ? WHERE seq = ?", [(json.dumps(e), seq) for seq, e in entries.items()]
            )

    def ledger(self, since: int = 0) -> list[dict[str, Any]]:
        rows = self.all("SELECT seq, data FROM ledger WHERE seq > ? ORDER BY seq", since)
        return [{"seq": row["seq"], **json.loads(row["data"])} for row in rows]
