"""Pending installs: the OAuth ``state`` and PKCE verifier made by ``/launch``, kept in the
browser's state cookie, sealed (AES-256-GCM under a key every app instance derives from the
client secret), so ``/launch`` writes nothing server-side (security review L3: an
unauthenticated request costs no write) and whichever instance answers ``/install`` can open it.

The cookie holds the state, the verifier and the expiry; it is encrypted (the verifier stays
secret from whatever sees the cookie) and authenticated (a forged or altered cookie does not
open). ``/install`` spends a state once Buy with Prime has called back with a valid
verification token: one conditional put of ``oauth-state#<state>`` (a prefix the app refuses as
an installation id, so it never collides with token items), with ``ttl`` at the state's expiry
(DynamoDB removes it afterwards). A second put of the same state fails, so a state is good for
one install only, even when two requests race.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bwp_workshop.names import OAUTH_STATE_PREFIX, TOKEN_PK, TOKEN_SK, TOKEN_TTL_ATTRIBUTE

#: Length of a state: 48 characters from [A-Za-z0-9] (about 285 bits from a CSPRNG).
STATE_LENGTH = 48
#: Length of a PKCE verifier (RFC 7636 allows 43 to 128).
VERIFIER_LENGTH = 64
STATE_PATTERN = re.compile(rf"[A-Za-z0-9]{{{STATE_LENGTH}}}")
#: Bound into every sealed cookie (AES-GCM associated data): a value sealed for another purpose
#: under the same key does not open here.
_PURPOSE = b"bwp-oauth-pending-install/v1"
_NONCE = 12
#: Longest cookie value opened (a sealed pending install is about 220 characters).
MAX_COOKIE = 512


class SpentStatesError(Exception):
    """The token table could not be reached; the message names only the DynamoDB error code."""


@dataclass(frozen=True)
class PendingInstall:
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    expires_at: int

    @property
    def code_challenge(self) -> str:
        return create_s256_code_challenge(self.code_verifier)

    @property
    def expired(self) -> bool:
        return self.expires_at <= int(time.time())


def pending_cookie_key(client_secret: str) -> bytes:
    """The AES-256 key that seals pending installs, derived from the client secret (shared by
    every instance of the app, known to nobody else); a rotated secret makes installs started
    before the rotation start again."""
    return hashlib.sha256(b"bwp-oauth-pending-install-key\0" + client_secret.encode()).digest()


class PendingCookies:
    """Makes pending installs and seals them into, and opens them from, the state cookie."""

    def __init__(self, key: bytes, *, ttl_seconds: int) -> None:
        self._aead = AESGCM(key)
        self.ttl_seconds = ttl_seconds

    def create(self) -> PendingInstall:
        return PendingInstall(
            state=generate_token(STATE_LENGTH),
            code_verifier=generate_token(VERIFIER_LENGTH),
            expires_at=int(time.time()) + self.ttl_seconds,
        )

    def seal(self, pending: PendingInstall) -> str:
        plain = json.dumps({"s": pending.state, "v": pending.code_verifier, "e": pending.expires_at}).encode()
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, plain, _PURPOSE)
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def open(self, value: str) -> PendingInstall | None:
        """The pending install sealed in ``value``; None for anything this app did not seal
        (expiry is the caller's check, so it can say so)."""
        if not value or len(value) > MAX_COOKIE:
            return None
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], _PURPOSE)
            fields = json.loads(plain)
            return PendingInstall(state=str(fields["s"]), code_verifier=str(fields["v"]), expires_at=int(fields["e"]))
        except (binascii.Error, ValueError, InvalidTag, KeyError, TypeError):
            return None


def _key(state: str) -> dict[str, Any]:
    return {TOKEN_PK: OAUTH_STATE_PREFIX + state, TOKEN_SK: 0}


class SpentStates:
    """The states already used for an install (written only at ``/install``, after Buy with
    Prime's verification token was checked), each kept until its expiry."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def spend(self, pending: PendingInstall) -> bool:
        """Mark ``pending``'s state used; False when it already was."""
        try:
            self.table.put_item(
                Item={**_key(pending.state), TOKEN_TTL_ATTRIBUTE: pending.expires_at},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": TOKEN_PK},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise SpentStatesError(_code(exc)) from None
        return True


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))
