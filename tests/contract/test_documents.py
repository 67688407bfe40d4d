"""Every GraphQL document the workshop sends (the event Lambda, the OAuth app, the notebooks'
steps, the test harness and the benchmarks) is valid against the sandbox's documented schema.
The documents are collected from the code itself, not typed out again here."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import GraphQLSyntaxError, OperationDefinitionNode, parse, validate

from bwp_workshop.sandbox.resolvers import schema

ROOT = Path(__file__).resolve().parents[2]
#: Where the code that calls Buy with Prime lives; the sandbox (which answers) is left out.
SENDERS = ("bwp_workshop", "oauth_app", "lambdas", "bench")
#: A named operation, or a shorthand query whose first field takes arguments or a selection (a
#: format placeholder such as ``"{name}"`` parses as GraphQL too, and asks nothing of the API).
_OPERATION = re.compile(r"^\s*(query|mutation)\b|^\s*\{[^{}]*[({]")


def documents() -> Iterator[tuple[str, str]]:
    """``(where, text)`` of every string constant in the senders' modules that parses as a
    GraphQL operation."""
    for folder in SENDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "sandbox" in path.relative_to(ROOT).parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and _OPERATION.match(node.value):
                    try:
                        parsed = parse(node.value)
                    except GraphQLSyntaxError:
                        continue
                    if any(isinstance(item, OperationDefinitionNode) for item in parsed.definitions):
                        yield f"{path.relative_to(ROOT)}:{node.lineno}", node.value


DOCUMENTS = list(documents())


def test_the_documents_are_found() -> None:
    names = {
        item.name.value
        for _, text in DOCUMENTS
        for item in parse(text).definitions
        if isinstance(item, OperationDefinitionNode) and item.name
    }
    # The calls the workshop cannot work without: the Lambda's, the app's, notebook 05's and 07's.
    assert {"BuyWithPrimeStore", "Order", "OrderDetails", "SubscriptionIds", "Subscription"} <= names
    assert {"Subscribe", "Unsubscribe"} <= names


@pytest.mark.parametrize(("where", "text"), DOCUMENTS, ids=[where for where, _ in DOCUMENTS])
def test_the_document_is_valid_against_the_documented_schema(where: str, text: str) -> None:
    assert [error.message for error in validate(schema(), parse(text))] == []


def test_an_undocumented_field_is_refused() -> None:
    errors = validate(schema(), parse('query { order(orderIdentifier: {orderId: "o"}) { id status } }'))
    assert [error.message for error in errors] == ["Cannot query field 'status' on type 'Order'."]
