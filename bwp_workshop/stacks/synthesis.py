"""How stacks are synthesized for each target."""

from __future__ import annotations

import aws_cdk as cdk

from ..settings import Settings


def stack_synthesizer(settings: Settings) -> cdk.IStackSynthesizer:
    """The default synthesizer, minus the BootstrapVersion rule on the local target: that
    rule reads an SSM-typed parameter which moto cannot resolve when a stack is updated."""
    return cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=not settings.is_local)


def stack_environment(settings: Settings) -> cdk.Environment:
    """Account and region: the local target's fixed moto account, or whatever the CLI's
    credentials resolve to on aws."""
    from ..aws import LOCAL_ACCOUNT_ID

    if settings.is_local:
        return cdk.Environment(account=LOCAL_ACCOUNT_ID, region=settings.region)
    return cdk.Environment(account=cdk.Aws.ACCOUNT_ID, region=settings.region)
