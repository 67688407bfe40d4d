"""Helpers for the sandbox tests: PKCE values; an installed reference app
(``bwp_workshop.testing.sandbox``, shared with bench/)."""

from __future__ import annotations

import base64
import hashlib
import secrets

from bwp_workshop.testing.sandbox import Installed, installed_app

__all__ = ["Installed", "installed_app", "pkce_pair"]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge
