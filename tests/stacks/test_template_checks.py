"""cfn-lint and checkov on every synthesized template, both targets: every finding fixed or
accepted with its reason in ``bwp_workshop/stacks/template_checks.yaml``, and no accepted rule
that is no longer found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bwp_workshop.stacks import template_checks
from bwp_workshop.stacks.template_checks import Acknowledgement, TemplateCheckError, check_templates
from bwp_workshop.testing.checkout import CHECKOUT

from .conftest import Synthesized


@pytest.fixture(scope="module")
def checked(synthesized: Synthesized, aws_synthesized: Synthesized) -> template_checks.CheckResult:
    result = check_templates(
        {"local": synthesized.outdir, "aws": aws_synthesized.outdir},
        region=synthesized.settings.region,
        project_dir=CHECKOUT,
    )
    print("\n" + result.table())
    return result


def test_every_finding_is_fixed_or_accepted_with_its_reason(checked: template_checks.CheckResult) -> None:
    assert [f"{f.tool} {f.rule} {f.target} {f.stack}/{f.resource}" for f in checked.failures] == []
    assert checked.unused == []
    checked.raise_for_failure()


def test_both_tools_ran_on_every_template_of_both_targets(
    checked: template_checks.CheckResult, synthesized: Synthesized, aws_synthesized: Synthesized
) -> None:
    assert set(aws_synthesized.raw) == set(synthesized.raw) == {"InfraStack", "EcsStack", "EventStack"}
    for tool in template_checks.TOOLS:
        for target in template_checks.TARGETS:
            stacks = {f.stack for f in checked.findings if (f.tool, f.target) == (tool, target)}
            # checkov finds something in each stack; cfn-lint only in those with accepted warnings
            assert stacks >= ({"InfraStack", "EcsStack", "EventStack"} if tool == "checkov" else {"EventStack"})


def test_no_cfn_lint_error_on_either_target(checked: template_checks.CheckResult) -> None:
    assert [f for f in checked.findings if f.tool == "cfn-lint" and f.rule.startswith("E")] == []


def test_the_fixed_findings_stay_fixed(checked: template_checks.CheckResult) -> None:
    found = {(f.rule, f.target) for f in checked.findings}
    assert ("W3010", "aws") not in found  # zones from Fn::GetAZs on aws
    assert not {rule for rule, _ in found} & {"CKV_AWS_51"}  # immutable image tags


def test_aws_zones_come_from_the_region_and_local_zones_are_named(
    synthesized: Synthesized, aws_synthesized: Synthesized
) -> None:
    def zones(raw: dict) -> list[object]:
        subnets = [r for r in raw["InfraStack"]["Resources"].values() if r["Type"] == "AWS::EC2::Subnet"]
        return [subnet["Properties"]["AvailabilityZone"] for subnet in subnets]

    aws_zones = zones(aws_synthesized.raw)
    assert len(aws_zones) == 4 and all("Fn::Select" in zone for zone in aws_zones)
    assert {json.dumps(zone["Fn::Select"][1]) for zone in aws_zones} == {json.dumps({"Fn::GetAZs": ""})}
    assert sorted(set(zones(synthesized.raw))) == ["us-east-1a", "us-east-1b"]


def test_every_accepted_rule_has_a_reason_and_known_targets() -> None:
    acknowledged = template_checks.load_acknowledgements()
    assert acknowledged
    for entry in acknowledged.values():
        assert len(entry.reason) >= template_checks.MIN_REASON
        assert set(entry.targets) <= set(template_checks.TARGETS)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("checkov:\n  CKV_AWS_27: {reason: short}\n", "needs a reason"),
        ("cfn-lint:\n  E3001: {reason: " + "x" * 40 + "}\n", "is an error"),
        ("checkov:\n  CKV_AWS_27: {reason: " + "x" * 40 + ", targets: [prod]}\n", "targets"),
        ("tfsec:\n  X: {reason: " + "x" * 40 + "}\n", "unknown tool"),
    ],
)
def test_a_malformed_list_is_refused(text: str, match: str, tmp_path: Path) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    with pytest.raises(TemplateCheckError, match=match):
        template_checks.load_acknowledgements(path)


def test_an_unaccepted_finding_and_a_stale_entry_fail(tmp_path: Path) -> None:
    assembly = tmp_path / "cdk.out"
    assembly.mkdir()
    template = {
        "Resources": {
            "Plain": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": "vpc-0123456789abcdef0",
                    "CidrBlock": "10.0.0.0/24",
                    "AvailabilityZone": "us-east-1a",
                },
            },
        }
    }
    (assembly / "Unsafe.template.json").write_text(json.dumps(template))
    stale = Acknowledgement("cfn-lint", "W3005", "an accepted rule that this template never triggers")
    result = check_templates(
        {"aws": assembly},
        region="us-east-1",
        project_dir=CHECKOUT,
        acknowledgements={("cfn-lint", "W3005"): stale},
    )
    failing = {(f.tool, f.rule, f.resource) for f in result.failures}
    assert ("cfn-lint", "W3010", "Subnet") in failing
    assert ("checkov", "CKV_AWS_27", "Plain") in failing
    assert result.unused == [("cfn-lint", "W3005", "aws")]
    with pytest.raises(TemplateCheckError, match=r"(?s)CKV_AWS_27 on aws: Unsafe/Plain.*W3005 on aws: listed"):
        result.raise_for_failure()


def test_without_checkov_the_error_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("BWP_CHECKOV", raising=False)
    with pytest.raises(TemplateCheckError, match="checkov is not installed") as error:
        template_checks.checkov_executable(tmp_path)
    assert "make setup" in error.value.hint
