"""Buy with Prime events as they arrive from EventBridge (the SQS message body is the
EventBridge envelope), in the ``detail`` shapes seen in the wild:

- ``2024-11-01``: ``detail`` is the webhook payload (``eventId``, ``idempotencyKey``,
  ``eventDescriptor``, ``resources``, ``eventTime``, ``data``...), with or without
  ``contextKeys.installationId`` (the public schema does not show it);
- ``2024-01-01``: ``detail`` is ``{}`` (a thin event: everything is in ``resources``);
- ``legacy`` (the partner format of the original workshop): ``detail.eventType`` and
  ``detail.contextKeys.installationId``;
- ``other``: any other ``detail`` object (an event type or version this code does not know
  yet): kept, read like the others.

The event type is taken from ``detail-type`` first, then ``detail.eventDescriptor``, then
``detail.eventType``. ``resources`` are paths ``businessProduct/<id>/`` followed by
alternating kind/id pairs (``order/<id>/refund/<id>``, ``items/<id>``...), parsed generically.
The tenant is ``detail.contextKeys.installationId`` when present; otherwise the consumer
resolves the ``businessProduct`` of ``resources`` (:mod:`.business_products`).

A body that is not JSON or not a well-formed Buy with Prime event raises
:class:`MalformedEvent`: such a record can never succeed, however often it is retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..names import PARTNER_SOURCE_PREFIX

SHAPE_2024_11 = "2024-11-01"
SHAPE_2024_01 = "2024-01-01"
SHAPE_LEGACY = "legacy"
SHAPE_OTHER = "other"

BUSINESS_PRODUCT = "businessProduct"
#: The longest id (event, envelope, installation, resource) and event type an event may carry.
MAX_ID_LENGTH = 256


class MalformedEvent(ValueError):
    """The record is not a usable Buy with Prime event; ``reason`` says why (it never quotes
    the record's content beyond short identifiers)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Resource:
    """One ``resources`` path: the business product and the kind/id pairs under it."""

    path: str
    business_product_id: str | None
    pairs: tuple[tuple[str, str], ...]

    def id_of(self, kind: str) -> str | None:
        for name, value in self.pairs:
            if name == kind:
                return value
        return None

    @property
    def kind(self) -> str | None:
        """The innermost kind (``refund`` for ``.../order/1/refund/2``)."""
        return self.pairs[-1][0] if self.pairs else None


def check_identifier(value: str, what: str) -> str:
    """``value`` when it is a usable identifier: at most :data:`MAX_ID_LENGTH` characters, all
    printable, valid Unicode (no lone surrogate); else :class:`MalformedEvent` naming ``what``."""
    if len(value) > MAX_ID_LENGTH:
        raise MalformedEvent(f"{what} is {len(value)} characters long (at most {MAX_ID_LENGTH})")
    if not value.isprintable():
        shown = value[:40].encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
        raise MalformedEvent(f"{what} {shown!r} holds characters that are not printable or not valid Unicode")
    return value


def parse_resource(path: str) -> Resource:
    """``businessProduct/bp-1/order/o-1/refund/r-1`` -> pairs ``(order, o-1), (refund, r-1)``."""
    if not isinstance(path, str) or not path.strip("/"):
        raise MalformedEvent("a resource is empty or not a string")
    segments = path.strip("/").split("/")
    for segment in segments:
        check_identifier(segment, "a resource segment")
    if len(segments) % 2 or any(not segment for segment in segments):
        raise MalformedEvent(f"resource {path[:120]!r} is not a sequence of kind/id pairs")
    pairs = tuple(zip(segments[0::2], segments[1::2], strict=True))
    business_product = None
    if pairs[0][0] == BUSINESS_PRODUCT:
        business_product = pairs[0][1]
        pairs = pairs[1:]
    return Resource(path=path, business_product_id=business_product, pairs=pairs)


@dataclass(frozen=True)
class BwpEvent:
    """What the consumer needs from one event, whatever its shape."""

    event_id: str
    envelope_id: str
    event_type: str
    event_time: str
    source: str
    installation_id: str | None
    shape: str
    resources: tuple[Resource, ...] = ()
    idempotency_key: str | None = None
    subscription_id: str | None = None
    #: Order id named by the legacy ``detail.orderIdentifier`` or the 2024-11-01
    #: ``detail.data.order`` snapshot, for events whose resources name none.
    detail_order_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)

    def id_of(self, kind: str) -> str | None:
        """The first id of ``kind`` (``order``, ``refund``, ``return``, ``delivery``, ``items``...)
        named by any resource."""
        for resource in self.resources:
            value = resource.id_of(kind)
            if value:
                return value
        return None

    @property
    def order_id(self) -> str | None:
        return self.id_of("order") or self.detail_order_id

    @property
    def business_product_id(self) -> str | None:
        for resource in self.resources:
            if resource.business_product_id:
                return resource.business_product_id
        return None

    def resource_ids(self) -> dict[str, str]:
        """Every kind named by the resources with its (first) id: ``{"order": ..., "refund": ...}``."""
        ids: dict[str, str] = {}
        for resource in self.resources:
            for kind, value in resource.pairs:
                ids.setdefault(kind, value)
        return ids


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _identifier(value: Any, what: str) -> str | None:
    """:func:`_text`, checked as an identifier (:func:`check_identifier`)."""
    text = _text(value)
    return check_identifier(text, what) if text is not None else None


