"""The request and response examples of Buy with Prime's API pages (``examples/``, one per file,
each with its page) sent to the sandbox unchanged, with the documented headers
(call-the-buy-with-prime-api: ``Authorization: Bearer``, ``x-api-target-id``,
``x-api-version``). Each answer has the documented shape: the same keys, the same JSON types
and the same error classification; values may differ. ``given`` in a file is the state the
example assumes (its subscription, order or product ids); ``differences`` lists where a page
contradicts itself, with why."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from bwp_workshop.core.graphql import TARGET_HEADER, VERSION_HEADER
from bwp_workshop.sandbox.merchants import new_order
from bwp_workshop.sandbox.shared import Sandbox
from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import new_flow

EXAMPLES = sorted((Path(__file__).parent / "examples").glob("*.json"))
SOURCE = "aws.partner/buywithprime/BuyWithPrimeEventSource"


def shape(value: Any, path: str = "", skip: frozenset[str] = frozenset()) -> Any:
    """The JSON shape of ``value``: keys kept, scalars replaced by their JSON type, lists by the
    shape of their items; paths in ``skip`` (``a.b[].c``) and nulls compare equal to anything."""
    if path in skip or value is None:
        return "any"
    if isinstance(value, dict):
        return {key: shape(item, f"{path}.{key}".lstrip("."), skip) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item, f"{path}[]", skip) for item in value[:1]]
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else type(value).__name__


def same_shape(documented: Any, answered: Any) -> bool:
    """``answered`` has ``documented``'s shape ("any" matches every value; an empty list on
    either side matches any list)."""
    if documented == "any" or answered == "any":
        return True
    if isinstance(documented, dict) and isinstance(answered, dict):
        return documented.keys() == answered.keys() and all(same_shape(documented[k], answered[k]) for k in documented)
    if isinstance(documented, list) and isinstance(answered, list):
        return not documented or not answered or same_shape(documented[0], answered[0])
    return bool(documented == answered)


def arrange(sandbox: Sandbox, installation_id: str, given: dict[str, Any]) -> None:
    """Make the sandbox hold what an example assumes."""
    db = sandbox.db
    installation = sandbox.installation(installation_id)
    merchant = sandbox.merchant(installation["merchant_id"])
    for number, subscription in enumerate(given.get("subscriptions", [])):
        db.run(
            "INSERT INTO subscriptions(subscription_id, installation_id, event_type, source_name, account, region, "
            "created_at) VALUES (?, ?, ?, ?, '919191919191', 'us-east-1', ?)",
            subscription["subscriptionId"], installation_id, subscription["eventType"], SOURCE, float(number),
        )  # fmt: skip
    for profile in given.get("authProfiles", []):
        db.run(
            "INSERT INTO auth_profiles(auth_profile_id, installation_id, config, created_at) VALUES (?, ?, ?, 0)",
            profile["authProfileId"], installation_id, json.dumps(profile["authConfig"]),
        )  # fmt: skip
    for wanted in given.get("orders", []):
        order = {**new_order(merchant, random.Random(wanted["id"])), **wanted}
        db.save_order(merchant["merchantId"], order)
    for number, wanted in enumerate(given.get("products", [])):
        product = merchant["products"][number]
        product["sku"]["value"] = wanted["sku"]
        product["externalId"]["value"] = wanted["externalId"]
        product["amazonSku"]["value"] = wanted["amazonSku"]
        db.run("UPDATE merchants SET data = ? WHERE merchant_id = ?", json.dumps(merchant), merchant["merchantId"])


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_the_documented_example_gets_the_documented_answer(
    path: Path, sandbox_app: SandboxHandle, events_in_process: None
) -> None:
    example = json.loads(path.read_text())
    flow = new_flow(sandbox_app)
    tokens = flow.tokens()
    sandbox: Sandbox = sandbox_app.app.state.sandbox
    arrange(sandbox, tokens["installation_id"], example["given"])
    merchant = sandbox.merchant(sandbox.installation(tokens["installation_id"])["merchant_id"])
    headers = {
        "Authorization": f"Bearer {tokens['access_token']}",
        TARGET_HEADER: merchant["businessProductId"],
        VERSION_HEADER: "2024-11-01",
    }
    response = flow.http.post("/graphql", json=example["request"], headers=headers)
    assert response.status_code == 200, response.text
    skip = frozenset(difference["path"] for difference in example.get("differences", []))
    documented, answered = shape(example["response"], skip=skip), shape(response.json(), skip=skip)
    assert same_shape(documented, answered), f"{example['page']} ({example['title']}):\n{documented}\n{answered}"
    errors = response.json().get("errors", [])
    for documented_error, error in zip(example["response"].get("errors", []), errors, strict=True):
        assert error["extensions"]["classification"] == documented_error["extensions"]["classification"]
        assert error["path"] == documented_error["path"]


def test_every_example_names_its_page_and_what_it_assumes() -> None:
    assert len(EXAMPLES) >= 15
    for path in EXAMPLES:
        example = json.loads(path.read_text())
        assert example["page"].startswith("https://documents.buywithprime.amazon.com/bwp-api/"), path.name
        assert "/docs/" in example["page"], path.name
        assert path.name.startswith(example["page"].rsplit("/", 1)[1] + "__"), path.name
        assert {"given", "request", "response"} <= example.keys(), path.name
        assert example["version"] == "2024-11-01" or example.get("sent_as_2024_11_01"), path.name


def test_the_shape_comparison_sees_a_missing_key_and_a_wrong_type() -> None:
    documented = shape({"data": {"order": {"id": "o", "metadata": {"executionState": "STARTED"}}}})
    assert same_shape(
        documented, shape({"data": {"order": {"id": "x", "metadata": {"executionState": "NOT_STARTED"}}}})
    )
    assert not same_shape(documented, shape({"data": {"order": {"id": "x"}}}))
    assert not same_shape(documented, shape({"data": {"order": {"id": 1, "metadata": {"executionState": "S"}}}}))
