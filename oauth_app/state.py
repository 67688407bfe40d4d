"""Pending installs: the OAuth ``state`` and PKCE verifier made by ``/launch``, kept as a
short-lived item in the token table so that whichever app instance answers ``/install`` can
check and use them.

Item: partition key ``oauth-state#<state>`` (a prefix the app refuses as an installation id,
so it never collides with token items), sort key 0, the verifier, and ``ttl`` (DynamoDB
deletes expired items eventually; the expiry is also checked on use). ``/install`` consumes
the item with one conditional delete, so a state is good for one install only, even when two
requests race.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from botocore.exceptions import ClientError

from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK, TOKEN_SK, TOKEN_TTL_ATTRIBUTE

#: Length of a state: 48 characters from [A-Za-z0-9] (about 285 bits from a CSPRNG).
STATE_LENGTH = 48
#: Length of a PKCE verifier (RFC 7636 allows 43 to 128).
VERIFIER_LENGTH = 64
STATE_PATTERN = re.compile(rf"[A-Za-z0-9]{{{STATE_LENGTH}}}")


class PendingStoreError(Exception):
    """The token table could not be reached; the message names only the DynamoDB error code."""


@dataclass(frozen=True)
class PendingInstall:
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    expires_at: int

    @property
    def code_challenge(self) -> str:
        return create_s256_code_challenge(self.code_verifier)


def _key(state: str) -> dict[str, Any]:
    return {TOKEN_PK: OAUTH_STATE_PREFIX + state, TOKEN_SK: 0}


class PendingInstalls:
    def __init__(self, table: Any, *, ttl_seconds: int) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds

    def create(self) -> PendingInstall:
        pending = PendingInstall(
            state=generate_token(STATE_LENGTH),
            code_verifier=generate_token(VERIFIER_LENGTH),
            expires_at=int(time.time()) + self.ttl_seconds,
        )
        try:
            self.table.put_item(
                Item={
                    **_key(pending.state),
                    "code_verifier": pending.code_verifier,
                    TOKEN_TTL_ATTRIBUTE: pending.expires_at,
                },
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": TOKEN_PK},
            )
        except ClientError as exc:
            raise PendingStoreError(_code(exc)) from None
        return pending

    def consume(self, state: str) -> str | None:
        """The verifier of a pending, unexpired state, deleting it; None when the state is
        unknown, expired or already used."""
        try:
            response = self.table.delete_item(
                Key=_key(state),
                ConditionExpression="attribute_exists(#pk) AND #ttl > :now",
                ExpressionAttributeNames={"#pk": TOKEN_PK, "#ttl": TOKEN_TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": int(time.time())},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return None
            raise PendingStoreError(_code(exc)) from None
        verifier = response.get("Attributes", {}).get("code_verifier")
        return str(verifier) if verifier else None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))
