"""The verification token Buy with Prime adds to the calls it makes to an app.

An ES256 JWT with ``installationId``, ``requestHash``, ``iat`` and ``exp``; the request hash is
the one the app checks (:func:`bwp_workshop.core.verification.request_hash`), over the URL called
without the ``verification-token`` parameter (always the last one) and the raw body. The key pair is generated once
and kept in the sandbox folder; the public key PEM is what the app is configured with.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import quote

import filelock
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..core.verification import request_hash

TOKEN_PARAMETER = "verification-token"
TOKEN_HEADER = "verification-token"


def with_token(url: str, token: str) -> str:
    """``url`` with the token appended as its last query parameter."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{TOKEN_PARAMETER}={quote(token, safe='')}"


class SigningKey:
    """The sandbox's EC P-256 key pair, created on first use under ``folder``."""

    def __init__(self, folder: Path, public_key_file: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        private_file = folder / "verification-key.pem"
        with filelock.FileLock(str(folder / ".key.lock"), timeout=30):
            if not private_file.is_file():
                key = ec.generate_private_key(ec.SECP256R1())
                pem = key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
                descriptor = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "wb") as out:
                    out.write(pem)
            loaded = serialization.load_pem_private_key(private_file.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{private_file} is not an EC private key; delete it to make a new one")
            self.private_key: ec.EllipticCurvePrivateKey = loaded
            self.public_pem = (
                loaded.public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                .decode()
            )
            if not public_key_file.is_file() or public_key_file.read_text() != self.public_pem:
                public_key_file.parent.mkdir(parents=True, exist_ok=True)
                public_key_file.write_text(self.public_pem)

    def token(self, installation_id: str, url: str, body: bytes | str | None = None, *, ttl: int = 300) -> str:
        """A verification token for a call to ``url`` (without the token) with ``body``."""
        now = int(time.time())
        claims = {
            "installationId": installation_id,
            "requestHash": request_hash(url, body.encode() if isinstance(body, str) else body),
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self.private_key, algorithm="ES256")
