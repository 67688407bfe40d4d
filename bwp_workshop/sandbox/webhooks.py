"""Webhook destinations: authentication profiles and delivery.

``createAuthProfile`` (events-mutations-createauthprofile) keeps an OAuth 2.0
client-credentials or HTTP basic configuration under an id (the ``authProfileAliasId`` when
given); ``createEventSubscription`` with a ``webhook`` destination names one by
``authProfileId`` or carries the configuration inline as ``authConfig``
(create-and-delete-event-subscriptions, steps-to-subscribe-to-buy-with-prime-events-using-webhook-events).

Each event goes to the webhook as the 2024-11-01 payload, the body of an HTTP POST to its
``url`` (the event pages' "Schema for webhook destinations"), authenticated as configured:
``Authorization: Basic`` for basic auth; for OAuth, a token from ``authEndpoint`` (the client
credentials grant, with the profile's body and header parameters) sent as ``Authorization:
Bearer``. A delivery runs in the background, so the mutation that published the event does not
wait for it; a failure (a 5xx, 429, or no answer) is retried with exponential backoff, a 4xx is
not. The outcome is written to the event's ledger entry.

The pages require an HTTPS endpoint; the sandbox accepts ``http://`` only for a loopback host
(the local target's app), and refuses it elsewhere as a ValidationError, as the "invalid auth
endpoint" example of events-mutations-createauthprofile shows for the auth endpoint.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from .api_errors import BwpError, access_denied, invalid_input
from .database import SandboxDatabase

log = logging.getLogger(__name__)

#: Tries per delivery (the first and the retries), the backoff's scale and cap in seconds.
DELIVERY_ATTEMPTS = 5
DELIVERY_BACKOFF_S = 0.2
DELIVERY_BACKOFF_MAX_S = 5.0
#: Per request to a webhook or an auth endpoint.
DELIVERY_TIMEOUT_S = 10.0
#: Hosts a local target's app listens on: http is accepted for them only.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_ALIAS_MAX = 100


class DeliveryFailed(Exception):
    """A delivery attempt failed; ``retry`` says whether another attempt may succeed."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


def check_url(url: str, field: str) -> list[str]:
    """The problems of a webhook or auth endpoint URL: https, or http to a loopback host."""
    parts = urlsplit(url or "")
    if not parts.netloc or parts.scheme not in {"https", "http"}:
        return [f"{field} must be an https URL"]
    if parts.scheme == "http" and (parts.hostname or "") not in LOOPBACK_HOSTS:
        return [f"{field} must be an https URL (http only for a loopback host)"]
    return []


def _method(value: Any, field: str) -> list[str]:
    return [] if value in (None, "POST") else [f"{field} must be POST"]


def auth_config_problems(config: dict[str, Any] | None, prefix: str) -> list[str]:
    """The problems of an ``authConfig``: exactly one of ``oAuthConfig`` and ``basicAuthConfig``."""
    config = {key: value for key, value in (config or {}).items() if value is not None}
    if len(config) != 1:
        return [f"{prefix} must have exactly one of oAuthConfig and basicAuthConfig"]
    if "basicAuthConfig" in config:
        basic = config["basicAuthConfig"]
        return [] if basic.get("username") and basic.get("password") else [f"{prefix}.basicAuthConfig is incomplete"]
    oauth = config["oAuthConfig"]
    problems = check_url(oauth.get("authEndpoint", ""), f"{prefix}/oAuthConfig/authEndpoint")
    problems += _method(oauth.get("httpMethod"), f"{prefix}/oAuthConfig/httpMethod")
    client = oauth.get("clientParameters") or {}
    if not client.get("clientId") or not client.get("clientSecret"):
        problems.append(f"{prefix}/oAuthConfig/clientParameters needs clientId and clientSecret")
    return problems


