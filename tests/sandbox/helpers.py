"""Helpers for the sandbox tests: PKCE values (an installed reference app is
``bwp_workshop.testing.sandbox.installed_app``, shared with bench/)."""

from __future__ import annotations

import secrets

from authlib.oauth2.rfc7636 import create_s256_code_challenge


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = create_s256_code_challenge(verifier)
    return verifier, challenge
