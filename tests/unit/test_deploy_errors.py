"""Turning cdk CLI output into errors that name the stack, the resource and the fix; stack
name handling. No processes."""

from __future__ import annotations

import pytest

from bwp_workshop import names
from bwp_workshop.deploy import stack_names
from bwp_workshop.deploy.cli_output import Progress, explain_failure
from bwp_workshop.errors import DeployError
from bwp_workshop.outputs import outputs_file
from bwp_workshop.settings import get_settings

# ruff: noqa: E501 (CLI output lines are long)

FAILED_RESOURCE = """\
InfraStack: deploying... [1/1]
InfraStack |  0/25 | 7:03:58 AM | CREATE_IN_PROGRESS   | AWS::CloudFormation::Stack | InfraStack User Initiated
InfraStack |  3/25 | 7:04:10 AM | CREATE_FAILED        | AWS::ECR::Repository | Repository (Repository22E53BBD) Resource handler returned message: "Repository bwp-saas-integration already exists"
InfraStack |  4/25 | 7:04:11 AM | ROLLBACK_IN_PROGRESS | AWS::CloudFormation::Stack | InfraStack
❌  InfraStack failed: Error: The stack named InfraStack failed creation
"""


def test_a_failed_resource_is_named_with_its_reason_and_fix() -> None:
    error = explain_failure("Deploy", ["InfraStack"], FAILED_RESOURCE, get_settings())
    assert error.stack == "InfraStack"
    assert error.resource == "Repository (AWS::ECR::Repository)"
    assert "Deploy of InfraStack failed at Repository (AWS::ECR::Repository)" in error.message
    assert "already exists" in error.message
    assert "bwp-saas-integration" in error.hint


@pytest.mark.parametrize(
    ("output", "cause", "hint"),
    [
        (
            "❌  EcsStack failed: EcsStack: SSM parameter /cdk-bootstrap/hnb659fds/version not found. "
            "Has the environment been bootstrapped? Please run 'cdk bootstrap'",
            "not bootstrapped",
            "bwp-workshop bootstrap",
        ),
        (
            "Unable to resolve AWS account to use. It must be either configured when you define your CDK Stack, "
            "or through the environment",
            "no valid AWS credentials",
            "aws sso login",
        ),
        (
            "This CDK CLI is not compatible with the CDK library used by your application. Please upgrade the CLI "
            "to the latest version. (Cloud assembly schema version mismatch: Maximum schema version supported is "
            "48.0.0, but found 55.0.0)",
            "older than the aws-cdk-lib",
            "make setup",
        ),
    ],
)
def test_known_causes_get_their_fix(output: str, cause: str, hint: str) -> None:
    error = explain_failure("Deploy", ["EcsStack"], output, get_settings(target="aws"))
    assert cause in error.message
    assert hint in error.hint
    assert error.stack == "EcsStack"


def test_an_unreachable_local_aws_says_to_start_it() -> None:
    error = explain_failure("Deploy", ["InfraStack"], "Error: connect ECONNREFUSED 127.0.0.1:4566", get_settings())
    assert "bwp-workshop local up" in error.hint


def test_an_unknown_failure_keeps_the_end_of_the_output() -> None:
    error = explain_failure("Destroy", ["EventStack"], "something odd\nthe last line", get_settings())
    assert error.stack == "EventStack"
    assert "the last line" in error.message
    assert "Likely cause" not in error.message


def test_stack_names_are_checked_and_ordered() -> None:
    assert stack_names("all") == list(names.STACKS)
    assert stack_names(None) == list(names.STACKS)
    assert stack_names("ecsstack") == ["EcsStack"]
    assert stack_names(["EventStack", "InfraStack"]) == ["InfraStack", "EventStack"]
    with pytest.raises(DeployError, match="Unknown stack Nope") as caught:
        stack_names("Nope")
    assert "InfraStack, EcsStack, EventStack" in caught.value.hint


def test_progress_follows_the_cli_event_lines() -> None:
    shown: list[str] = []
    progress = Progress(True, write=shown.append)
    progress("InfraStack |  3/25 | 7:04:10 AM | CREATE_COMPLETE      | AWS::EC2::VPC | Vpc (Vpc8378EB38)")
    assert progress.stacks["InfraStack"] == (3, 25)
    progress("InfraStack | 25/25 | 7:04:12 AM | CREATE_COMPLETE      | AWS::CloudFormation::Stack | InfraStack")
    progress("✅  InfraStack")
    assert progress.stacks["InfraStack"] == (25, 25)
    assert shown == ["✅  InfraStack"]
    Progress(False)("InfraStack |  3/25 | 7:04:10 AM | CREATE_COMPLETE | AWS::EC2::VPC | Vpc")  # shows nothing


def test_outputs_of_a_list_of_stacks_are_keyed_by_stack(tmp_path) -> None:
    import json

    from bwp_workshop import deploy

    settings = get_settings(state_dir=tmp_path / ".bwp")
    cached = {"InfraStack": {"TokenTableName": "tokens"}, "EventStack": {"DataTableName": "data"}}
    outputs_file(settings).parent.mkdir(parents=True)
    outputs_file(settings).write_text(json.dumps(cached))
    assert deploy.outputs(settings, ["EventStack", "infrastack"]) == cached
    assert deploy.outputs(settings, ("InfraStack",)) == {"InfraStack": {"TokenTableName": "tokens"}}
    assert deploy.outputs(settings, "InfraStack") == {"TokenTableName": "tokens"}