class AuthProfiles:
    """createAuthProfile: profiles of an installation, kept in the sandbox's database."""

    def __init__(self, db: SandboxDatabase) -> None:
        self.db = db

    def create(self, installation_id: str, payload: dict[str, Any]) -> str:
        alias = payload.get("authProfileAliasId")
        problems = auth_config_problems(payload.get("authConfig"), "/createAuthProfile/input/authConfig")
        if alias is not None and not 1 <= len(alias) <= _ALIAS_MAX:
            problems.append(f"authProfileAliasId must be 1-{_ALIAS_MAX} characters")
        if problems:
            raise invalid_input(*problems)
        profile_id = alias or str(uuid.uuid4())
        if self.db.one("SELECT 1 FROM auth_profiles WHERE auth_profile_id = ?", profile_id) is not None:
            raise invalid_input(f"an auth profile {profile_id!r} exists")
        self.db.run(
            "INSERT INTO auth_profiles(auth_profile_id, installation_id, config, created_at) VALUES (?, ?, ?, ?)",
            profile_id,
            installation_id,
            json.dumps(payload["authConfig"]),
            time.time(),
        )
        return profile_id

    def update(self, installation_id: str, payload: dict[str, Any] | None) -> str:
        """updateAuthProfile (events-mutations-updateauthprofile): the profile's new ``authConfig``,
        used from the next delivery on (a delivery reads its profile each time). An id that is
        not the installation's is refused as deleteAuthProfile's invalid id is (AccessDeniedError);
        the update page shows no error of its own."""
        payload = payload or {}
        problems = auth_config_problems(payload.get("authConfig"), "/updateAuthProfile/input/authConfig")
        if problems:
            raise invalid_input(*problems)
        profile_id = str(payload["authProfileId"])
        self._owned(installation_id, profile_id)
        self.db.run(
            "UPDATE auth_profiles SET config = ? WHERE auth_profile_id = ? AND installation_id = ?",
            json.dumps(payload["authConfig"]),
            profile_id,
            installation_id,
        )
        return profile_id

    def delete(self, installation_id: str, profile_id: str) -> str:
        """deleteAuthProfile (events-mutations-deleteauthprofile): an unknown id (1-50 characters)
        is AccessDeniedError, as its "Invalid Auth Profile Id" example shows."""
        if not 1 <= len(profile_id) <= 50:
            raise invalid_input("authProfileId must be between 1 and 50 characters")
        self._owned(installation_id, profile_id)
        self.db.run(
            "DELETE FROM auth_profiles WHERE auth_profile_id = ? AND installation_id = ?", profile_id, installation_id
        )
        return profile_id

    def _owned(self, installation_id: str, profile_id: str) -> None:
        row = self.db.one(
            "SELECT 1 FROM auth_profiles WHERE auth_profile_id = ? AND installation_id = ?", profile_id, installation_id
        )
        if row is None:
            raise access_denied(f"no auth profile {profile_id!r} of this installation")

    def config(self, installation_id: str, profile_id: str) -> dict[str, Any]:
        row = self.db.one(
            "SELECT config FROM auth_profiles WHERE auth_profile_id = ? AND installation_id = ?",
            profile_id,
            installation_id,
        )
        if row is None:
            raise invalid_input(f"no auth profile {profile_id!r} of this installation")
        config: dict[str, Any] = json.loads(row["config"])
        return config


