"""The webhook path into EventStack's queue.

Buy with Prime delivers a webhook subscription's events to the app (``POST /webhooks/events``),
which puts each on this bus. The partner source cannot be used for that: ``aws.`` sources are
AWS's own (PutEvents refuses them), and the partner bus carries its partner's events only. So
the app uses its own source, ``names.WEBHOOK_EVENT_SOURCE``, on a bus of the stack:

* the bus takes ``events:PutEvents`` only from the app's task role (a resource policy denies
  every other principal, whatever its identity policy allows);
* its one rule matches that source exactly and sends to the same queue (and dead-letter queue)
  as the partner bus's rule; the queue's policy lets these two rules (and the test rule) send
  and no one else (:mod:`.event_senders`);
* the event handler accepts the partner source and this one, exactly, and keys a record by the
  event's ``eventId``, so an event that comes both ways is stored once.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import names


def webhook_bus_arn(stack: cdk.Stack) -> str:
    """The webhook bus's ARN in ``stack``'s account and region (its name is fixed)."""
    return stack.format_arn(service="events", resource="event-bus", resource_name=names.WEBHOOK_EVENT_BUS)


class WebhookBus(Construct):
    """The webhook bus, its sender policy and its rule into the event queue."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        sender: iam.IRole,
    ) -> None:
        super().__init__(scope, id_)
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=names.WEBHOOK_EVENT_BUS,
            description="Buy with Prime events the app's webhook received",
        )
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheAppSends",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": [sender.role_arn]}},
            )
        )
        self.rule = events.Rule(
            self,
            "WebhookEvents",
            event_bus=self.bus,
            description="Buy with Prime events from the app's webhook into the event queue",
            event_pattern=events.EventPattern(source=[names.WEBHOOK_EVENT_SOURCE]),
            targets=[targets.SqsQueue(queue, dead_letter_queue=dead_letter_queue)],
        )
        cdk.CfnOutput(cdk.Stack.of(self), names.OUT_WEBHOOK_EVENT_BUS, value=self.bus.event_bus_name)
