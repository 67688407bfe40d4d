"""On aws the notebooks send test events and redrive as EventStack's operator role (the queue
and the test bus take messages from no one else): the role is assumed, in process against
moto's STS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from bwp_workshop import aws, names
from bwp_workshop.outputs import write_outputs
from bwp_workshop.settings import Settings
from bwp_workshop.steps.operator_role import operator_client


@pytest.fixture
def signed_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    aws.clear_cache()
    with mock_aws():
        yield
    aws.clear_cache()


def test_on_aws_the_operator_role_is_assumed(tmp_path: Path, signed_in: None) -> None:
    settings = Settings(target="aws", project_dir=tmp_path, state_dir=tmp_path / ".bwp")  # type: ignore[call-arg]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role_arn = boto3.client("iam").create_role(RoleName="operator", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    write_outputs(settings, {names.EVENT_STACK: {names.OUT_OPERATOR_ROLE_ARN: role_arn}})
    identity = operator_client("sts", settings).get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/operator/bwp-workshop-operator")


def test_without_an_operator_role_the_targets_own_client_is_used(tmp_path: Path, signed_in: None) -> None:
    settings = Settings(target="aws", project_dir=tmp_path, state_dir=tmp_path / ".bwp")  # type: ignore[call-arg]
    assert operator_client("sqs", settings) is aws.client("sqs", settings)