def webhook_destination(profiles: AuthProfiles, installation_id: str, webhook: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a ``webhook`` destination (its url and auth), or ValidationError."""
    prefix = "/createEventSubscription/input/destination/webhook"
    problems = check_url(webhook.get("url", ""), f"{prefix}/url")
    problems += _method(webhook.get("httpMethod") or webhook.get("method"), f"{prefix}/method")
    profile_id, inline = webhook.get("authProfileId"), webhook.get("authConfig")
    if profile_id and inline:
        problems.append(f"{prefix} takes authProfileId or authConfig, not both")
    elif inline is not None:
        problems += auth_config_problems(inline, f"{prefix}/authConfig")
    if problems:
        raise invalid_input(*problems)
    if profile_id:
        profiles.config(installation_id, profile_id)  # it must exist now; it is read again at delivery
    return {"url": webhook["url"], "authProfileId": profile_id, "authConfig": inline}


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryFailed) and exc.retry


def _raise_for(answer: httpx.Response, what: str) -> None:
    if answer.is_success:
        return
    retry = answer.status_code >= 500 or answer.status_code in (408, 429)
    raise DeliveryFailed(f"{what} answered HTTP {answer.status_code}", retry=retry)


class WebhookDelivery:
    """POSTs events to webhook destinations in the background, with backoff."""

    def __init__(self, db: SandboxDatabase, profiles: AuthProfiles, *, http: httpx.Client | None = None) -> None:
        self.db = db
        self.profiles = profiles
        self.http = http or httpx.Client(timeout=DELIVERY_TIMEOUT_S, trust_env=False)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook")
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()

    def submit(self, seq: int, event: dict[str, Any]) -> Future[None]:
        """Deliver ``event`` (an outgoing event of the event source with its ``webhook``) in the
        background; its ledger entry ``seq`` is updated with the outcome."""
        future = self._pool.submit(self._deliver_recorded, seq, event)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until every delivery submitted so far has finished; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            try:
                future.result(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return False
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
        self.http.close()

    def _deliver_recorded(self, seq: int, event: dict[str, Any]) -> None:
        ledger = event["ledger"]
        try:
            self.deliver(event)
        except DeliveryFailed as exc:
            ledger["error"] = str(exc)
        except Exception as exc:  # never lost silently: the ledger says what happened
            ledger["error"] = f"delivery failed ({type(exc).__name__})"
            log.exception("webhook delivery of %s failed", ledger["event_id"])
        else:
            ledger.update(deliveries=ledger["deliveries"] + 1, delivered=True, error="")
        self.db.update_ledger({seq: ledger})

    def deliver(self, event: dict[str, Any]) -> None:
        """One event to its webhook, retried with backoff while the failure may pass."""
        webhook = event["webhook"]
        body = event["entry"]["Detail"]
        attempts = Retrying(
            stop=stop_after_attempt(DELIVERY_ATTEMPTS),
            wait=wait_random_exponential(multiplier=DELIVERY_BACKOFF_S, max=DELIVERY_BACKOFF_MAX_S),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        for attempt in attempts:
            with attempt:
                headers = {"Content-Type": "application/json", **self._auth_header(event)}
                try:
                    answer = self.http.post(webhook["url"], content=body, headers=headers)
                except httpx.HTTPError as exc:
                    raise DeliveryFailed(f"the webhook did not answer ({type(exc).__name__})", retry=True) from None
                _raise_for(answer, "the webhook")

    def _auth_header(self, event: dict[str, Any]) -> dict[str, str]:
        webhook = event["webhook"]
        config = webhook.get("authConfig")
        if webhook.get("authProfileId"):  # read at each delivery: a rotated profile applies at once
            try:
                config = self.profiles.config(event["ledger"]["installation_id"], webhook["authProfileId"])
            except BwpError:
                raise DeliveryFailed(f"the auth profile {webhook['authProfileId']!r} is gone", retry=False) from None
        if not config:
            return {}
        if config.get("basicAuthConfig"):
            basic = config["basicAuthConfig"]
            credentials = httpx.BasicAuth(basic["username"], basic["password"])
            request = next(credentials.auth_flow(httpx.Request("POST", webhook["url"])))
            return {"Authorization": request.headers["Authorization"]}
        return {"Authorization": f"Bearer {self._access_token(config['oAuthConfig'])}"}

    def _access_token(self, oauth: dict[str, Any]) -> str:
        """A token from the auth endpoint: the client credentials grant (RFC 6749 4.4), the
        client authenticated with HTTP basic, plus the profile's body and header parameters."""
        parameters = oauth.get("httpParameters") or {}
        form = {"grant_type": "client_credentials"}
        form.update({pair["key"]: pair["value"] for pair in parameters.get("bodyParameters") or []})
        headers = {pair["key"]: pair["value"] for pair in parameters.get("headerParameters") or []}
        client = oauth["clientParameters"]
        try:
            answer = self.http.post(
                oauth["authEndpoint"],
                data=form,
                headers=headers,
                auth=(client["clientId"], client["clientSecret"]),
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"the auth endpoint did not answer ({type(exc).__name__})", retry=True) from None
        _raise_for(answer, "the auth endpoint")
        try:
            token = answer.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise DeliveryFailed("the auth endpoint answered no access_token", retry=False) from None
        return str(token)


def create_webhook_subscription(
    db: SandboxDatabase, profiles: AuthProfiles, installation_id: str, event_type: str, webhook: dict[str, Any]
) -> str:
    """createEventSubscription with a webhook destination: its id. The same event type to the
    same url again is ``SubscriptionAlreadyExists`` (troubleshoot-events)."""
    from ..core.graphql import SUBSCRIPTION_ALREADY_EXISTS

    destination = webhook_destination(profiles, installation_id, webhook)
    for row in db.all(
        "SELECT subscription_id, webhook FROM subscriptions WHERE installation_id = ? AND event_type = ? "
        "AND webhook IS NOT NULL",
        installation_id,
        event_type,
    ):
        if json.loads(row["webhook"])["url"] == destination["url"]:
            raise invalid_input(
                f"a subscription to {event_type} with this destination exists ({row['subscription_id']})",
                code=SUBSCRIPTION_ALREADY_EXISTS,
            )
    subscription_id = str(uuid.uuid4())
    db.run(
        "INSERT INTO subscriptions(subscription_id, installation_id, event_type, source_name, account, region, "
        "created_at, webhook) VALUES (?, ?, ?, '', '', '', ?, ?)",
        subscription_id,
        installation_id,
        event_type,
        time.time(),
        json.dumps(destination),
    )
    return subscription_id