def _nested(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def shape_of(detail: dict[str, Any]) -> str:
    if not detail:
        return SHAPE_2024_01
    if "eventDescriptor" in detail or "apiVersion" in detail or "idempotencyKey" in detail:
        return SHAPE_2024_11
    if "eventType" in detail:
        return SHAPE_LEGACY
    return SHAPE_OTHER


def load_body(body: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """The JSON object of an SQS message body. JSON nested too deep to read, or whose text is not
    valid Unicode (a lone surrogate such as ``\\ud800``, which no UTF-8 store can hold), is
    malformed: retrying cannot change it."""
    if isinstance(body, dict):
        value: Any = body
    else:
        try:
            value = json.loads(body)
        except RecursionError:
            raise MalformedEvent("the message body is JSON nested too deep to read") from None
        except (TypeError, ValueError):
            raise MalformedEvent("the message body is not JSON") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise MalformedEvent("the message body is JSON nested too deep to read") from None
    except UnicodeEncodeError:
        raise MalformedEvent("the message body holds text that is not valid Unicode (a lone surrogate)") from None
    if not isinstance(value, dict):
        raise MalformedEvent(f"the message body is JSON {type(value).__name__}, not an object")
    return value


def check_source(source: str | None, expected: tuple[str, ...] | None) -> str:
    """``source`` when it is one of ``expected`` exactly (the subscribed partner source, and the
    workshop's test source), or, with no ``expected``, any ``aws.partner/buywithprime/<name>``;
    else :class:`MalformedEvent`. A look-alike such as ``aws.partner/buywithprime-evil/x`` is
    never a Buy with Prime source."""
    shown = repr(str(source)[:80])
    if expected is not None:
        if source is None or source not in expected:
            raise MalformedEvent(f"not a Buy with Prime event (source {shown} is not the subscribed {expected[0]!r})")
        return source
    name = source.removeprefix(PARTNER_SOURCE_PREFIX + "/") if source else ""
    if source is None or name == source or not name:
        raise MalformedEvent(f"not a Buy with Prime event (source {shown} is not {PARTNER_SOURCE_PREFIX}/<name>)")
    return source


def parse_event(
    body: str | bytes | dict[str, Any],
    *,
    sources: tuple[str, ...] | None = None,
    require_installation: bool = False,
) -> BwpEvent:
    """The event in an SQS message body (an EventBridge envelope), or :class:`MalformedEvent`.

    ``sources``: the sources accepted, exactly (the event handler's ``BWP_EVENT_SOURCE`` and
    ``BWP_TEST_EVENT_SOURCE``); None accepts any Buy with Prime partner source (see
    :func:`check_source`). Ids and the event type must be identifiers
    (:func:`check_identifier`). Most events carry no installation id (their tenant is the
    ``businessProduct`` of their resources); with ``require_installation`` an event without
    ``contextKeys.installationId`` is malformed."""
    envelope = load_body(body)
    accepted = check_source(_text(envelope.get("source")), sources)
    envelope_id = _identifier(envelope.get("id"), "the envelope id")
    if envelope_id is None:
        raise MalformedEvent("the EventBridge envelope has no id")
    detail = envelope.get("detail", {})
    if detail is None:
        detail = {}
    if not isinstance(detail, dict):
        raise MalformedEvent(f"detail is {type(detail).__name__}, not an object")
    shape = shape_of(detail)

    event_type = _text(envelope.get("detail-type")) or _text(detail.get("eventDescriptor"))
    event_type = event_type or _text(detail.get("eventType"))
    if event_type is None:
        raise MalformedEvent("no event type (detail-type, detail.eventDescriptor and detail.eventType are empty)")
    check_identifier(event_type, "the event type")

    installation_id = _identifier(_nested(detail, "contextKeys", "installationId"), "the installation id")
    if installation_id is None and require_installation:
        raise MalformedEvent("the event carries no installation id (detail.contextKeys.installationId)")

    raw_resources = envelope.get("resources") or detail.get("resources") or []
    if not isinstance(raw_resources, list):
        raise MalformedEvent("resources is not a list")
    resources = tuple(parse_resource(path) for path in raw_resources)

    event_time = _text(envelope.get("time")) or _text(detail.get("eventTime"))
    if event_time is None:
        raise MalformedEvent("the event has no time")

    data = detail.get("data") if isinstance(detail.get("data"), dict) else {}
    detail_order = _identifier(_nested(detail, "orderIdentifier", "orderId"), "the order id") or _identifier(
        _nested(data, "order", "id"), "the order id"
    )
    return BwpEvent(
        event_id=_identifier(detail.get("eventId"), "the event id") or envelope_id,
        envelope_id=envelope_id,
        event_type=event_type,
        event_time=event_time,
        source=accepted,
        installation_id=installation_id,
        shape=shape,
        resources=resources,
        idempotency_key=_text(detail.get("idempotencyKey")),
        subscription_id=_text(detail.get("subscriptionId")),
        detail_order_id=detail_order,
        data=data or {},
    )
