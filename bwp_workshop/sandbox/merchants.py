"""Seeded merchants with a business product, a store (site and widget ids), a small catalog
and an order history; and the orders the activity simulator places for them.

Products and orders are kept in the API's documented 2024-11-01 shapes (``schema.graphql``
names each type's page), so the GraphQL API serves them as they are; keys that start with
``_`` are the sandbox's own bookkeeping and are never served.

Everything is derived from a seeded ``random.Random``, so a fresh sandbox always holds the
same merchants and catalog.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

_STORES = ("Blue Heron Outfitters", "Cedar & Salt Kitchen", "Northwind Toys", "Lumen Lighting", "Quarry Coffee")
_PRODUCTS = (
    ("Trail Mug", 18.0),
    ("Canvas Tote", 24.0),
    ("Cast Iron Skillet", 49.5),
    ("Wool Socks (3 pack)", 21.0),
    ("Desk Lamp", 64.0),
    ("Pour-over Kettle", 39.99),
    ("Wooden Puzzle", 15.25),
    ("Linen Apron", 32.0),
)
_CUSTOMERS = ("Ada Byron", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra", "Radia Perlman")


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


#: The shape of the merchants and orders kept in the database; a database holding another is
#: re-seeded when the sandbox starts (its installations and subscriptions are kept).
DATA_SHAPE = "2024-11-01.2"


def money(amount: float) -> dict[str, Any]:
    """A Money (``{amount, currencyCode}``)."""
    return {"amount": round(amount, 2), "currencyCode": "USD"}


def localized(text: str) -> dict[str, Any]:
    """A LocalizedStringField in one locale."""
    return {"values": [{"value": text, "locale": "en-US"}], "defaultLocale": "en-US"}


def line_value(line: dict[str, Any]) -> float:
    """What a line item costs: its product's price times its amount."""
    return float(line["product"]["price"]["amount"]) * float(line["amount"]["value"])


def seed_merchants(count: int) -> list[dict[str, Any]]:
    """``count`` merchants, the same every time."""
    merchants = []
    for index in range(count):
        rng = random.Random(f"merchant-{index}")
        products = []
        for number, (title, price) in enumerate(rng.sample(_PRODUCTS, 5)):
            sku = f"SKU-{index + 1:02d}-{number + 1:03d}"
            products.append(
                {
                    "id": f"prod-{_uid(rng)[:13]}",
                    "sku": {"value": sku},
                    "externalId": {"value": f"ext-{index + 1:02d}-{number + 1:03d}"},
                    "amazonSku": {"value": f"AMZ{rng.randrange(10**9):09d}", "marketplaceId": "ATVPDKIKX0DER"},
                    "offerPrime": number != 4,
                    "title": localized(title),
                    "description": localized(f"{title} from {_STORES[index % len(_STORES)]}."),
                    "productDetailPageUrl": f"https://store{index + 1}.example.com/products/{sku.lower()}",
                    "image": {
                        "displayReadyUrl": f"https://store{index + 1}.example.com/img/{sku.lower()}.jpg",
                        "sourceUrl": f"https://store{index + 1}.example.com/src/{sku.lower()}.jpg",
                    },
                    "price": {"currentPrice": money(price)},
                    "advertisedPrice": {"currentPrice": money(price)},
                }
            )
        merchant = {
            "merchantId": f"merchant-{index + 1:02d}",
            "name": _STORES[index % len(_STORES)] + ("" if index < len(_STORES) else f" {index + 1}"),
            "businessProductId": f"bp-{_uid(rng)}",
            "siteId": f"site-{_uid(rng)[:18]}",
            "widgetId": f"widget-{_uid(rng)[:18]}",
            "products": products,
        }
        merchants.append(merchant)
    return merchants


def new_order(merchant: dict[str, Any], rng: random.Random, when: float | None = None) -> dict[str, Any]:
    """A new order of one to three of the merchant's products, its fulfilment not started yet
    (OrderMetadata.executionState NOT_STARTED: createOrder's default, best-practices-for-orders),
    with no package yet."""
    when = time.time() if when is None else when
    order_id = f"order-{_uid(rng)}"
    lines: list[dict[str, Any]] = []
    for product in rng.sample(merchant["products"], rng.randint(1, 3)):
        lines.append(
            {
                "id": f"li-{_uid(rng)[:18]}",
                "amount": {"unit": "ONE", "value": rng.randint(1, 3)},
                "product": {
                    "externalId": product["externalId"],
                    "amazonSku": product["amazonSku"],
                    "price": product["price"]["currentPrice"],
                },
            }
        )
    name = rng.choice(_CUSTOMERS)
    return {
        "id": order_id,
        "aliases": [{"aliasType": "EXTERNAL_ID", "aliasId": f"#{rng.randrange(10**6, 10**7)}"}],
        "metadata": {"createdAt": iso(when), "updatedAt": iso(when), "executionState": "NOT_STARTED"},
        "lineItems": lines,
        "totalPrice": {"value": money(sum(line_value(line) for line in lines))},
        "customer": {
            "contact": {
                "id": f"cust-{_uid(rng)[:18]}",
                "name": name,
                "email": name.lower().replace(" ", ".") + "@example.com",
            }
        },
        "packageInformation": {"details": []},
        "returns": {"details": []},
        "refunds": {"details": []},
    }
