"""The DynamoDB tables of the stacks, each made the same way: on-demand, with point-in-time
recovery, deleted with its stack (the workshop leaves nothing behind)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

STRING = dynamodb.AttributeType.STRING
NUMBER = dynamodb.AttributeType.NUMBER


def workshop_table(
    scope: Construct,
    id_: str,
    *,
    partition_key: str,
    sort_key: tuple[str, dynamodb.AttributeType] | None = None,
    time_to_live_attribute: str | None = None,
    encryption_key: kms.IKey | None = None,
) -> dynamodb.Table:
    """A table keyed by the string ``partition_key`` (and ``sort_key``: name and type),
    encrypted with DynamoDB's AWS-owned key, or with ``encryption_key``."""
    return dynamodb.Table(
        scope,
        id_,
        partition_key=dynamodb.Attribute(name=partition_key, type=STRING),
        sort_key=dynamodb.Attribute(name=sort_key[0], type=sort_key[1]) if sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=time_to_live_attribute,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED if encryption_key else None,
        encryption_key=encryption_key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
