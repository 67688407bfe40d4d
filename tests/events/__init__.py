"""Buy with Prime events as the partner event bus delivers them (the SQS message body), one
file per shape and edge case. The handler tests feed them to the Lambda; the sandbox tests
check that the sandbox emits events of the same structure.

The files name the installation ``inst-sample-1`` and the business product
``bp-sample-0001``; :func:`body` puts the test's own in their place.

| file | what |
|---|---|
| ``order_confirmed_2024_11_01.json`` | 2024-11-01 with ``contextKeys.installationId`` |
| ``order_confirmed_2024_11_01_no_context_keys.json`` | 2024-11-01 as the public schema shows it |
| ``package_delivered_2024_01_01.json`` | thin 2024-01-01: ``detail`` is ``{}`` |
| ``return_started_legacy.json`` | the original workshop's partner shape |
| ``buyability_changed_2024_11_01_no_context_keys.json`` | an event without an order |
| ``new_event_type_2024_11_01.json`` | a type this code does not know, in the 2024-11-01 shape |
| ``new_event_type_unknown_detail.json`` | a type and a ``detail`` this code does not know |
| ``order_confirmed_uninstalled_installation.json`` | names an installation that has no token |
| ``unknown_business_product.json`` | no contextKeys, a business product no installation has |
| ``no_tenant.json`` | no contextKeys, no business product: no tenant |
| ``foreign_source.json`` | not a Buy with Prime source |
| ``not_json.txt`` | a body that is not JSON |
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent
INSTALLATION = "inst-sample-1"
#: The partner source of the samples (the handler under test accepts it, and only it).
SOURCE = "aws.partner/buywithprime/sample-events"
BUSINESS_PRODUCT = "bp-sample-0001"

#: The samples of each well-formed shape (the ones the sandbox emits too).
SHAPES = {
    "2024-11-01": "order_confirmed_2024_11_01.json",
    "2024-11-01 without contextKeys": "order_confirmed_2024_11_01_no_context_keys.json",
    "2024-01-01": "package_delivered_2024_01_01.json",
    "legacy": "return_started_legacy.json",
}
#: Samples that can never be recorded (dead-lettered on their first receive).
POISON = ("foreign_source.json", "not_json.txt", "no_tenant.json", "unknown_business_product.json")


def names() -> list[str]:
    return sorted(path.name for path in FOLDER.iterdir() if path.suffix in {".json", ".txt"})


def body(
    name: str, *, installation: str | None = None, business_product: str | None = None, fresh: bool = False
) -> str:
    """The sample's text with the test's installation and business product; ``fresh`` gives
    it new event and envelope ids (the same ids otherwise: a redelivery)."""
    text = (FOLDER / name).read_text()
    if installation:
        text = text.replace(INSTALLATION, installation)
    if business_product:
        text = text.replace(BUSINESS_PRODUCT, business_product)
    if fresh and name.endswith(".json"):
        value = json.loads(text)
        value["id"] = str(uuid.uuid4())
        if isinstance(value.get("detail"), dict) and "eventId" in value["detail"]:
            value["detail"]["eventId"] = f"evt-{uuid.uuid4()}"
        text = json.dumps(value)
    return text


def event(name: str, **options: Any) -> dict[str, Any]:
    return dict(json.loads(body(name, **options)))


def key(value: dict[str, Any]) -> str:
    """The data-table key of an event: ``detail.eventId``, else the envelope id."""
    detail = value.get("detail") or {}
    return str(detail.get("eventId") or value["id"])
