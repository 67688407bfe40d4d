"""The Buy with Prime token endpoint (OAuth 2.0, RFC 6749): exchanging an authorization code
(with its PKCE verifier) and refreshing a token pair.

Client credentials go in the form body, as Buy with Prime's partner flow does. Network errors,
HTTP 429 and 5xx are retried with exponential backoff and jitter; an RFC 6749 error answer
(``invalid_grant``...) is permanent and raised at once. Error messages never contain a token,
code, verifier or secret.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from ..errors import CallFailed

#: Access-token lifetime assumed when the endpoint sends no ``expires_in`` (BwP: 15 minutes).
DEFAULT_EXPIRES_IN = 900


class TokenEndpointError(CallFailed):
    """The token endpoint refused or failed."""

    def __init__(self, message: str, *, status: int | None, error: str | None, transient: bool) -> None:
        super().__init__(message, transient=transient)
        self.status = status
        self.error = error


@dataclass(frozen=True)
class TokenSet:
    """A token pair as issued. ``obtained_at`` and ``expires_at`` are epoch seconds."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    token_type: str = "Bearer"
    obtained_at: float = field(default_factory=time.time)

    @property
    def expires_at(self) -> int:
        return int(self.obtained_at + self.expires_in)

    @classmethod
    def from_response(cls, body: Any, obtained_at: float | None = None) -> TokenSet:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise TokenEndpointError(
                "the token endpoint answered without an access_token", status=200, error=None, transient=False
            )
        refresh = body.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise TokenEndpointError(
                "the token endpoint answered without a refresh_token", status=200, error=None, transient=False
            )
        try:
            expires_in = int(body.get("expires_in", DEFAULT_EXPIRES_IN))
        except (TypeError, ValueError):
            expires_in = DEFAULT_EXPIRES_IN
        return cls(
            access_token=body["access_token"],
            refresh_token=refresh,
            expires_in=expires_in,
            token_type=str(body.get("token_type") or "Bearer"),
            obtained_at=obtained_at if obtained_at is not None else time.time(),
        )


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TokenEndpointError) and exc.transient


class TokenEndpoint:
    """Client of one token endpoint for one app (client id and secret)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        attempts: int = 4,
        max_wait: float = 4.0,
    ) -> None:
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http or httpx.Client(timeout=timeout, trust_env=False)
        self._attempts = attempts
        self._max_wait = max_wait
        #: Number of HTTP requests made (for measurements).
        self.requests = 0

    def __repr__(self) -> str:  # never the secret
        return f"TokenEndpoint({self.token_url!r}, client_id={self._client_id[:4]}...)"

    def uses(self, client_id: str, client_secret: str) -> bool:
        """Whether this endpoint sends these client credentials."""
        return (self._client_id, self._client_secret) == (client_id, client_secret)

    def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str) -> TokenSet:
        return self._grant(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )

    def refresh(self, refresh_token: str) -> TokenSet:
        return self._grant({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def _grant(self, form: dict[str, str]) -> TokenSet:
        form = {**form, "client_id": self._client_id, "client_secret": self._client_secret}
        grant = form["grant_type"]
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_random_exponential(multiplier=0.1, max=self._max_wait),
            retry=retry_if_exception(_is_transient),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._post(form, grant)
        except RetryError as exc:  # pragma: no cover - reraise=True raises the last error instead
            raise exc.last_attempt.exception() from None  # type: ignore[misc]
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, form: dict[str, str], grant: str) -> TokenSet:
        self.requests += 1
        started = time.time()
        try:
            response = self._http.post(self.token_url, data=form, headers={"Accept": "application/json"})
        except httpx.TimeoutException:
            raise TokenEndpointError(
                f"the token endpoint did not answer in time ({grant})", status=None, error="timeout", transient=True
            ) from None
        except httpx.HTTPError as exc:
            raise TokenEndpointError(
                f"the token endpoint could not be reached ({type(exc).__name__}, {grant})",
                status=None,
                error="network",
                transient=True,
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TokenEndpointError(
                f"the token endpoint answered HTTP {response.status_code} ({grant})",
                status=response.status_code,
                error="throttled" if response.status_code == 429 else "server_error",
                transient=True,
            )
        try:
            body = response.json()
        except ValueError:
            raise TokenEndpointError(
                f"the token endpoint answered HTTP {response.status_code} with a body that is not JSON ({grant})",
                status=response.status_code,
                error="invalid_response",
                transient=False,
            ) from None
        if response.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            description = body.get("error_description") if isinstance(body, dict) else None
            detail = f"{error}: {description}" if description else str(error)
            raise TokenEndpointError(
                f"the token endpoint refused the {grant} grant (HTTP {response.status_code}, {detail[:200]})",
                status=response.status_code,
                error=str(error) if error else None,
                transient=False,
            )
        return TokenSet.from_response(body, obtained_at=started)
