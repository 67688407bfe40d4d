"""Who may put messages on EventStack's queues. The event handler trusts only what arrives
through EventBridge, so the queues' policies deny ``sqs:SendMessage`` to every principal of the
account whatever its identity policy allows, except:

- the stack's rule on the partner bus (EventBridge sends with ``aws:SourceArn`` = the rule);
- the webhook rule on the stack's webhook bus (:mod:`.webhook_bus`), which the app's task role
  alone may put events on;
- the test rule on the stack's test event bus, which carries the workshop's test events (source
  ``bwp-workshop.test-events``) the same way; the bus itself takes ``events:PutEvents`` only from
  the operator role;
- the operator role, which the notebooks and the CLI assume on aws to send test events and to
  move dead letters back to the event queue (a message move task sends as its caller);
- on the dead-letter queue, the handler's role (a record that can never succeed). SQS's own
  redrive after ``maxReceiveCount`` is a move inside SQS, not a ``SendMessage``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import names


def deny_other_senders(queue: sqs.Queue, *, source_arns: list[str], principal_arns: list[str]) -> None:
    """Deny ``sqs:SendMessage`` on ``queue`` to every principal, except a service sending for
    one of ``source_arns`` and the roles ``principal_arns`` (a caller's own request has no
    ``aws:SourceArn``, so ``ArnNotEquals`` holds for it)."""
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid="OnlyTheRuleSends",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["sqs:SendMessage"],
            resources=[queue.queue_arn],
            conditions={"ArnNotEquals": {"aws:SourceArn": source_arns, "aws:PrincipalArn": principal_arns}},
        )
    )


class EventSenders(Construct):
    """The test event bus and its rule, the operator role, and the queues' sender policies."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue: sqs.Queue,
        dead_letter_queue: sqs.Queue,
        rule: events.Rule,
        handler_role: iam.IRole,
        other_rules: tuple[events.Rule, ...] = (),
    ) -> None:
        super().__init__(scope, id_)
        self.operator_role = iam.Role(
            self,
            "OperatorRole",
            assumed_by=iam.AccountRootPrincipal(),
            description="Send test events through the test bus; move dead letters back to the event queue",
        )
        self.test_bus = events.EventBus(self, "TestEventBus", description="The workshop's test events")
        self.test_rule = events.Rule(
            self,
            "TestEvents",
            event_bus=self.test_bus,
            description="The workshop's test events (sent by the operator role) into the event queue",
            event_pattern=events.EventPattern(source=[names.TEST_EVENT_SOURCE]),
            targets=[targets.SqsQueue(queue, dead_letter_queue=dead_letter_queue)],
        )
        self.test_bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheOperatorSends",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["events:PutEvents"],
                resources=[self.test_bus.event_bus_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": [self.operator_role.role_arn]}},
            )
        )
        self.operator_role.add_to_policy(
            iam.PolicyStatement(actions=["events:PutEvents"], resources=[self.test_bus.event_bus_arn])
        )
        self.operator_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sqs:StartMessageMoveTask",
                    "sqs:ListMessageMoveTasks",
                    "sqs:CancelMessageMoveTask",
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                resources=[dead_letter_queue.queue_arn],
            )
        )
        self.operator_role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage", "sqs:GetQueueAttributes"], resources=[queue.queue_arn])
        )
        rules = [rule.rule_arn, self.test_rule.rule_arn, *(other.rule_arn for other in other_rules)]
        deny_other_senders(queue, source_arns=rules, principal_arns=[self.operator_role.role_arn])
        deny_other_senders(dead_letter_queue, source_arns=rules, principal_arns=[handler_role.role_arn])
        stack = cdk.Stack.of(self)
        cdk.CfnOutput(stack, names.OUT_OPERATOR_ROLE_ARN, value=self.operator_role.role_arn)
        cdk.CfnOutput(stack, names.OUT_TEST_EVENT_BUS, value=self.test_bus.event_bus_name)
