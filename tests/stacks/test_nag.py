"""cdk-nag's AWS Solutions checks run on every synth of the app: no unacknowledged finding,
and every acknowledgment says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Synthesized


def _plugin(report: dict, name: str) -> dict:
    return next(plugin for plugin in report["pluginReports"] if plugin["pluginName"] == name)


def test_no_unacknowledged_aws_solutions_finding(synthesized: Synthesized) -> None:
    nag = _plugin(synthesized.report(), "AwsSolutions")
    assert nag["conclusion"] == "success"
    assert nag.get("violations", []) == []


def test_every_acknowledged_finding_has_a_reason(synthesized: Synthesized) -> None:
    acknowledged = _plugin(synthesized.report(), "AwsSolutions").get("suppressedViolations", [])
    assert acknowledged, "the report lists acknowledged findings"
    for finding in acknowledged:
        assert len(finding["reason"].strip()) > 30, finding["ruleName"]
    rules = {finding["ruleName"] for finding in acknowledged}
    # The accepted exceptions, each explained at its construct.
    assert rules == {
        "AwsSolutions-EC23",
        "AwsSolutions-ELB2",
        "AwsSolutions-ECS2",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-L1",
        # The image build project: no artifacts to encrypt; its role's read of the uploaded source
        # (CDK's grant on the asset bucket and that key) and the streams of its own log group.
        "AwsSolutions-CB4",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
        # The analytics store: its buckets log no server access (CloudTrail data events do); the
        # handler adds objects under the events prefix only.
        "AwsSolutions-S1",
        "AwsSolutions-IAM5[Resource::<AnalyticsBucketF3CB46A2.Arn>/events/*]",
        "AwsSolutions-IAM5[Action::s3:List*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:us-east-1:123456789012:log-group:"
        "/aws/codebuild/<ImageBuild30B7C98D>:*]",
    }


def test_an_unacknowledged_finding_fails_the_synth(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs

    from bwp_workshop.stacks import nag

    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    nag.add_checks(app)
    stack = cdk.Stack(app, "Unsafe")
    sqs.Queue(stack, "NoDeadLetterQueueNoTls")
    with pytest.raises(RuntimeError, match=r"ValidationFailed(.|\n)*AwsSolutions-SQS3"):
        app.synth()


def test_an_acknowledgment_needs_a_reason() -> None:
    import aws_cdk as cdk

    from bwp_workshop.stacks.nag import acknowledge

    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(cdk.App(), "AwsSolutions-SQS3", "  ")


def test_templates_pass_the_cdk_cloudformation_rule_set(tmp_path: Path) -> None:
    """The CDK's built-in CloudFormation validation (off in everyday synths for speed)."""
    import json

    from bwp_workshop.stacks.app import build_app

    from .conftest import stack_settings

    build_app(stack_settings(tmp_path), outdir=tmp_path / "cdk.out", validate_templates=True).synth()
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    validate = _plugin(report, "CloudFormation Validate")
    assert validate["conclusion"] == "success"
    assert validate.get("violations", []) == []


def test_the_checks_cover_the_three_stacks(synthesized: Synthesized) -> None:
    """Zero unacknowledged errors across InfraStack, EcsStack and EventStack: each of them is
    in the checked app (each has acknowledged findings in the report, so cdk-nag saw it)."""
    from bwp_workshop import names

    assert set(synthesized.raw) == set(names.STACKS)
    nag = _plugin(synthesized.report(), "AwsSolutions")
    assert [v for v in nag.get("violations", []) if v.get("severity") == "error"] == []
    seen = {
        construct["constructPath"].split("/", 1)[0]
        for finding in nag.get("suppressedViolations", [])
        for construct in finding.get("violatingConstructs", [])
    }
    assert seen == set(names.STACKS), seen
