"""Verification tokens: the ES256 JWTs Buy with Prime attaches to the requests it makes to the
app (install, settings, uninstall), and the ``requestHash`` claim that binds a token to one
request.

``requestHash`` is ``sha256_hex(url + body_hash)``, where ``url`` is the externally visible URL
of the request (scheme, host, path and query exactly as sent) with the ``verification-token``
parameter removed, and ``body_hash`` is ``sha256_hex(raw body)`` when the request has a body,
else the empty string. Buy with Prime appends the token as the last parameter; unlike the
upstream workshop, parameters after it are kept rather than silently dropped, so a request whose
token is not last still hashes every parameter it carries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt

#: The EC P-256 key Buy with Prime signs verification tokens with (ES256), as published in the
#: upstream workshop: the default wherever no other key is configured (BWP_PUBLIC_KEY).
BWP_PUBLIC_KEY_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9NrnQefbdiD4Tk65eY2r/fXtf4VV\n"
    "PIBdR7qP73NhRBdNhUNfERayW67OP+ufvhpgdWUcbxXQkos8KkwL8yRMzQ==\n"
    "-----END PUBLIC KEY-----\n"
)
#: Query parameter and header that carry the token.
TOKEN_PARAMETER = "verification-token"
#: The only algorithm accepted: pinned, never read from the token's header.
ALGORITHM = "ES256"


class VerificationError(Exception):
    """The request is not proven to come from Buy with Prime. ``reason`` is safe to show:
    it never contains the token or its claims' values."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class VerifiedRequest:
    installation_id: str
    claims: dict[str, Any]


def checked_public_key(value: str) -> str:
    """``value`` as a PEM (a one-line PEM from ``.env`` or the environment carries its line breaks
    as ``\\n``), or ``ValueError`` saying why it cannot verify tokens: it must be an EC P-256 public
    key, since tokens are signed with ES256."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pem = value.replace("\\n", "\n").strip() + "\n"
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        raise ValueError("is not a PEM public key (-----BEGIN PUBLIC KEY----- ...)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("must be an EC P-256 key: verification tokens are signed with ES256")
    return pem


def strip_token_parameter(url: str) -> str:
    """``url`` without any ``verification-token=...`` query parameter (byte-exact otherwise:
    the remaining parameters keep their order and encoding)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [p for p in parts.query.split("&") if p.split("=", 1)[0] != TOKEN_PARAMETER]
    return urlunsplit(parts._replace(query="&".join(kept)))


def body_hash(body: bytes | None) -> str:
    return hashlib.sha256(body).hexdigest() if body else ""


def request_hash(url: str, body: bytes | None = None) -> str:
    """The ``requestHash`` claim a token for this request must carry."""
    return hashlib.sha256((strip_token_parameter(url) + body_hash(body)).encode()).hexdigest()


def verify(
    token: str | None,
    *,
    public_key_pem: str,
    url: str,
    body: bytes | None = None,
    leeway_seconds: float = 30,
) -> VerifiedRequest:
    """Check a verification token against the request it came with. Raises
    :class:`VerificationError` with a reason a developer can act on."""
    if not token:
        raise VerificationError(f"the request has no {TOKEN_PARAMETER} (query parameter or header)", "missing_token")
    if not public_key_pem:
        raise VerificationError("no public key is configured to verify tokens with (BWP_PUBLIC_KEY)", "no_key")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise VerificationError(f"the {TOKEN_PARAMETER} is not a JWT", "malformed_token") from None
    if header.get("alg") != ALGORITHM:
        raise VerificationError(
            f"the {TOKEN_PARAMETER} is signed with {str(header.get('alg'))[:16]!r}; only {ALGORITHM} is accepted",
            "wrong_algorithm",
        )
    try:
        claims = jwt.decode(
            token,
            key=public_key_pem,
            algorithms=[ALGORITHM],
            leeway=leeway_seconds,
            options={"require": ["exp"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise VerificationError(f"the {TOKEN_PARAMETER} has expired", "expired_token") from None
    except jwt.InvalidSignatureError:
        raise VerificationError(
            f"the {TOKEN_PARAMETER} signature does not match the configured public key", "bad_signature"
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise VerificationError(f"the {TOKEN_PARAMETER} has no {exc.claim!r} claim", "missing_claim") from None
    except jwt.InvalidTokenError as exc:
        raise VerificationError(f"the {TOKEN_PARAMETER} is invalid ({type(exc).__name__})", "invalid_token") from None
    installation_id = claims.get("installationId")
    if not isinstance(installation_id, str) or not installation_id:
        raise VerificationError(f"the {TOKEN_PARAMETER} has no installationId claim", "missing_claim")
    expected = claims.get("requestHash")
    if not isinstance(expected, str):
        raise VerificationError(f"the {TOKEN_PARAMETER} has no requestHash claim", "missing_claim")
    if expected != request_hash(url, body):
        raise VerificationError(
            "the requestHash claim does not match this request (URL as seen from outside, query order, "
            "or body differ from what Buy with Prime signed; check APP_BASE_URL and proxy rewriting)",
            "request_hash_mismatch",
        )
    return VerifiedRequest(installation_id=installation_id, claims=claims)
