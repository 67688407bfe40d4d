"""The sandbox's schema serves only what Buy with Prime documents: every type, field, argument
and input field names its page (``@page``) or, for the partner app model, its peer repository
(``@peer``); the shapes the pages contradict are gone."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from graphql import (
    DirectiveNode,
    InputObjectTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    UnionTypeDefinitionNode,
    parse,
)

from bwp_workshop.sandbox.resolvers import schema

SDL = resources.files("bwp_workshop.sandbox").joinpath("schema.graphql").read_text()
SLUG = re.compile(r"^(v\d{4}-\d{2}-\d{2}/)?[a-z0-9_]+(-[a-z0-9_]+)*$")
PEER = re.compile(r"^amzn/buy-with-prime-[a-z-]+:[\w./-]+$")


def _source(directives: tuple[DirectiveNode, ...]) -> str | None:
    """The ``@page`` slug or ``@peer`` source of a definition (None: it names none)."""
    for directive in directives:
        arguments = {argument.name.value: getattr(argument.value, "value", None) for argument in directive.arguments}
        if directive.name.value == "page" and SLUG.match(str(arguments.get("slug"))):
            return f"page {arguments['slug']}"
        if directive.name.value == "peer" and PEER.match(str(arguments.get("source"))):
            return f"peer {arguments['source']}"
    return None


def coordinates() -> dict[str, str | None]:
    """Every schema coordinate of the SDL (``Type``, ``Type.field``, ``Type.field(arg:)``) and
    its source."""
    found: dict[str, str | None] = {}
    for definition in parse(SDL).definitions:
        if isinstance(definition, ScalarTypeDefinitionNode | UnionTypeDefinitionNode):
            found[definition.name.value] = _source(definition.directives or ())
        if isinstance(definition, ObjectTypeDefinitionNode | InputObjectTypeDefinitionNode):
            name = definition.name.value
            found[name] = _source(definition.directives or ())
            for field in definition.fields or ():
                found[f"{name}.{field.name.value}"] = _source(field.directives or ())
                for argument in getattr(field, "arguments", None) or ():
                    found[f"{name}.{field.name.value}({argument.name.value}:)"] = _source(argument.directives or ())
    return found


def test_every_type_field_and_argument_names_its_source() -> None:
    found = coordinates()
    assert len(found) > 150  # the whole schema was walked
    assert [coordinate for coordinate, source in found.items() if source is None] == []


def test_the_walk_sees_a_field_without_a_source() -> None:
    page = '@page(slug: "sandbox-objects-order")'
    sdl = f"type Order {page} {{ id: ID! {page} status: String }}"
    order = parse(sdl).definitions[0]
    assert isinstance(order, ObjectTypeDefinitionNode)
    assert [_source(field.directives or ()) for field in order.fields or ()] == ["page sandbox-objects-order", None]


def test_the_schema_is_the_served_one() -> None:
    served = schema().type_map
    for coordinate in coordinates():
        type_name, _, field = coordinate.partition(".")
        assert type_name in served, coordinate
        if field and "(" not in field:
            assert field in served[type_name].fields, coordinate  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("coordinate", "why"),
    [
        ("Order.status", "no page shows it; the state is metadata.executionState (sandbox-objects-ordermetadata)"),
        ("Order.createdAt", "it is metadata.createdAt (sandbox-objects-order lists no createdAt)"),
        ("Order.updatedAt", "it is metadata.updatedAt"),
        ("LineItem.totalPrice", "sandbox-objects-lineitem lists every field, and not this one"),
        ("BuyWithPrimeStore.businessProductId", "neither the pages nor the peer repositories show it"),
        ("RefundDetails.reason", "the field is refundRequestReason (sandbox-objects-refunddetails)"),
        ("ReturnDetails.reason", "returns-objects-returndetails has no reason"),
        ("ReturnDetails.grade", "returns-objects-returndetails has no grade"),
        ("Query.products(filter:)", "its input type's page (ProductsInputFilter) was not read"),
        ("DeleteEventSubscriptionInput", "delete takes subscriptionId as an argument"),
    ],
)
def test_shapes_the_pages_contradict_are_not_served(coordinate: str, why: str) -> None:
    assert coordinate not in coordinates(), why


def test_money_fields_have_the_documented_nesting() -> None:
    served = schema().type_map
    assert str(served["OrderTotalSummary"].fields["value"].type) == "Money"  # type: ignore[union-attr]
    assert str(served["RefundTotal"].fields["totalAmount"].type) == "Money"  # type: ignore[union-attr]
    assert str(served["ReturnDetails"].fields["returnPackageDetails"].type) == "[ReturnPackageDetails!]"  # type: ignore[union-attr]
    assert str(served["Amount"].fields["value"].type) == "Decimal!"  # type: ignore[union-attr]
    assert served["EventSubscriptionDestination"].__class__.__name__ == "GraphQLUnionType"
