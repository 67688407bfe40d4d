"""Helpers for the sandbox tests: PKCE values (an installed reference app is
``bwp_workshop.testing.sandbox.installed_app``, shared with bench/)."""

from __future__ import annotations

import base64
import hashlib
import secrets


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge
