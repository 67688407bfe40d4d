"""cdk-nag's AWS Solutions checks on the workshop's stacks, and the one way to acknowledge a
finding: with the rule id (and finding id) and a written reason."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str, *findings: str) -> None:
    """Acknowledge ``rule_id`` on ``construct`` (and its children), or, when ``findings`` are
    given, each ``rule_id[finding]`` (rules like IAM5 report one finding per wildcard)."""
    if not reason.strip():
        raise ValueError(f"acknowledging {rule_id} needs a reason")
    pack = rule_id.split("-", 1)[0]  # findings are reported as "<pack>::<rule>[<finding>]"
    ids = [f"{pack}::{rule_id}[{finding}]" for finding in findings] or [f"{pack}::{rule_id}"]
    cdk.Validations.of(construct).acknowledge(*(cdk.Acknowledgment(id=rule, reason=reason) for rule in ids))


def add_checks(app: cdk.App) -> None:
    """Run cdk-nag's ``AwsSolutionsChecks`` on every stack of ``app`` when it synthesizes; an
    unacknowledged error fails the synth and is written to ``policy-validation-report.json``."""
    from cdk_nag import AwsSolutionsChecks

    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
