"""The token table: one item per token pair written, keyed by installation and write time.

Item: ``installation_id`` (S, partition key), ``updated_at`` (N, sort key, epoch
milliseconds), ``access_token``, ``refresh_token``, ``token_type``, ``expires_at`` (N, epoch
seconds, from ``expires_in``), ``installed_at`` (N, epoch seconds, kept across refreshes).
The newest item of an installation is the one in force.

Refreshing is safe under concurrency: a refresher first claims the current item with a
conditional write (a short lease); only the winner spends the refresh token at the token
endpoint, the others re-read until the winner's new item appears. So a refresh token is
never used twice, even by many Lambda instances at once.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..errors import CallFailed
from ..names import SUPERSEDED_TOKEN_TTL_SECONDS, TOKEN_PK, TOKEN_SK, TOKEN_TTL_ATTRIBUTE
from .tokens import TokenEndpoint, TokenSet


class TokenTableError(CallFailed):
    """A token could not be read, written or refreshed."""


class NoTokenError(TokenTableError):
    """The installation has no token: it was never installed, or it was uninstalled."""

    def __init__(self, installation_id: str) -> None:
        super().__init__(
            f"installation {installation_id} has no token in the token table (not installed, or uninstalled)",
            transient=False,
        )


@dataclass(frozen=True)
class StoredToken:
    installation_id: str
    updated_at: int
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: int
    installed_at: int
    token_type: str = "Bearer"

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        return self.expires_at - (now if now is not None else time.time()) <= seconds

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StoredToken:
        return cls(
            installation_id=str(item[TOKEN_PK]),
            updated_at=int(item[TOKEN_SK]),
            access_token=str(item["access_token"]),
            refresh_token=str(item["refresh_token"]),
            expires_at=int(item["expires_at"]),
            installed_at=int(item.get("installed_at", int(item[TOKEN_SK]) // 1000)),
            token_type=str(item.get("token_type", "Bearer")),
        )


#: ``TokenTable.put(previous=...)`` default: read the newest item first.
_READ = object()


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _table_error(action: str, exc: ClientError) -> TokenTableError:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    transient = code in {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
    return TokenTableError(f"the token table refused to {action} ({code})", transient=transient)


class TokenTable:
    """Token items of one DynamoDB table (a boto3 ``Table`` resource)."""

    def __init__(self, table: Any, *, lease_seconds: float = 15.0, poll_seconds: float = 0.05) -> None:
        self.table = table
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        #: Calls made to DynamoDB (for measurements).
        self.calls = 0

    # --- reads and writes -------------------------------------------------------------
    def latest(self, installation_id: str) -> StoredToken | None:
        self.calls += 1
        try:
            response = self.table.query(
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": TOKEN_PK},
                ExpressionAttributeValues={":pk": installation_id},
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise _table_error("read a token", exc) from None
        items = response.get("Items", [])
        return StoredToken.from_item(items[0]) if items else None

    def put(
        self,
        installation_id: str,
        tokens: TokenSet,
        *,
        installed_at: int | None = None,
        previous: StoredToken | object | None = _READ,
    ) -> StoredToken:
        """Store a new token pair as the installation's newest item. ``previous`` is the
        installation's newest item when the caller has already read it (``latest``), or None
        to start the installation afresh (``installed_at`` now); either way the write needs no
        read of its own."""
        if previous is _READ:
            previous = self.latest(installation_id)
        assert previous is None or isinstance(previous, StoredToken)
        now_ms = int(time.time() * 1000)
        updated_at = max(now_ms, previous.updated_at + 1) if previous else now_ms
        if installed_at is None:
            installed_at = previous.installed_at if previous else updated_at // 1000
        return self._write(installation_id, updated_at, tokens, installed_at)

    def _write(self, installation_id: str, updated_at: int, tokens: TokenSet, installed_at: int) -> StoredToken:
        item = {
            TOKEN_PK: installation_id,
            TOKEN_SK: updated_at,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "token_type": tokens.token_type,
            "expires_at": tokens.expires_at,
            "installed_at": installed_at,
        }
        self.calls += 1
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": TOKEN_PK},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):  # same millisecond as another write: take the next one
                return self._write(installation_id, updated_at + 1, tokens, installed_at)
            raise _table_error("store a token", exc) from None
        return StoredToken.from_item(item)

    def delete_installation(self, installation_id: str) -> int:
        """Delete every token item of the installation; returns how many there were."""
        deleted = 0
        key_names = {"#pk": TOKEN_PK, "#sk": TOKEN_SK}
        start: dict[str, Any] | None = None
        try:
            while True:
                kwargs: dict[str, Any] = {
                    "KeyConditionExpression": "#pk = :pk",
                    "ExpressionAttributeNames": key_names,
                    "ExpressionAttributeValues": {":pk": installation_id},
                    "ProjectionExpression": "#pk, #sk",
                    "ConsistentRead": True,
                }
                if start:
                    kwargs["ExclusiveStartKey"] = start
                self.calls += 1
                page = self.table.query(**kwargs)
                with self.table.batch_writer() as batch:
                    for item in page.get("Items", []):
                        batch.delete_item(Key={TOKEN_PK: item[TOKEN_PK], TOKEN_SK: item[TOKEN_SK]})
                        deleted += 1
                start = page.get("LastEvaluatedKey")
                if not start:
                    return deleted
        except ClientError as exc:
            raise _table_error("delete the installation's tokens", exc) from None

    # --- a valid access token, refreshed at most once across concurrent callers --------
    def valid_token(
        self, installation_id: str, endpoint: TokenEndpoint, *, margin_seconds: float = 60.0
    ) -> StoredToken:
        """The installation's token, refreshed first when it expires within ``margin_seconds``.

        Callers that lose the claim poll (with backoff) until the winner's new item appears;
        if the winner fails, its lease is released (or lapses) and the next caller claims."""
        deadline = time.time() + 2 * self.lease_seconds + 5
        delay = self.poll_seconds
        while True:
            current = self.latest(installation_id)
            if current is None:
                raise NoTokenError(installation_id)
            if not current.expires_within(margin_seconds):
                return current
            owner = self._claim(current)
            if owner:
                return self._refresh(current, endpoint, owner)
            if time.time() > deadline:
                raise TokenTableError(
                    f"another refresher of installation {installation_id} neither finished nor released its lease",
                    transient=True,
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _claim(self, current: StoredToken) -> str | None:
        owner = uuid.uuid4().hex
        now = time.time()
        self.calls += 1
        try:
            self.table.update_item(
                Key={TOKEN_PK: current.installation_id, TOKEN_SK: current.updated_at},
                UpdateExpression="SET refresh_owner = :owner, refresh_lease_until = :until",
                ConditionExpression="attribute_exists(#pk) AND attribute_not_exists(superseded_by) AND "
                "(attribute_not_exists(refresh_lease_until) OR refresh_lease_until < :now)",
                ExpressionAttributeNames={"#pk": TOKEN_PK},
                ExpressionAttributeValues={
                    ":owner": owner,
                    ":until": int((now + self.lease_seconds) * 1000),
                    ":now": int(now * 1000),
                },
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return None
            raise _table_error("claim a token refresh", exc) from None
        return owner

    def _refresh(self, current: StoredToken, endpoint: TokenEndpoint, owner: str) -> StoredToken:
        try:
            tokens = endpoint.refresh(current.refresh_token)
        except Exception:
            self._release(current, owner)
            raise
        new = self._write(
            current.installation_id, max(int(time.time() * 1000), current.updated_at + 1), tokens, current.installed_at
        )
        self.calls += 1
        # Mark the old item spent, to expire (DynamoDB's time to live removes it, its tokens with
        # it); the new item is already in force, so a failure here is harmless.
        with contextlib.suppress(ClientError):
            self.table.update_item(
                Key={TOKEN_PK: current.installation_id, TOKEN_SK: current.updated_at},
                UpdateExpression="SET superseded_by = :new, #ttl = :ttl REMOVE refresh_lease_until",
                ExpressionAttributeNames={"#ttl": TOKEN_TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":new": new.updated_at,
                    ":ttl": int(time.time()) + SUPERSEDED_TOKEN_TTL_SECONDS,
                },
            )
        return new

    def _release(self, current: StoredToken, owner: str) -> None:
        self.calls += 1
        with contextlib.suppress(ClientError):  # if this fails, the lease lapses on its own
            self.table.update_item(
                Key={TOKEN_PK: current.installation_id, TOKEN_SK: current.updated_at},
                UpdateExpression="REMOVE refresh_lease_until, refresh_owner",
                ConditionExpression="refresh_owner = :owner",
                ExpressionAttributeValues={":owner": owner},
            )
