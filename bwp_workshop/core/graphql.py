"""The Buy with Prime GraphQL API, as the partner app calls it: ``POST`` JSON with
``Authorization: Bearer``, ``x-api-version`` and, when the caller knows it, ``x-api-target-id``
(the business product), as call-the-buy-with-prime-api documents; plus
``X-Omni-InstallationId`` naming the installation, the partner app model's header (seen only in
the peer repository amzn/buy-with-prime-saas-integration, codes/event-handler/app/main.py).
Pages: documents.buywithprime.amazon.com/bwp-api/docs/<slug>.

Failures are classified so a caller knows whether a retry can help:

- network errors, timeouts, HTTP 429 and 5xx are transient;
- GraphQL ``errors[]`` (HTTP 200) are classified by ``extensions.classification.errorType``
  (or ``type``): throttling and internal/unavailable errors are transient; access denied,
  validation, not found, conflict (and anything unknown) are permanent. The classification's
  ``code`` (``DestinationNameAlreadyExists``...; troubleshoot-events) is kept on the error;
- any other HTTP status is permanent.

Transient failures are retried here with exponential backoff and full jitter, a few times,
before :class:`GraphQLError` is raised. Messages never contain the access token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from ..errors import CallFailed

#: call-the-buy-with-prime-api: the API version, and the business product called for.
VERSION_HEADER = "x-api-version"
TARGET_HEADER = "x-api-target-id"
#: The partner app model's installation header (peer: amzn/buy-with-prime-saas-integration).
INSTALLATION_HEADER = "X-Omni-InstallationId"
#: Error codes of ``createEventSubscription`` (troubleshoot-events): the partner event source
#: name is taken; a subscription to the same type and destination exists.
DESTINATION_NAME_ALREADY_EXISTS = "DestinationNameAlreadyExists"
SUBSCRIPTION_ALREADY_EXISTS = "SubscriptionAlreadyExists"

#: The installation's store: the partner app model's query (peer: amzn/buy-with-prime-saas-integration,
#: codes/api-test/test.py; no public page shows it).
STORE_QUERY = "query BuyWithPrimeStore { buyWithPrimeStore { siteId widgetId } }"
#: The order as the event handler reads it (the fields its records keep): order-queries-order
#: with the OrderIdentifierInput; Order (sandbox-objects-order) has ``metadata``
#: (sandbox-objects-ordermetadata), ``totalPrice`` (order-objects-ordertotalsummary) and
#: ``refunds`` (sandbox-objects-refunds: what a refund event's record keeps of its refund).
ORDER_QUERY = """query Order($orderIdentifier: OrderIdentifierInput!) {
  order(orderIdentifier: $orderIdentifier) {
    id
    metadata { executionState createdAt updatedAt }
    totalPrice { value { amount currencyCode } }
    lineItems { id }
    refunds { details { id state refundTotal { totalAmount { amount currencyCode } } } }
  }
}"""
#: The order as notebook 07 shows it: also its products, packages, returns and refunds, in the
#: pages' forms (order-queries-order, query-a-buy-with-prime-order).
ORDER_DETAILS_QUERY = """query OrderDetails($orderIdentifier: OrderIdentifierInput!) {
  order(orderIdentifier: $orderIdentifier) {
    id
    metadata { executionState createdAt updatedAt }
    totalPrice { value { amount currencyCode } }
    lineItems { id amount { unit value } product { externalId { value } price { amount currencyCode } } }
    packageInformation { details { id state } }
    returns { details { id state returnPackageDetails { id state } } }
    refunds { details { id state refundTotal { totalAmount { amount currencyCode } } } }
  }
}"""

#: The package tracker a PACKAGE_TRACKER_MILESTONE_CHANGED event names
#: (``businessProduct/<bp>/carrier/<carrierCode>/tracker/<trackingNumber>``,
#: package_tracker_milestone_changed): tracking-queries-packagetracker, the query that follows
#: such an event up (scope "View Package Tracking Milestone Changes").
PACKAGE_TRACKER_QUERY = """query PackageTracker($packageTrackerInput: PackageTrackerInput!) {
  packageTracker(packageTrackerInput: $packageTrackerInput) {
    packageTrackerIdentifier { trackingNumber carrierCode }
    latestMilestone { status { code } occurredAt }
  }
}"""

#: The event subscriptions, in the pages' own forms (documents.buywithprime.amazon.com/bwp-api/docs/):
#: query-event-subscriptions lists the ids, then gets each subscription; a destination is read
#: through its type (``... on EventBridgeData``); delete takes the id as a plain argument
#: (create-and-delete-event-subscriptions). Notebook 05, notebook 99 and the OAuth app (which
#: subscribes each merchant it installs) send them; see :mod:`bwp_workshop.core.event_subscriptions`.
#: events-queries-eventsubscriptions
SUBSCRIPTION_IDS_QUERY = """
query SubscriptionIds($after: String) {
  eventSubscriptions(first: 100, after: $after) {
    edges { node { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
#: events-queries-eventsubscription
SUBSCRIPTION_QUERY = """
query Subscription($subscriptionId: String!) {
  eventSubscription(subscriptionId: $subscriptionId) {
    subscriptionId
    targetId
    eventSubscriptionDetails { eventType destination { __typename ... on EventBridgeData { arn } } }
  }
}
"""
#: events-mutations-createeventsubscription
CREATE_SUBSCRIPTION = """
mutation Subscribe($input: CreateEventSubscriptionInput!) {
  createEventSubscription(input: $input) { subscriptionId }
}
"""
#: events-mutations-deleteeventsubscription
DELETE_SUBSCRIPTION = """
mutation Unsubscribe($subscriptionId: String!) {
  deleteEventSubscription(subscriptionId: $subscriptionId) { subscriptionId }
}
"""
#: A webhook destination's credentials (steps-to-subscribe-to-buy-with-prime-events-using-webhook-events):
#: events-mutations-createauthprofile, events-mutations-updateauthprofile (new credentials, or a new
#: auth endpoint, under the same id) and events-mutations-deleteauthprofile.
CREATE_AUTH_PROFILE = """
mutation CreateAuthProfile($input: CreateAuthProfileInput!) {
  createAuthProfile(input: $input) { authProfileId }
}
"""
UPDATE_AUTH_PROFILE = """
mutation UpdateAuthProfile($input: UpdateAuthProfileInput) {
  updateAuthProfile(input: $input) { authProfileId }
}
"""
DELETE_AUTH_PROFILE = """
mutation DeleteAuthProfile($authProfileId: String!) {
  deleteAuthProfile(authProfileId: $authProfileId) { authProfileId }
}
"""

_TRANSIENT_MARKERS = ("throttl", "toomanyrequests", "internalserver", "serviceunavailable", "timeout", "unavailable")


class GraphQLError(CallFailed):
    """A call failed (``transient``: see :class:`CallFailed`). ``error_type``: the API's
    classification (``AccessDeniedError``, ``ValidationError``...; its ``type``, else its
    ``errorType``), or ``http``/``network``/``timeout``. ``code``: the classification's
    ``code`` where the API names one (``SubscriptionAlreadyExists``...)."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        error_type: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message, transient=transient)
        self.error_type = error_type
        self.status = status
        self.code = code


def classify(error: Any) -> tuple[str, bool, str | None]:
    """``(error type, transient, code)`` of one entry of a GraphQL ``errors[]``."""
    classification = error.get("extensions", {}).get("classification", {}) if isinstance(error, dict) else {}
    if not isinstance(classification, dict):
        classification = {}
    error_type = str(classification.get("type") or classification.get("errorType") or "Unknown")
    key = f"{error_type} {classification.get('errorType', '')}".replace("_", "").lower()
    code = classification.get("code")
    return error_type, any(marker in key for marker in _TRANSIENT_MARKERS), str(code) if code else None


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, GraphQLError) and exc.transient


class GraphQLClient:
    """Client of one GraphQL endpoint. Thread-safe (one pooled ``httpx.Client``)."""

    def __init__(
        self,
        url: str,
        *,
        api_version: str = "",
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        attempts: int = 5,
        backoff: float = 0.05,
        max_wait: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.api_version = api_version
        self._http = http or httpx.Client(timeout=timeout, trust_env=False)
        self._attempts = attempts
        self._backoff = backoff
        self._max_wait = max_wait
        self._sleep = sleep
        self._lock = threading.Lock()
        #: HTTP round trips made and retries among them (for measurements).
        self.requests = 0
        self.retries = 0

    def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        access_token: str,
        installation_id: str,
        target_id: str | None = None,
        operation: str = "query",
    ) -> dict[str, Any]:
        """``data`` of a successful call; :class:`GraphQLError` otherwise. ``target_id``: the
        business product called for, when the caller knows it."""
        headers = {
            "Authorization": f"Bearer {access_token}",
            INSTALLATION_HEADER: installation_id,
            "Accept": "application/json",
        }
        if target_id:
            headers[TARGET_HEADER] = target_id
        if self.api_version:
            headers[VERSION_HEADER] = self.api_version
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_random_exponential(multiplier=self._backoff, max=self._max_wait),
            retry=retry_if_exception(_is_transient),
            sleep=self._sleep,
            before_sleep=lambda _state: self._count_retry(),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._post(payload, headers, operation)
        raise AssertionError("unreachable")  # pragma: no cover

    def _count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def _post(self, payload: dict[str, Any], headers: dict[str, str], operation: str) -> dict[str, Any]:
        with self._lock:
            self.requests += 1
        try:
            response = self._http.post(self.url, json=payload, headers=headers)
        except httpx.TimeoutException:
            raise GraphQLError(
                f"{operation}: the API did not answer in time", transient=True, error_type="timeout"
            ) from None
        except httpx.HTTPError as exc:
            raise GraphQLError(
                f"{operation}: the API could not be reached ({type(exc).__name__})",
                transient=True,
                error_type="network",
            ) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise GraphQLError(
                f"{operation}: the API answered HTTP {status}",
                transient=True,
                error_type="ThrottlingError" if status == 429 else "http",
                status=status,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if status != 200:
            raise GraphQLError(
                f"{operation}: the API answered HTTP {status}{_first_message(body)}",
                transient=False,
                error_type="http",
                status=status,
            )
        if not isinstance(body, dict):
            raise GraphQLError(f"{operation}: the API answered with a body that is not a JSON object", transient=False)
        errors = body.get("errors")
        if errors:
            classified = (
                [classify(error) for error in errors] if isinstance(errors, list) else [("Unknown", False, None)]
            )
            # All transient: worth a retry. Any permanent error makes the whole call permanent,
            # and names the call's error.
            transient = all(is_transient for _type, is_transient, _code in classified)
            error_type, _, code = next((c for c in classified if not c[1]), classified[0])
            raise GraphQLError(
                f"{operation}: {error_type}{f' {code}' if code and code != error_type else ''}{_first_message(body)}",
                transient=transient,
                error_type=error_type,
                status=200,
                code=code,
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise GraphQLError(f"{operation}: the API answered without data", transient=False, status=200)
        return data

    # --- the queries the event handler and the notebooks make ------------------------------
    def store(self, *, access_token: str, installation_id: str, target_id: str | None = None) -> dict[str, Any]:
        """``{"siteId": ..., "widgetId": ...}`` of the installation's store."""
        data = self.execute(
            STORE_QUERY,
            access_token=access_token,
            installation_id=installation_id,
            target_id=target_id,
            operation="buyWithPrimeStore",
        )
        store = data.get("buyWithPrimeStore")
        if not isinstance(store, dict):
            raise GraphQLError("buyWithPrimeStore: the API returned no store", transient=False)
        return store

    def order(
        self,
        order_id: str,
        *,
        access_token: str,
        installation_id: str,
        target_id: str | None = None,
        details: bool = False,
    ) -> dict[str, Any]:
        """The order's id, metadata (execution state, times), total price and line items
        (``details``: also its products, packages, returns and refunds)."""
        data = self.execute(
            ORDER_DETAILS_QUERY if details else ORDER_QUERY,
            {"orderIdentifier": {"orderId": order_id}},
            access_token=access_token,
            installation_id=installation_id,
            target_id=target_id,
            operation="order",
        )
        order = data.get("order")
        if not isinstance(order, dict):
            raise GraphQLError(f"order: the API returned no order {order_id}", transient=False)
        return order

    def package_tracker(
        self,
        carrier_code: str,
        tracking_number: str,
        *,
        access_token: str,
        installation_id: str,
        target_id: str | None = None,
    ) -> dict[str, Any] | None:
        """The package tracker's identifier and latest milestone (tracking-queries-packagetracker);
        None when the API knows no such tracker (it answers ``packageTracker: null``)."""
        identifier = {"carrierCode": carrier_code, "trackingNumber": tracking_number}
        data = self.execute(
            PACKAGE_TRACKER_QUERY,
            {"packageTrackerInput": {"packageTrackerIdentifier": identifier}},
            access_token=access_token,
            installation_id=installation_id,
            target_id=target_id,
            operation="packageTracker",
        )
        tracker = data.get("packageTracker")
        return tracker if isinstance(tracker, dict) else None


def _first_message(body: Any) -> str:
    """`` (first error message)``, shortened, when the body carries one."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = str(errors[0].get("message", ""))[:200]
            return f" ({message})" if message else ""
        if body.get("error"):
            return f" ({str(body.get('error'))[:100]})"
    return ""
