"""createOrder (order-mutations-createorder, order-objects-createorderinput, best-practices-for-orders):
the order built from the input's line items, customer, aliases, links and total; its fulfilment
NOT_STARTED unless ``desiredExecutionState: STARTED`` (then one PENDING package, as updateOrder
starts it). Refused as ValidationError: more than five aliases or links, an alias another order of
the store already has (aliases are unique per store), no line item.

A line item names its product by ``sku`` (a product of the merchant's catalog: its ids and price
are used) or ``productId`` (kept as given). Fields the sandbox does not serve (discounts, payments,
shopper identity, delivery offers beyond their presence) are accepted and not kept.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from .api_errors import invalid_input
from .database import SandboxDatabase
from .merchants import iso, line_value, money

#: order-objects-createorderinput: at most five aliases and five order links.
MAX_ALIASES = 5
MAX_ORDER_LINKS = 5


def check(db: SandboxDatabase, merchant_id: str, request: dict[str, Any]) -> None:
    """What createOrder refuses, as ValidationError (nothing is stored)."""
    aliases = request.get("aliases") or []
    problems = []
    if len(aliases) > MAX_ALIASES:
        problems.append(f"/createOrder/input/aliases must have at most {MAX_ALIASES} items")
    if len(request.get("orderLinks") or []) > MAX_ORDER_LINKS:
        problems.append(f"/createOrder/input/orderLinks must have at most {MAX_ORDER_LINKS} items")
    if not request.get("lineItems"):
        problems.append("/createOrder/input/lineItems must have at least 1 item")
    pairs = [(alias["aliasType"], alias["aliasId"]) for alias in aliases]
    if len(set(pairs)) != len(pairs):
        problems.append("/createOrder/input/aliases must be unique")
    for alias_type, alias_id in set(pairs):
        if db.orders_by_alias(merchant_id, alias_type, alias_id) is not None:
            problems.append(f"an order of this store has the alias {alias_type} {alias_id!r}")
    if problems:
        raise invalid_input(*problems)


def _product(merchant: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    identifier = wanted.get("identifier") or {}
    sku = identifier.get("sku")
    known = next((p for p in merchant["products"] if sku and p["sku"]["value"] == sku), None)
    product: dict[str, Any] = {"title": wanted.get("title")}
    if known is not None:
        product.update(
            externalId=known["externalId"], amazonSku=known["amazonSku"], price=known["price"]["currentPrice"]
        )
    else:
        product.update(externalId=None, amazonSku=None)
    if wanted.get("price"):
        product["price"] = {"amount": float(wanted["price"]["amount"]), "currencyCode": wanted["price"]["currencyCode"]}
    if "price" not in product:
        raise invalid_input(f"line item {sku or identifier.get('productId')!r} needs a price (not a catalog sku)")
    return product


def build(merchant: dict[str, Any], request: dict[str, Any], rng: random.Random, now: float) -> dict[str, Any]:
    """The new order (not stored)."""
    when = iso(now)
    lines = [
        {
            "id": f"li-{uuid.UUID(int=rng.getrandbits(128), version=4).hex[:18]}",
            "createdAt": when,
            "amount": {"unit": "ONE", "value": float(item["amount"]["value"])},
            "product": _product(merchant, item["product"]),
        }
        for item in request["lineItems"]
    ]
    email = ((request.get("customer") or {}).get("contact") or {}).get("emailData") or {}
    total = (request.get("totalPrice") or {}).get("value")
    return {
        "id": f"order-{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "aliases": [dict(alias) for alias in request.get("aliases") or []],
        "metadata": {"createdAt": when, "updatedAt": when, "executionState": "NOT_STARTED"},
        "lineItems": lines,
        "totalPrice": {"value": dict(total) if total else money(sum(line_value(line) for line in lines))},
        "customer": {
            "contact": {
                "id": f"cust-{rng.getrandbits(64):016x}",
                "name": email.get("name"),
                "email": email.get("email"),
            }
        },
        "orderLinks": [dict(link) for link in request.get("orderLinks") or []],
        "packageInformation": {"details": []},
        "returns": {"details": []},
        "refunds": {"details": []},
    }
