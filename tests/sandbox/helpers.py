"""Helpers for the sandbox tests: PKCE values; an installed reference app
(``bwp_workshop.testing.sandbox``, shared with bench/)."""

from __future__ import annotations

import secrets

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from bwp_workshop.testing.sandbox import Installed, installed_app

__all__ = ["Installed", "installed_app", "pkce_pair"]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = create_s256_code_challenge(verifier)
    return verifier, challenge
