"""EventBridge as the partner event bus and the event rule use it.

moto 5.2.5 reads an event bus name or ARN as its last ``/`` segment, so a partner bus
(``aws.partner/buywithprime/<name>``, created under its full name) is not found by a rule
(CloudFormation's ``AWS::Events::Rule`` included), by ``PutEvents`` or by ``DescribeEventBus``.
``DescribeEventSource`` and ``DescribePartnerEventSource`` of a missing source answer 500
(a KeyError) instead of ``ResourceNotFoundException``. A CloudFormation ``Ref`` to an
``AWS::Events::EventBus`` gave the bus object instead of its name (moto's bus has no physical
id), so a rule on a bus of the same stack failed and left the stack half made.
"""

from __future__ import annotations

from typing import Any

from moto.events import models as events_models

from .patch import Patch


def _event_bus_name(self: Any, event_bus_arn: str | None) -> str:
    """The bus name in a name or ARN, as EventBridge reads it: everything after ``event-bus/``."""
    if not event_bus_arn:
        return "default"
    marker = ":event-bus/"
    return event_bus_arn.split(marker, 1)[1] if marker in event_bus_arn else event_bus_arn


def _bus_physical_id(self: Any) -> str:
    """What CloudFormation's ``Ref`` of an event bus gives: its name."""
    return str(self.name)


def _wrap_describe_source(original: Any) -> Any:
    def describe(self: Any, name: str) -> Any:
        try:
            return original(self, name)
        except KeyError:
            raise events_models.ResourceNotFoundException(f"Event source {name} does not exist.") from None

    return describe


PATCHES = (
    Patch(
        events_models.EventsBackend,
        "_normalize_event_bus_arn",
        "event bus names and ARNs are read whole, so partner buses (names with '/') are found",
        guard="tests/local/test_moto_patches.py::test_a_partner_bus_routes_its_events_by_its_full_name",
        replacement=_event_bus_name,
        uses=((events_models.EventsBackend, "_get_event_bus"),),
    ),
    Patch(
        events_models.EventBus,
        "physical_resource_id",
        "a CloudFormation Ref to an event bus gives its name (a rule on a bus of the same stack works)",
        guard="tests/local/test_moto_patches.py::test_a_bus_of_the_stack_carries_rules_and_a_bus_policy",
        replacement=property(_bus_physical_id),
        adds=True,
    ),
    *(
        Patch(
            events_models.EventsBackend,
            method,
            f"{action} of a missing event source answers ResourceNotFoundException",
            guard="tests/local/test_moto_fixes_for_stacks.py::test_a_missing_event_source_is_not_found",
            wrapper=_wrap_describe_source,
            uses=((events_models, "ResourceNotFoundException"),),
        )
        for method, action in (
            ("describe_event_source", "DescribeEventSource"),
            ("describe_partner_event_source", "DescribePartnerEventSource"),
        )
    ),
)
