"""The token table's customer-managed key (``BWP_TOKEN_TABLE_KEY=customer``, security review
L2): off by default (DynamoDB's AWS-owned key, no key, roles unnamed); on, a rotating key whose
policy lets only the app's and the handler's roles (and the named users) use it, through
DynamoDB, both roles granted its use, and the templates still pass cdk-nag, cfn-lint and checkov."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bwp_workshop import names
from bwp_workshop.stacks.template_checks import check_templates
from bwp_workshop.stacks.token_key import USE_ACTIONS
from bwp_workshop.testing.checkout import CHECKOUT

from .conftest import Synthesized, only, policy_actions, resources, stack_settings, synthesize

NOTEBOOK_ROLE = "arn:aws:iam::123456789012:role/workshop-operator"


@pytest.fixture(scope="module")
def with_key(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    tmp = tmp_path_factory.mktemp("stacks-token-key")
    settings = stack_settings(
        tmp,
        target="aws",
        client_id="",
        client_secret="",
        token_table_key="customer",
        token_key_users=NOTEBOOK_ROLE,
    )
    return synthesize(settings, tmp / "cdk.out")


def _token_table(synthesized: Synthesized) -> dict:
    return only(synthesized, names.INFRA_STACK, "AWS::DynamoDB::Table", "TokenTable")["Properties"]


def _role(synthesized: Synthesized, stack: str, prefix: str) -> dict:
    return only(synthesized, stack, "AWS::IAM::Role", prefix)["Properties"]


def test_by_default_the_token_table_has_the_aws_owned_key(synthesized: Synthesized) -> None:
    assert resources(synthesized, names.INFRA_STACK, "AWS::KMS::Key") == {}
    assert "SSESpecification" not in _token_table(synthesized)
    assert "RoleName" not in _role(synthesized, names.ECS_STACK, "TaskRole")
    assert "RoleName" not in _role(synthesized, names.EVENT_STACK, "HandlerRole")
    for stack, role in ((names.ECS_STACK, "TaskRole"), (names.EVENT_STACK, "HandlerRole")):
        assert not [
            a for actions, _ in policy_actions(synthesized, stack, role) for a in actions if a.startswith("kms:")
        ]


def test_the_customer_key_encrypts_the_token_table_and_rotates(with_key: Synthesized) -> None:
    (key_id, key) = next(iter(resources(with_key, names.INFRA_STACK, "AWS::KMS::Key").items()))
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 7
    sse = _token_table(with_key)["SSESpecification"]
    assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS"
    assert key_id in json.dumps(sse["KMSMasterKeyId"])
    # the other tables keep the AWS-owned key: they hold ids and order facts, no credential
    assert (
        "SSESpecification"
        not in only(with_key, names.INFRA_STACK, "AWS::DynamoDB::Table", "BusinessProduct")["Properties"]
    )


def test_only_the_token_roles_may_use_the_key_and_only_through_dynamodb(with_key: Synthesized) -> None:
    (key,) = resources(with_key, names.INFRA_STACK, "AWS::KMS::Key").values()
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    assert set(statements) == {"Administration", "UseThroughDynamoDBByTheTokenRolesOnly"}
    admin = statements["Administration"]
    # administrators manage the key; none of them may encrypt or decrypt with it
    assert not set(admin["Action"]) & {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"}
    assert not [a for a in admin["Action"] if "*" in a]
    use = statements["UseThroughDynamoDBByTheTokenRolesOnly"]
    assert set(use["Action"]) == set(USE_ACTIONS)
    principals = json.dumps(use["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    assert len(use["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == 3
    assert f"role/{names.TASK_ROLE_NAME_PREFIX}-" in principals
    assert f"role/{names.HANDLER_ROLE_NAME_PREFIX}-" in principals
    assert NOTEBOOK_ROLE in principals
    assert "dynamodb." in json.dumps(use["Condition"]["StringEquals"]["kms:ViaService"])
    for statement in statements.values():
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}


def test_the_named_roles_are_the_ones_the_key_policy_names_and_are_granted_its_use(with_key: Synthesized) -> None:
    (key,) = resources(with_key, names.INFRA_STACK, "AWS::KMS::Key").values()
    (use,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Sid"].startswith("Use")]
    allowed = json.dumps(use["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    for stack, role, prefix in (
        (names.ECS_STACK, "TaskRole", names.TASK_ROLE_NAME_PREFIX),
        (names.EVENT_STACK, "HandlerRole", names.HANDLER_ROLE_NAME_PREFIX),
    ):
        name = json.dumps(_role(with_key, stack, role)["RoleName"])
        assert prefix in name and "AWS::Region" in name and "AWS::Region" in allowed
        kms = [
            (actions, resource)
            for actions, resource in policy_actions(with_key, stack, role)
            if "kms:Decrypt" in actions
        ]
        assert len(kms) == 1 and kms[0][0] == set(USE_ACTIONS)
        assert "TokenTableKey" in kms[0][1] or "ImportValue" in kms[0][1]  # that one key, not "*"
        assert kms[0][1] != '"*"'


def test_the_keyed_templates_pass_the_template_checks(with_key: Synthesized) -> None:
    """cdk-nag ran in the synth (an unacknowledged error fails it); cfn-lint and checkov here."""
    result = check_templates({"aws": with_key.outdir}, region=with_key.settings.region, project_dir=CHECKOUT)
    assert [f"{f.tool} {f.rule} {f.stack}/{f.resource}" for f in result.failures] == []
    assert isinstance(with_key.outdir, Path)
