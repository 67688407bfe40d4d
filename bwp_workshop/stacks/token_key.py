"""The token table's customer-managed KMS key, an option (``BWP_TOKEN_TABLE_KEY=customer``).

The token table holds every merchant's refresh token. DynamoDB always encrypts it at rest; with
this key, reading it also needs the key, whose policy lets only the OAuth app's task role, the
event handler's role (and the principals named in ``BWP_TOKEN_KEY_USERS``, such as the role the
notebooks run as) use it, through DynamoDB only, and leaves every use in CloudTrail. Account
administrators keep the key's administration (policy, rotation, deletion), not its use.

The two roles live in EcsStack and EventStack, which depend on InfraStack: the key policy
names them by ARN from their fixed names (:func:`role_name`), so InfraStack refers to no
resource of theirs. Their own policies get the key's use (:func:`grant_use`).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from .. import names

#: What DynamoDB asks KMS for on behalf of a principal that reads and writes the table.
USE_ACTIONS = (
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:DescribeKey",
)
#: What the account's administrators (and CloudFormation acting for them) may do with the key:
#: manage it, and let DynamoDB create its grant when the table is created; not encrypt or decrypt.
ADMIN_ACTIONS = (
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ListResourceTags",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)


def role_name(prefix: str) -> str:
    """A role's fixed name: ``prefix`` and the stack's region (IAM names are account-wide)."""
    return f"{prefix}-{cdk.Aws.REGION}"


def role_arn(prefix: str) -> str:
    return f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:role/{role_name(prefix)}"


def token_table_key(scope: Construct, *, users: list[str]) -> kms.Key:
    """The key, with rotation, deleted with the stack after KMS's shortest waiting period."""
    region_dynamodb = f"dynamodb.{cdk.Aws.REGION}.amazonaws.com"
    principals = [role_arn(names.TASK_ROLE_NAME_PREFIX), role_arn(names.HANDLER_ROLE_NAME_PREFIX), *users]
    policy = iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="Administration",
                principals=[iam.AccountRootPrincipal()],
                actions=list(ADMIN_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="UseThroughDynamoDBByTheTokenRolesOnly",
                principals=[iam.AccountRootPrincipal()],
                actions=list(USE_ACTIONS),
                resources=["*"],
                conditions={
                    "ArnEquals": {"aws:PrincipalArn": principals},
                    "StringEquals": {"kms:ViaService": region_dynamodb, "kms:CallerAccount": cdk.Aws.ACCOUNT_ID},
                },
            ),
        ]
    )
    return kms.Key(
        scope,
        "TokenTableKey",
        description="Token table: usable only by the OAuth app and the event handler, through DynamoDB",
        enable_key_rotation=True,
        policy=policy,
        pending_window=cdk.Duration.days(7),
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


def grant_use(role: iam.IRole, table: dynamodb.ITable) -> None:
    """``role``'s policy: the table's key (when it has a customer-managed one), through DynamoDB."""
    key = table.encryption_key
    if key is None:
        return
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=list(USE_ACTIONS),
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{cdk.Aws.REGION}.amazonaws.com"}},
        )
    )
